/**
 * The console's routes: / redirects to /ui/, the shell and the assets are
 * public, carry a strict Content-Security-Policy, and are cached as their
 * names allow (the shell revalidated by ETag, hashed assets immutable).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { UI_CSP } from '../../../src/http/routes/ui.js'
import { loadUiAssets } from '../../../src/http/ui-assets.js'
import { buildTestApp } from '../../helpers/app.js'
import { authFromText, newToken, tokensFileText } from '../../helpers/auth.js'

/** A console build of two small files (the routes do not depend on what the page does). */
async function fakeBuild(dir: string) {
  await mkdir(join(dir, 'assets'), { recursive: true })
  await writeFile(join(dir, 'index.html'), '<!doctype html><script type="module" src="assets/app-ABC.js"></script>')
  await writeFile(join(dir, 'assets', 'app-ABC.js'), `console.log(${JSON.stringify('x'.repeat(2000))})`)
  await writeFile(join(dir, 'assets', 'notes.txt'), 'not an asset type')
  return loadUiAssets(dir)
}

t.test('GET / redirects to the console at /ui/', async (t) => {
  const { app } = await buildTestApp(t, { ui: await fakeBuild(t.testdir()) })
  const root = await app.inject({ url: '/' })
  t.equal(root.statusCode, 302)
  t.equal(root.headers.location, '/ui/')
})

t.test('the shell is served with a strict CSP, nosniff and revalidation by ETag', async (t) => {
  const { app } = await buildTestApp(t, { ui: await fakeBuild(t.testdir()) })
  const res = await app.inject({ url: '/ui/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.equal(res.headers['content-security-policy'], UI_CSP)
  t.match(UI_CSP, /script-src 'self'(;|$)/, 'scripts only from this origin, none inline')
  t.notMatch(UI_CSP, /unsafe-inline|unsafe-eval|https?:/, 'no inline code and no other origin')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['cache-control'], 'no-cache')
  t.match(res.body, /assets\/app-ABC\.js/)
  const again = await app.inject({ url: '/ui/', headers: { 'if-none-match': String(res.headers.etag) } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
})

t.test('hashed assets are immutable and sent gzipped to clients that accept it', async (t) => {
  const { app } = await buildTestApp(t, { ui: await fakeBuild(t.testdir()) })
  const plain = await app.inject({ url: '/ui/assets/app-ABC.js' })
  t.equal(plain.statusCode, 200)
  t.match(plain.headers['content-type'], /^text\/javascript/)
  t.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal(plain.headers['content-security-policy'], UI_CSP)
  t.equal(plain.headers['content-encoding'], undefined)
  const gz = await app.inject({ url: '/ui/assets/app-ABC.js', headers: { 'accept-encoding': 'gzip, br' } })
  t.equal(gz.headers['content-encoding'], 'gzip')
  t.ok(gz.rawPayload.length < plain.rawPayload.length, 'the gzip body is smaller')
  t.equal(gz.headers.vary, 'accept-encoding')
})

t.test(
  'an unknown asset and a file of no asset type answer 404 asset-not-found; a name with a slash 400',
  async (t) => {
    const { app } = await buildTestApp(t, { ui: await fakeBuild(t.testdir()) })
    for (const url of ['/ui/assets/app-OLD.js', '/ui/assets/notes.txt']) {
      const res = await app.inject({ url })
      t.equal(res.statusCode, 404, url)
      t.equal(res.json().code, 'asset-not-found', url)
    }
    const traversal = await app.inject({ url: '/ui/assets/..%2findex.html' })
    t.equal(traversal.statusCode, 400)
  },
)

t.test('a server whose console is not built says how to build it', async (t) => {
  t.equal(await loadUiAssets(join(t.testdir(), 'absent')), null)
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/ui/' })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'console-not-built')
  t.match(res.json().detail, /npm run build/)
})

t.test('with credentials configured the page is public and the API still needs a token', async (t) => {
  const auth = authFromText(
    tokensFileText([{ name: 'ops', token: newToken(), grants: [{ scope: '*/*', allow: ['read'] }] }]),
  )
  const { app } = await buildTestApp(t, { auth, ui: await fakeBuild(t.testdir()) })
  t.equal((await app.inject({ url: '/ui/' })).statusCode, 200)
  t.equal((await app.inject({ url: '/ui/assets/app-ABC.js' })).statusCode, 200)
  t.equal((await app.inject({ url: '/v1/factories' })).statusCode, 401)
})
