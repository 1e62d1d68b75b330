import t from 'tap'
import { arrayElements } from '../../src/diff/json-spans.js'
import { ResourceSpans, parsedResources, sharedElements } from '../../src/diff/resource-list.js'

/** A list left in the bytes of a JSON array of `items`. */
function spans(items: readonly unknown[]): ResourceSpans {
  const body = Buffer.from(JSON.stringify(items, null, 2))
  return new ResourceSpans(body, arrayElements(body, 0)!.elements)
}

const r = (name: string, size = 'small') => ({ type: 'aws_instance', name, instances: [{ attributes: { size } }] })

t.test('elements with the same bytes are grouped across an insertion, a removal, a change and a move', async (t) => {
  const a = spans([r('a'), r('b'), r('c'), r('d'), r('e'), r('f')])
  const b = spans([r('a'), r('new'), r('b'), r('d', 'large'), r('e'), r('c')])
  const groups = sharedElements(a, b)
  // a, b, e and the moved c are shared; the new one and the changed d are not; f was removed.
  t.strictSame([...groups.b], [0, -1, 1, -1, 4, 2])
  t.strictSame([...groups.a], [0, 1, 2, -1, 4, -1])
  for (let j = 0; j < b.length; j++) {
    const g = groups.b[j]!
    if (g >= 0) t.ok(a.bytes(g).equals(b.bytes(j)), `element ${j} has the bytes of its group`)
  }
})

t.test('a parsed list shares nothing, and a lazily read element that is not JSON says so', async (t) => {
  const groups = sharedElements(parsedResources([r('a')]), spans([r('a')]))
  t.strictSame([...groups.a, ...groups.b], [-1, -1])
  const body = Buffer.from('[{"a": }]')
  const broken = new ResourceSpans(body, arrayElements(body, 0)!.elements)
  t.throws(() => broken.element(0), { name: 'UnparsableResource' })
})
