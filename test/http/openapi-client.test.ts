/**
 * A typed client can be generated from openapi.yaml and used: the types
 * openapi-typescript generates compile with a small program that uses the
 * shared components (lock holder, problem with its holder, page of revs,
 * LockInfo), and the parameters, answers and headers of operations by their
 * operationId; a program that misuses them does not compile.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { REPO, runBin } from '../helpers/package-bin.js'

/** A program a client author could write against the generated types. */
const USAGE = `import type { components, operations, paths } from './api.js'

type Holder = components['schemas']['LockHolder']
export const held: operations['getLock']['responses'][200]['content']['application/json'] extends Holder ? true : false = true
export const holder: Holder = {
  id: '0c0ffee0-0000-4000-8000-000000000001', generation: 7, who: 'ci', operation: 'apply', info: '',
  principal: null, remote: null, created: null, expires: null, pid: null, host: null, client: null, legacy: false,
}

type Problem = components['schemas']['Problem']
export const problem: Problem = { type: 'urn:unobin-state:problem:locked', title: 'locked', status: 423, code: 'locked', detail: 'wait', instance: '/v1', holder }
export const refused: operations['lockStack']['responses'][423]['content']['application/problem+json'] = problem

type RevPage = components['schemas']['RevList'] & paths['/v1/factories/{factory}/stacks/{stack}/snapshots']['get']['responses'][200]['content']['application/json']
export function nextPage(page: RevPage): string | null {
  return page.revs.length > 0 ? page.next : null
}

export const write: operations['writeSnapshot']['parameters']['query'] = { current: true }
export const path: operations['getCurrent']['parameters']['path'] = { factory: 'prod', stack: 'network' }
export const conditional: operations['getCurrent']['parameters']['header'] = { 'if-none-match': '"2026-07-10T12:00:00Z"' }
export const lockInfo: components['schemas']['LockInfo'] = { ID: 'x', Operation: 'OperationTypeApply', Info: '', Who: 'ci@runner', Version: '1.9.0', Created: null, Path: '', Generation: 3, Principal: null, Expires: null }
export const etag: operations['getSnapshot']['responses'][200]['headers']['ETag'] = '"2026-07-10T12:00:00Z"'
export const lockAddress: keyof operations = 'terraformLockAddress'
`

/** Programs the generated types must refuse, with the line each error is on. */
const MISUSE = `import type { components, operations } from './api.js'

export const problem: components['schemas']['Problem'] = { type: 't', title: 't', status: 423, code: 'no-such-code', detail: 'd', instance: '/' }
export const holder: components['schemas']['LockHolder']['generation'] = 'seven'
export const op: keyof operations = 'noSuchOperation'
`

/** A tsconfig that compiles the generated types and one program. */
const tsconfig = (program: string): string =>
  JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    },
    files: ['api.ts', program],
  })

/** The generated types (from the committed openapi.yaml) with each program beside them; generated once for both tests. */
const dir = t.testdir()
const generated = await runBin(
  'openapi-typescript',
  'openapi-typescript',
  [join(REPO, 'openapi.yaml'), '--output', join(dir, 'api.ts')],
  { cwd: dir },
)
await writeFile(join(dir, 'package.json'), '{"type":"module"}\n')
for (const [name, text] of [
  ['usage', USAGE],
  ['misuse', MISUSE],
] as const) {
  await writeFile(join(dir, `${name}.ts`), text)
  await writeFile(join(dir, `tsconfig.${name}.json`), tsconfig(`${name}.ts`))
}

const compile = (name: string) => runBin('typescript', 'tsc', ['-p', join(dir, `tsconfig.${name}.json`)], { cwd: dir })

t.test('openapi-typescript generates the client types from openapi.yaml', async (t) => {
  t.equal(generated.code, 0, `openapi-typescript exits 0: ${generated.stderr.slice(-800)}`)
})

t.test('the generated client types compile with a program that uses them', async (t) => {
  const tsc = await compile('usage')
  t.equal(tsc.stdout, '', 'tsc reports nothing')
  t.equal(tsc.code, 0, 'tsc exits 0')
})

t.test('the generated client types refuse a program that misuses them', async (t) => {
  const tsc = await compile('misuse')
  t.not(tsc.code, 0, 'tsc exits non-zero')
  for (const line of [3, 4, 5])
    t.match(tsc.stdout, new RegExp(`misuse\\.ts\\(${line},\\d+\\): error TS`), `an error on line ${line}`)
})
