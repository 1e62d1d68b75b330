/**
 * The console as built by `npm run build` (dist/ui; `npm test` builds it
 * before tap runs): small enough for a slow link, nothing loaded from
 * elsewhere, nothing inline for the Content-Security-Policy to refuse.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import t from 'tap'

const UI = fileURLToPath(new URL('../../dist/ui/', import.meta.url))
/** The budget the issue sets for all shipped JavaScript and CSS, gzipped. */
const BUDGET = 150 * 1024

t.test('the shipped JavaScript and CSS weigh at most 150 KB gzipped', async (t) => {
  const files = (await readdir(join(UI, 'assets'))).filter((f) => /\.(js|css)$/.test(f))
  t.ok(
    files.some((f) => f.endsWith('.js')) && files.some((f) => f.endsWith('.css')),
    `a script and a stylesheet are built: ${files.join(', ')}`,
  )
  let total = 0
  for (const f of files) total += gzipSync(await readFile(join(UI, 'assets', f)), { level: 9 }).length
  t.comment(`console: ${files.length} files, ${(total / 1024).toFixed(1)} KB gzipped`)
  t.ok(total <= BUDGET, `${total} bytes gzipped <= ${BUDGET}`)
})

t.test('the shell has no inline script or style and loads only its own hashed assets', async (t) => {
  const html = await readFile(join(UI, 'index.html'), 'utf8')
  const assets = new Set(await readdir(join(UI, 'assets')))
  t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src')
  t.notMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or event handler')
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
  for (const ref of refs) {
    if (ref === 'data:,' || ref === '/openapi.yaml') continue
    const m = /^assets\/([A-Za-z0-9_-]+-[A-Z0-9]{8}\.(?:js|css))$/.exec(ref)
    t.ok(m, `${ref} is a content-hashed asset of the page`)
    if (m) t.ok(assets.has(m[1]!), `${ref} is built`)
  }
})

t.test('no built file refers to another origin', async (t) => {
  for (const f of await readdir(join(UI, 'assets'))) {
    const text = await readFile(join(UI, 'assets', f), 'utf8')
    const urls = [...text.matchAll(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)].map((m) => m[0])
    // XML namespace names (Preact creates SVG and MathML elements with them) are names, never fetched.
    const loaded = urls.filter((u) => !/^http:\/\/www\.w3\.org\/(1998\/Math\/MathML|1999\/xhtml|2000\/svg)$/.test(u))
    t.same(loaded, [], `${f} names no other origin`)
  }
})
