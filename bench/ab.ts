/**
 * `npm run bench:ab -- [--write] [--rounds N] [--seconds S] DIR DIR…`: GET
 * current (10 KB, env-key) of several builds side by side, in alternating
 * rounds, with bare Fastify's hello-world measured in each round; with
 * `--write`, 10 KB writes of 8 connections to one stack instead (no
 * baseline: the builds are compared with one another). Each DIR is a
 * checkout compiled with `npx tsc -p .` (as `npm test` and `npm run bench`
 * compile it; its `dist/bench/target.js` is started), e.g. a `git worktree`
 * of the commit before a change next to this one. On a shared host the load moves between minutes, so a change is
 * judged by rounds that alternate the builds, not by two runs of
 * `npm run bench`. Load: autocannon, 10 connections, in a process of its
 * own; server CPU per request from /proc. Prints each round and the medians.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { unobinDoc } from './documents.js'
import { type PostLoad, type Target, externalCannon, startTarget, stop } from './processes.js'

const USAGE =
  'usage: npm run bench:ab -- [--write] [--rounds N] [--seconds S] DIR DIR…  (each DIR a checkout compiled with npx tsc -p .)'

interface Figures {
  rps: number
  cpuUs: number
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      write: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '4' },
    },
    allowPositionals: true,
  })
  const rounds = Number(values.rounds)
  const seconds = Number(values.seconds)
  if (positionals.length === 0 || !(rounds >= 1) || !(seconds >= 1)) throw new Error(USAGE)
  const builds = positionals.map((dir) => ({ dir, target: join(resolve(dir), 'dist', 'bench', 'target.js') }))
  const work = await mkdtemp(join(tmpdir(), 'unobin-ab-'))
  const bodyFile = join(work, 'body-10k.json')
  await writeFile(bodyFile, unobinDoc(10 * 1024, 2))
  const write = values.write === true
  const hello: Figures[] = []
  const current = builds.map((): Figures[] => [])
  try {
    for (let round = 1; round <= rounds; round++) {
      if (!write) hello.push(await measure(await startTarget('bare', '', builds[0]!.target), '/hello'))
      for (const [i, build] of builds.entries()) {
        const dataDir = join(work, `r${round}-${i}`)
        const app = await startTarget('app', dataDir, build.target)
        if (write) {
          current[i]!.push(
            await measure(app, '/v1/factories/bench/stacks/shared/snapshots', { bodyFile, connections: 8 }),
          )
          continue
        }
        const res = await fetch(`${app.url}/v1/factories/bench/stacks/small/snapshots?current=true`, {
          method: 'POST',
          body: unobinDoc(10 * 1024, 1),
        })
        if (res.status !== 201) throw new Error(`${build.dir}: seeding answered ${res.status} ${await res.text()}`)
        current[i]!.push(await measure(app, '/v1/factories/bench/stacks/small/current'))
      }
      const cells = [
        ...(write ? [] : [`hello-world ${show(hello.at(-1)!)}`]),
        ...builds.map((b, i) => `${b.dir} ${show(current[i]!.at(-1)!)}`),
      ]
      process.stdout.write(`round ${round}: ${cells.join(' | ')}\n`)
    }
    if (write) process.stdout.write(`medians over ${rounds} rounds:\n`)
    else {
      process.stdout.write(`medians over ${rounds} rounds (ratios to hello-world of the same round):\n`)
      process.stdout.write(
        `  hello-world ${show({ rps: median(hello.map((h) => h.rps)), cpuUs: median(hello.map((h) => h.cpuUs)) })}\n`,
      )
    }
    for (const [i, build] of builds.entries()) {
      const runs = current[i]!
      const rps = median(runs.map((r) => r.rps))
      const cpuUs = median(runs.map((r) => r.cpuUs))
      if (write) {
        process.stdout.write(`  ${build.dir} ${show({ rps, cpuUs })}\n`)
        continue
      }
      const rpsRatio = median(runs.map((r, k) => r.rps / hello[k]!.rps))
      const cpuRatio = median(runs.map((r, k) => hello[k]!.cpuUs / r.cpuUs))
      process.stdout.write(
        `  ${build.dir} ${show({ rps, cpuUs })}, ratio ${rpsRatio.toFixed(2)}× in req/s, ${cpuRatio.toFixed(2)}× in CPU per request\n`,
      )
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }

  async function measure(target: Target, path: string, post?: PostLoad): Promise<Figures> {
    try {
      return await externalCannon(`${target.url}${path}`, target, seconds, post)
    } finally {
      await stop(target)
    }
  }
}

function show(f: Figures): string {
  return `${Math.round(f.rps)} req/s, ${f.cpuUs.toFixed(1)} µs`
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
