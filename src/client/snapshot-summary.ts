/**
 * What `show` tells about a snapshot without printing its values: its kind
 * (unobin snapshot or Terraform/OpenTofu state), the facts that identify it
 * (serial and lineage, factory and generation time), and counts and names.
 * Output values are never printed: they may be sensitive.
 */

/** The facts of one snapshot. */
export interface SnapshotSummary {
  readonly kind: 'terraform-state' | 'unobin-snapshot' | 'unknown'
  readonly bytes: number
  readonly terraformVersion?: string
  readonly serial?: number
  readonly lineage?: string
  readonly resources?: number
  readonly factory?: string
  readonly generatedAt?: string
  readonly entries?: number
  readonly outputs: string[]
}

/** Summarises a snapshot body (any JSON; an unparseable body is `unknown`). */
export function summarize(body: Buffer): SnapshotSummary {
  let doc: Record<string, unknown>
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      return { kind: 'unknown', bytes: body.length, outputs: [] }
    doc = parsed as Record<string, unknown>
  } catch {
    return { kind: 'unknown', bytes: body.length, outputs: [] }
  }
  const outputs =
    doc.outputs !== null && typeof doc.outputs === 'object' ? Object.keys(doc.outputs as object).sort() : []
  if (typeof doc.lineage === 'string' && doc.serial !== undefined) {
    return {
      kind: 'terraform-state',
      bytes: body.length,
      ...(typeof doc.terraform_version === 'string' ? { terraformVersion: doc.terraform_version } : {}),
      serial: Number(doc.serial),
      lineage: doc.lineage,
      resources: Array.isArray(doc.resources) ? doc.resources.length : 0,
      outputs,
    }
  }
  if (doc['format-version'] !== undefined) {
    const factory = doc.factory as { name?: unknown; version?: unknown } | undefined
    return {
      kind: 'unobin-snapshot',
      bytes: body.length,
      ...(typeof factory?.name === 'string'
        ? { factory: typeof factory.version === 'string' ? `${factory.name} ${factory.version}` : factory.name }
        : {}),
      ...(typeof doc['generated-at'] === 'string' ? { generatedAt: doc['generated-at'] } : {}),
      entries: Array.isArray(doc.entries) ? doc.entries.length : 0,
      outputs,
    }
  }
  return { kind: 'unknown', bytes: body.length, outputs }
}
