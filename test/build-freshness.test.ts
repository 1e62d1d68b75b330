/** The process tests refuse a stale build (test/helpers/built.ts): `npx tap` without `npm run build` must not test old code. */
import t from 'tap'
import { utimesSync } from 'node:fs'
import { join } from 'node:path'
import { builtEntry } from './helpers/built.js'
import { SERVER_JS } from './helpers/server-process.js'

t.test('an entry point at least as new as every source is used; declarations do not count', async (t) => {
  const repo = t.testdir({ src: { 'a.ts': '', 'api.gen.d.ts': '', deep: { 'b.ts': '' } }, dist: { 'a.js': '' } })
  utimesSync(join(repo, 'src', 'a.ts'), 1000, 1000)
  utimesSync(join(repo, 'src', 'deep', 'b.ts'), 2000, 2000)
  utimesSync(join(repo, 'src', 'api.gen.d.ts'), 5000, 5000) // a declaration: nothing in dist is built from it
  utimesSync(join(repo, 'dist', 'a.js'), 2000, 2000)
  t.equal(builtEntry('dist/a.js', repo), join(repo, 'dist', 'a.js'))
})

t.test('an entry point older than any source, however deep, is refused with what to run', async (t) => {
  const repo = t.testdir({ src: { 'a.ts': '', deep: { 'b.ts': '' } }, dist: { 'a.js': '' } })
  utimesSync(join(repo, 'src', 'a.ts'), 1000, 1000)
  utimesSync(join(repo, 'src', 'deep', 'b.ts'), 3000, 3000)
  utimesSync(join(repo, 'dist', 'a.js'), 2000, 2000)
  t.throws(() => builtEntry('dist/a.js', repo), {
    message:
      'dist/a.js is older than src/deep/b.ts: the tests would run a stale build; run `npm run build` (or `npm test`, which builds before tap runs)',
  })
})

t.test('a missing entry point is refused with what to run', async (t) => {
  const repo = t.testdir({ src: { 'a.ts': '' } })
  t.throws(() => builtEntry('dist/a.js', repo), { message: /^dist\/a\.js is not built: run `npm run build`/ })
})

t.test("this repository's server build is fresh (npm test builds before tap runs)", async (t) => {
  t.match(SERVER_JS, /dist\/src\/server\.js$/)
})
