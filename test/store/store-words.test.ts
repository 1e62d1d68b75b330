/**
 * The store speaks of the store: its messages name stacks, revs and
 * reasons, never the HTTP routes, headers or command-line flags a caller
 * might use next (the HTTP layer adds those, see src/http/next-steps.ts).
 * This reads the store's source, comments left out, for such words.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const STORE = fileURLToPath(new URL('../../src/store/', import.meta.url))

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

/** The code of a source file without its comments. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
}

const HTTP_WORDS: ReadonlyArray<readonly [string, RegExp]> = [
  ['a route path', /…\//],
  ['an HTTP method with a path', /\b(GET|PUT|POST|DELETE|PATCH) [/…]/],
  ['a query parameter', /\?(force|wait|ID|after|limit)=/],
  ['an HTTP header', /\b(Lock-Id|If-Match|If-None-Match|Content-MD5|Retry-After)\b/],
  ['a command-line flag', /--[a-z][a-z-]+/],
]

t.test('no store source names a route, a header or a flag outside its comments', async (t) => {
  const files = sources(STORE)
  t.ok(files.length > 10, `${files.length} store sources read`)
  for (const file of files) {
    const text = code(readFileSync(file, 'utf8'))
    for (const [what, pattern] of HTTP_WORDS) {
      const hit = pattern.exec(text)
      t.equal(hit?.[0], undefined, `${file.slice(STORE.length)} names no ${what}`)
    }
  }
})

t.test('the scan finds such words where they are (the HTTP layer adds them)', async (t) => {
  const nextSteps = code(readFileSync(fileURLToPath(new URL('../../src/http/next-steps.ts', import.meta.url)), 'utf8'))
  for (const [what, pattern] of HTTP_WORDS) t.match(nextSteps, pattern, `next-steps.ts names ${what}`)
})
