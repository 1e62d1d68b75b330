/**
 * Child processes for multi-process and crash tests of the store.
 *
 * Under tap, TypeScript runs through ts-node, loaded with `--import` in the
 * test process's `execArgv` (not in NODE_OPTIONS), so `node child.ts` fails
 * with ERR_UNKNOWN_FILE_EXTENSION. Passing `process.execArgv` on works but
 * costs about 2 s per child (ts-node loads the compiler in every process),
 * and crash tests start over a hundred children. So the child script and every
 * relative module it imports are transpiled once per test file (type
 * stripping only, `ts.transpileModule`, as ts-node's transpile-only mode
 * does) into a test folder mirroring the repo, and children run as plain
 * JavaScript (about 0.15 s to start). Packages resolve from the repo's
 * `node_modules` through a symlink.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import ts from 'typescript'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const CHILDREN = join(REPO, 'test/fixtures/children')

/** How long `line` waits before failing a test instead of hanging it (a guard, not an assertion). */
const LINE_GUARD_MS = 30_000

/** Compiles child scripts on first use and starts them; one per test file. */
export class ChildScripts {
  readonly #outDir: string
  readonly #compiled = new Set<string>()

  /** `outDir`: a test folder (from `t.testdir()`) that receives the transpiled modules. */
  constructor(outDir: string) {
    this.#outDir = outDir
  }

  /**
   * Starts `test/fixtures/children/<name>.ts` with `args`. The child is
   * SIGKILLed (if still running) and awaited in `t`'s teardown.
   *
   * The child runs without NODE_OPTIONS: under tap it only carries the
   * process-info hook, which tap re-adds to every spawn (it patches
   * ChildProcess), costs 0.25 s of CPU per child, and cannot see transpiled
   * files anyway. Hence `env -u NODE_OPTIONS`, which then execs node under the
   * same pid, so a SIGKILL still reaches the child itself. `nodeArgs` go to
   * node itself, before the script (e.g. `--expose-gc`).
   */
  spawn(
    t: Test,
    name: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = {},
    nodeArgs: readonly string[] = [],
  ): Child {
    const script = this.#compile(join(CHILDREN, `${name}.ts`))
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
    delete childEnv.NODE_V8_COVERAGE
    const argv = ['-u', 'NODE_OPTIONS', process.execPath, ...nodeArgs, script, ...args]
    const child = new Child(spawn('env', argv, { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] }), name)
    t.teardown(() => child.kill())
    return child
  }

  /** Transpiles `entry` and its relative imports (once); returns the entry's output path. */
  #compile(entry: string): string {
    if (!existsSync(join(this.#outDir, 'node_modules'))) {
      mkdirSync(this.#outDir, { recursive: true })
      symlinkSync(join(REPO, 'node_modules'), join(this.#outDir, 'node_modules'), 'dir')
      writeFileSync(join(this.#outDir, 'package.json'), '{ "type": "module" }\n')
    }
    const pending = [entry]
    while (pending.length > 0) {
      const file = pending.pop()!
      if (this.#compiled.has(file)) continue
      this.#compiled.add(file)
      const source = readFileSync(file, 'utf8')
      for (const { fileName } of ts.preProcessFile(source, true, false).importedFiles) {
        if (!fileName.startsWith('.')) continue
        const target = resolve(dirname(file), fileName.replace(/\.js$/, '.ts'))
        if (!existsSync(target))
          throw new Error(`${relative(REPO, file)} imports ${fileName}, which is not a TypeScript file of the repo`)
        pending.push(target)
      }
      const out = ts.transpileModule(source, {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
      })
      const dest = join(this.#outDir, relative(REPO, file)).replace(/\.ts$/, '.js')
      mkdirSync(dirname(dest), { recursive: true })
      writeFileSync(dest, out.outputText)
    }
    return join(this.#outDir, relative(REPO, entry)).replace(/\.ts$/, '.js')
  }
}

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running child script: its stdout lines, its stdin, and its end. */
export class Child {
  /** Every stdout line received so far, in order. */
  readonly lines: string[] = []
  /** Resolves when the process has exited and its output is fully read. */
  readonly closed: Promise<ChildExit>
  readonly #proc: ChildProcess
  readonly #name: string
  #stderr = ''
  #cursor = 0
  #exit: ChildExit | undefined
  readonly #listeners = new Set<() => void>()

  constructor(proc: ChildProcess, name: string) {
    this.#proc = proc
    this.#name = name
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk
    })
    proc.stdin!.on('error', () => {}) // writing to a child that was just killed
    createInterface({ input: proc.stdout!, crlfDelay: Infinity }).on('line', (line) => {
      this.lines.push(line)
      this.#notify()
    })
    this.closed = new Promise((resolveClosed) => {
      proc.on('close', (code, signal) => {
        this.#exit = { code, signal }
        this.#notify()
        resolveClosed(this.#exit)
      })
    })
  }

  /** The process id. */
  get pid(): number {
    return this.#proc.pid ?? -1
  }

  /** What the child wrote to stderr (for failure messages). */
  get stderr(): string {
    return this.#stderr
  }

  /**
   * The next line (after the one `line` last returned) that starts with
   * `prefix` (or matches it, for a RegExp). Rejects when the child ends
   * without printing one, or after a generous guard so a broken child fails
   * the test instead of hanging it.
   */
  async line(prefix: string | RegExp): Promise<string> {
    const matches =
      typeof prefix === 'string' ? (line: string) => line.startsWith(prefix) : (line: string) => prefix.test(line)
    const deadline = Date.now() + LINE_GUARD_MS
    for (;;) {
      for (; this.#cursor < this.lines.length; this.#cursor++) {
        const line = this.lines[this.#cursor]!
        if (matches(line)) {
          this.#cursor++
          return line
        }
      }
      if (this.#exit !== undefined) {
        throw new Error(
          `child ${this.#name} (pid ${this.pid}) ended (${JSON.stringify(this.#exit)}) without printing a line like ${String(prefix)}; stderr:\n${this.#stderr}`,
        )
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0)
        throw new Error(
          `child ${this.#name} (pid ${this.pid}) printed no line like ${String(prefix)} in ${LINE_GUARD_MS} ms; stderr:\n${this.#stderr}`,
        )
      await new Promise<void>((wake) => {
        const done = () => {
          clearTimeout(timer)
          this.#listeners.delete(done)
          wake()
        }
        const timer = setTimeout(done, remaining)
        this.#listeners.add(done)
      })
    }
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener()
  }

  /** Writes one line to the child's stdin. */
  send(line: string): void {
    this.#proc.stdin!.write(`${line}\n`)
  }

  /** Waits for the child to exit on its own; rejects unless it exits with status 0. */
  async done(): Promise<void> {
    const exit = await this.closed
    if (exit.code !== 0)
      throw new Error(
        `child ${this.#name} (pid ${this.pid}) exited with ${JSON.stringify(exit)}; stderr:\n${this.#stderr}`,
      )
  }

  /** SIGKILLs the child unless it already ended, and waits until its output is read. */
  async kill(): Promise<ChildExit> {
    if (this.#exit === undefined) this.#proc.kill('SIGKILL')
    return this.closed
  }
}
