/** The documents the benchmarks store: a unobin snapshot and a Terraform state of about `bytes` bytes. */

export function unobinDoc(bytes: number, marker: number): Buffer {
  const doc = {
    'format-version': 1,
    factory: { name: 'bench', version: '1.0.0', 'content-revision': 'sha256:bench' },
    stack: 'bench',
    'generated-at': '2026-07-10T12:00:00Z',
    entries: [
      {
        address: 'a.b',
        'entry-kind': 'leaf',
        category: 'resource',
        binding: { alias: 'x', kind: 'y' },
        outputs: { pad: '' },
      },
    ],
    outputs: { marker },
  }
  const base = JSON.stringify(doc, null, 2).length
  doc.entries[0]!.outputs.pad = 'p'.repeat(Math.max(0, bytes - base))
  return Buffer.from(JSON.stringify(doc, null, 2))
}

export function terraformDoc(bytes: number, serial: number): Buffer {
  const doc = {
    version: 4,
    terraform_version: '1.9.0',
    serial,
    lineage: 'bench-lineage',
    outputs: { pad: { value: '' } },
    resources: [] as unknown[],
  }
  const base = JSON.stringify(doc, null, 2).length
  doc.outputs.pad.value = 'p'.repeat(Math.max(0, bytes - base))
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
}
