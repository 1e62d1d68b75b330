/**
 * The compiled entry points the process tests start. `npm test` compiles
 * before tap runs; `npx tap` alone does not, and a test would then run the
 * build of an older source without a word. So an entry point older than the
 * newest source file it is built from refuses to be used, and says what to
 * run.
 */
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../..', import.meta.url))

const newest = new Map<string, { path: string; mtimeMs: number }>()

/** The newest `.ts` file under `repo`'s `src/`, declarations aside (they compile to nothing), read once per process. */
function newestSource(repo: string): { path: string; mtimeMs: number } {
  const known = newest.get(repo)
  if (known !== undefined) return known
  let found = { path: '', mtimeMs: 0 }
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const mtimeMs = statSync(path).mtimeMs
        if (mtimeMs > found.mtimeMs) found = { path, mtimeMs }
      }
    }
  }
  walk(join(repo, 'src'))
  newest.set(repo, found)
  return found
}

/** The absolute path of the compiled `relPath` (under `repo`, this one by default); throws when it is missing or older than the sources. */
export function builtEntry(relPath: string, repo: string = REPO): string {
  const path = join(repo, relPath)
  const hint = 'run `npm run build` (or `npm test`, which builds before tap runs)'
  let mtimeMs: number
  try {
    mtimeMs = statSync(path).mtimeMs
  } catch {
    throw new Error(`${relPath} is not built: ${hint}`)
  }
  const source = newestSource(repo)
  if (mtimeMs < source.mtimeMs)
    throw new Error(
      `${relPath} is older than ${relative(repo, source.path)}: the tests would run a stale build; ${hint}`,
    )
  return path
}
