/**
 * A refused Terraform write tells the current lineage and serial only to a
 * caller who may read the stack: a principal with write but not read learns
 * which rule refused the write, not the stored state's lineage or serial.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, bearer, newToken, terraformState, tokensFileText } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'
const LINEAGE = '11111111-2222-4333-8444-555555555555'
const OTHER = '99999999-2222-4333-8444-555555555555'

t.test('a state-conflict names the current lineage and serial only to a caller with read', async (t) => {
  const owner = newToken()
  const writer = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'owner', token: owner, grants: [{ scope: '*/*', allow: ['read', 'write'] }] },
        { name: 'writer', token: writer, grants: [{ scope: '*/*', allow: ['write'] }] },
      ]),
    ),
  })
  const post = (token: string, body: string) =>
    app.inject({
      method: 'POST',
      url: `${STACK}/terraform`,
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: body,
    })
  t.equal((await post(owner, terraformState(7, LINEAGE))).statusCode, 200)

  for (const [label, body, rule] of [
    ['another lineage', terraformState(8, OTHER), 'lineage'],
    ['a lower serial', terraformState(3, LINEAGE), 'serial'],
  ] as const) {
    const blind = await post(writer, body)
    t.equal(blind.statusCode, 409, label)
    t.equal(blind.json().code, 'state-conflict', label)
    t.equal(blind.json().rule, rule, label)
    t.notOk('currentLineage' in blind.json(), `${label}: no current lineage`)
    t.notOk('currentSerial' in blind.json(), `${label}: no current serial`)
    t.notMatch(blind.body, LINEAGE, `${label}: the stored lineage appears nowhere`)
    t.notMatch(blind.json().detail, / 7\b/, `${label}: the stored serial appears nowhere`)

    const seen = await post(owner, body)
    t.equal(seen.statusCode, 409, label)
    t.equal(seen.json().rule, rule, label)
    if (rule === 'lineage') t.equal(seen.json().currentLineage, LINEAGE)
    else t.equal(seen.json().currentSerial, 7)
  }
})
