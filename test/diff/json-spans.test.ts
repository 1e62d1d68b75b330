import t from 'tap'
import { arrayElements, topLevelMember } from '../../src/diff/json-spans.js'

const text = (b: Buffer, span: { start: number; end: number } | undefined) =>
  span === undefined ? undefined : b.toString('utf8', span.start, span.end)

t.test('topLevelMember finds a member past strings holding quotes, backslashes and brackets', async (t) => {
  const b = Buffer.from('{ "a": "x\\"}]\\\\", "b": {"c": ["]", "}"]},\n"resources" :\t[1, {"d": "é"}] }\n')
  t.equal(text(b, topLevelMember(b, 'resources')), '[1, {"d": "é"}]')
  t.equal(text(b, topLevelMember(b, 'b')), '{"c": ["]", "}"]}')
  t.equal(topLevelMember(b, 'c'), undefined, 'a nested member is not a top-level one')
})

t.test('topLevelMember gives up where JSON.parse must decide', async (t) => {
  const cases: Record<string, string> = {
    'not an object': '[{"resources": []}]',
    'the member twice': '{"resources": [], "resources": [1]}',
    'an escaped member name': '{"resource\\u0073": [], "x": 1}',
    'text after the object': '{"resources": []} {}',
    'an unterminated string': '{"resources": ["a]}',
    'a missing colon': '{"resources" []}',
  }
  for (const [why, json] of Object.entries(cases))
    t.equal(topLevelMember(Buffer.from(json), 'resources'), undefined, why)
})

t.test(
  'arrayElements gives each element span and the array end, or undefined for what is not a comma-separated array',
  async (t) => {
    const b = Buffer.from('[ 1 ,"a,]" ,\n{"x": [1, 2]}, null, -2.5e3 ]')
    const array = arrayElements(b, 0)
    t.equal(array?.end, b.length)
    const spans = array?.elements
    t.ok(spans)
    const parts = []
    for (let i = 0; i < spans!.length; i += 2) parts.push(b.toString('utf8', spans![i], spans![i + 1]))
    t.strictSame(parts, ['1', '"a,]"', '{"x": [1, 2]}', 'null', '-2.5e3'])
    t.strictSame(arrayElements(Buffer.from('[ ] , 1'), 0), { elements: new Int32Array(0), end: 3 })
    for (const json of ['{}', '[1 2]', '[1,]', '[,1]', '[1', '[}'])
      t.equal(arrayElements(Buffer.from(json), 0), undefined, json)
  },
)
