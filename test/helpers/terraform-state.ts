/**
 * Terraform state documents for diff and outputs tests, shaped as Terraform
 * 1.x writes them (state v4): resources with instances, `sensitive_attributes`
 * as lists of get_attr/index steps, outputs with `sensitive`.
 */

/** One resource of a state. */
export interface ResourceSpec {
  readonly module?: string
  readonly mode?: 'managed' | 'data'
  readonly type: string
  readonly name: string
  readonly each?: 'list' | 'map'
  readonly instances: readonly InstanceSpec[]
}

/** One instance of a resource. */
export interface InstanceSpec {
  readonly index_key?: number | string
  readonly deposed?: string
  readonly attributes: Record<string, unknown>
  /** Attribute names (or paths) Terraform marks sensitive. */
  readonly sensitive?: readonly (string | readonly (string | number)[])[]
  readonly private?: string
}

/** A state document (as text, 2-space indented like Terraform writes it). */
export function tfState(options: {
  serial: number
  lineage?: string
  resources?: readonly ResourceSpec[]
  outputs?: Record<string, { value: unknown; type?: unknown; sensitive?: boolean }>
}): Buffer {
  const doc = {
    version: 4,
    terraform_version: '1.9.0',
    serial: options.serial,
    lineage: options.lineage ?? '7b0c1e2a-0000-4000-8000-000000000001',
    outputs: Object.fromEntries(
      Object.entries(options.outputs ?? {}).map(([k, o]) => [
        k,
        { value: o.value, type: o.type ?? 'string', ...(o.sensitive === true ? { sensitive: true } : {}) },
      ]),
    ),
    resources: (options.resources ?? []).map((r) => ({
      ...(r.module === undefined ? {} : { module: r.module }),
      mode: r.mode ?? 'managed',
      type: r.type,
      name: r.name,
      ...(r.each === undefined ? {} : { each: r.each }),
      provider: 'provider["registry.terraform.io/hashicorp/aws"]',
      instances: r.instances.map((i) => ({
        ...(i.index_key === undefined ? {} : { index_key: i.index_key }),
        ...(i.deposed === undefined ? {} : { deposed: i.deposed }),
        schema_version: 1,
        attributes: i.attributes,
        sensitive_attributes: (i.sensitive ?? []).map((p) =>
          (typeof p === 'string' ? [p] : p).map((s) =>
            typeof s === 'string'
              ? { type: 'get_attr', value: s }
              : { type: 'index', value: { value: s, type: 'number' } },
          ),
        ),
        ...(i.private === undefined ? {} : { private: i.private }),
      })),
    })),
    check_results: null,
  }
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
}

/** An OpenTofu client-side-encrypted state (lineage and serial in the clear, the rest sealed). */
export function encryptedState(serial: number, payload = 'q83vASNFZ4mrze8BI0VniavN7wEjRWeJ/w=='): Buffer {
  return Buffer.from(
    `${JSON.stringify({ serial, lineage: 'enc-lineage', meta: { 'key_provider.pbkdf2.main': 'eyJzYWx0IjoiQUFBQSJ9' }, encrypted_data: payload, encryption_version: 'v0' }, null, 2)}\n`,
  )
}
