/**
 * The diff scenario of `npm run bench` (also alone: `BENCH_ONLY=diff`): two
 * Terraform states of about 10 MB each that differ in 1% of their resource
 * instances, diffed through `GET …/diff` by a server process that has just
 * started (its snapshot cache cold, so the time includes reading and opening
 * both revs). Targets: at most 1 s, and server memory growth (peak RSS during
 * the diff minus RSS before it) at most 5× the two documents.
 */

/** What the scenario needs from the bench runner (its process helpers). */
export interface DiffBenchDeps {
  startTarget(mode: 'app', dataDir: string): Promise<{ url: string; child: { pid?: number | undefined } }>
  stop(target: { url: string; child: unknown }): Promise<void>
  rssKb(pid: number): Promise<number>
  rssPeakKb(pid: number): Promise<number>
  fetchOk(url: string, init?: RequestInit): Promise<Response>
}

/** The figures of one run. */
export interface DiffFigures {
  readonly documentBytes: number
  readonly resources: number
  readonly changed: number
  readonly coldMs: number
  readonly warmMs: number
  readonly growthKb: number
}

const TARGET_BYTES = 10 * 1024 * 1024

/** One resource instance of the generated states; `large` is the attribute that differs. */
function resource(i: number, large: boolean): unknown {
  return {
    mode: 'managed',
    type: 'aws_instance',
    name: `web_${i}`,
    provider: 'provider["registry.terraform.io/hashicorp/aws"]',
    instances: [
      {
        schema_version: 1,
        attributes: {
          id: `i-${i.toString(16).padStart(17, '0')}`,
          ami: 'ami-0abcdef1234567890',
          instance_type: large ? 't3.large' : 't3.small',
          tags: { Name: `web-${i}`, team: 'core', env: 'prod' },
          user_data: `#!/bin/sh\n${'echo configuring this instance; '.repeat(24)}`,
          password: `secret-${i}`,
        },
        sensitive_attributes: [[{ type: 'get_attr', value: 'password' }]],
      },
    ],
  }
}

/** A state of about 10 MB with `count` resources; those in `changed` have the other instance type. */
function state(count: number, serial: number, changed: ReadonlySet<number>): Buffer {
  const resources = Array.from({ length: count }, (_, i) => resource(i, changed.has(i)))
  return Buffer.from(
    `${JSON.stringify({ version: 4, terraform_version: '1.9.0', serial, lineage: 'bench-diff', outputs: {}, resources }, null, 2)}\n`,
  )
}

/** Runs the scenario in a data directory of its own (under `work`). */
export async function diffScenario(deps: DiffBenchDeps, work: string): Promise<DiffFigures> {
  const perResource = Buffer.byteLength(JSON.stringify(resource(0, false), null, 2)) + 10
  const count = Math.floor(TARGET_BYTES / perResource)
  const changed = new Set(Array.from({ length: Math.round(count / 100) }, (_, k) => k * 100 + 7))
  const a = state(count, 1, new Set())
  const b = state(count, 2, changed)
  const dataDir = `${work}/diff-data`
  // Written through one server process, diffed by a fresh one: the diff starts cold.
  const writer = await deps.startTarget('app', dataDir)
  const tf = `${writer.url}/v1/factories/bench/stacks/diff/terraform`
  await deps.fetchOk(tf, { method: 'POST', body: a, headers: { 'content-type': 'application/json' } })
  await deps.fetchOk(tf, { method: 'POST', body: b, headers: { 'content-type': 'application/json' } })
  const small = `${writer.url}/v1/factories/bench/stacks/warm/terraform`
  await deps.fetchOk(small, { method: 'POST', body: state(10, 1, new Set()) })
  await deps.fetchOk(small, { method: 'POST', body: state(10, 2, new Set([3])) })
  await deps.stop(writer)

  const server = await deps.startTarget('app', dataDir)
  try {
    const pid = server.child.pid!
    const base = `${server.url}/v1/factories/bench/stacks`
    await deps.fetchOk(`${base}/warm/diff`) // the diff code path compiled, on small documents
    const before = await deps.rssKb(pid)
    let started = performance.now()
    const res = await deps.fetchOk(`${base}/diff/diff`)
    const body = (await res.json()) as { summary: { changed: number } }
    const coldMs = performance.now() - started
    const peak = await deps.rssPeakKb(pid)
    if (body.summary.changed !== changed.size)
      throw new Error(`the diff found ${body.summary.changed} changed resources, not ${changed.size}`)
    started = performance.now()
    await (await deps.fetchOk(`${base}/diff/diff`)).arrayBuffer()
    const warmMs = performance.now() - started
    return {
      documentBytes: a.length + b.length,
      resources: count,
      changed: changed.size,
      coldMs,
      warmMs,
      growthKb: Math.max(0, peak - before),
    }
  } finally {
    await deps.stop(server)
  }
}
