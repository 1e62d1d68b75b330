/**
 * The operations guide stays true: the README links it (to headings that
 * exist), it lists exactly the metrics the server exports, and every audit
 * action the server records.
 */
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Metrics } from '../../src/http/metrics.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const guide = readFileSync(join(REPO, 'docs/operations.md'), 'utf8')
const readme = readFileSync(join(REPO, 'README.md'), 'utf8')

/** GitHub's anchor of a heading. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-')
}

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

t.test('the README links the guide, to headings that exist', async (t) => {
  const anchors = new Set([...guide.matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchor(m[1]!)))
  const links = [...readme.matchAll(/\(docs\/operations\.md(?:#([a-z0-9-]+))?\)/g)]
  t.ok(links.length > 0, 'the README links docs/operations.md')
  for (const link of links)
    if (link[1] !== undefined) t.ok(anchors.has(link[1]), `#${link[1]} is a heading of the guide`)
  for (const link of guide.matchAll(/\]\(#([a-z0-9-]+)\)/g))
    t.ok(anchors.has(link[1]!), `the guide's own link #${link[1]} resolves`)
})

t.test('the guide lists exactly the metrics the server exports', async (t) => {
  const exported = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name).sort()
  const documented = [...new Set([...guide.matchAll(/^\| `(unobin_state_[a-z_]+)` \|/gm)].map((m) => m[1]!))].sort()
  t.same(documented, exported)
})

t.test('the guide explains every audit action the server records', async (t) => {
  const actions = new Set<string>()
  for (const file of sources(join(REPO, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/action: '([a-z-]+\.[a-z-]+)'/g)) actions.add(m[1]!)
  }
  t.ok(actions.size >= 10, `${actions.size} actions found in src`)
  const documented = new Set([...guide.matchAll(/^\| `([a-z-]+\.[a-z-]+)` \|/gm)].map((m) => m[1]!))
  for (const action of [...actions].sort()) t.ok(documented.has(action), `${action} is in the guide's audit table`)
})
