/**
 * Terraform/OpenTofu state (v4) diff: resource instances keyed by module,
 * mode, type, name, instance key (and deposed key), compared attribute by
 * attribute; outputs by name; and the state's own fields (serial, lineage,
 * terraform_version). Values in `sensitive_attributes` (of either side) and
 * outputs marked `sensitive` (on either side) show the marker only.
 */
import type { AddressChange, OutputChange, ResourceKey } from './diff-result.js'
import {
  NOTHING_SENSITIVE,
  SENSITIVE_MARKER,
  type SensitivePaths,
  parseSensitiveAttributes,
  redact,
  unionSensitive,
} from './redaction.js'
import { type ResourceList, parsedResources, sharedElements } from './resource-list.js'
import { type FieldChange, deepEqual, diffValues } from './value-diff.js'

/** One resource instance of a state. */
interface Instance {
  readonly key: ResourceKey
  readonly provider: unknown
  /** Where its object is (see objectOf): resource `element` of `source`, instance `at` of its instances. */
  readonly source: Source
  readonly element: number
  readonly at: number
  /** The byte group of its resource (see sharedElements; -1: none). */
  readonly group: number
}

/** A state's resources, and those of them parsed so far when they were left in bytes. */
interface Source {
  readonly list: ResourceList
  readonly parsed: Map<number, unknown>
}

/** What a resource element contributes: each instance's address, key, provider and place, in order. */
interface Described {
  readonly address: string
  readonly key: ResourceKey
  readonly provider: unknown
  readonly at: number
}

/** Instance fields that are identity or bookkeeping, never diffed as values. */
const SKIPPED = new Set(['index_key', 'deposed', 'sensitive_attributes'])
/** Top-level fields compared as the state's own (resources and outputs have their own sections). */
/** The document's own fields, compared as its header (see diffFields). */
export const TERRAFORM_OWN_FIELDS = ['version', 'terraform_version', 'serial', 'lineage'] as const

/** The address Terraform prints for an instance (`module.m.aws_instance.web["a"]`, `data.x.y`), plus ` (deposed K)`. */
export function addressOf(key: ResourceKey): string {
  let out = key.module === null || key.module === '' ? '' : `${key.module}.`
  if (key.mode === 'data') out += 'data.'
  out += `${key.type}.${key.name}`
  if (key.index !== null) out += typeof key.index === 'number' ? `[${key.index}]` : `[${JSON.stringify(key.index)}]`
  if (key.deposed !== null) out += ` (deposed ${key.deposed})`
  return out
}

/** The instances one resource element holds (malformed resources and instances are skipped, never fatal). */
function describe(resource: unknown): Described[] {
  const out: Described[] = []
  if (typeof resource !== 'object' || resource === null) return out
  const r = resource as Record<string, unknown>
  const instances = Array.isArray(r.instances) ? r.instances : []
  instances.forEach((instance: unknown, at) => {
    if (typeof instance !== 'object' || instance === null || Array.isArray(instance)) return
    const i = instance as Record<string, unknown>
    const index = typeof i.index_key === 'number' || typeof i.index_key === 'string' ? i.index_key : null
    const key: ResourceKey = {
      module: typeof r.module === 'string' && r.module !== '' ? r.module : null,
      mode: typeof r.mode === 'string' ? r.mode : 'managed',
      type: String(r.type ?? ''),
      name: String(r.name ?? ''),
      index,
      deposed: typeof i.deposed === 'string' && i.deposed !== '' ? i.deposed : null,
    }
    out.push({ address: addressOf(key), key, provider: r.provider, at })
  })
  return out
}

/**
 * Every instance of a list by address (a later one of the same address
 * wins). Resources of a shared byte group (`groups[i] >= 0`) that already
 * met their group take its description instead of being parsed; a resource
 * is parsed again only when one of its objects is asked for (objectOf).
 */
function instancesOf(
  list: ResourceList,
  groups: Int32Array,
  described: Map<number, Described[]>,
): Map<string, Instance> {
  const out = new Map<string, Instance>()
  const source: Source = { list, parsed: new Map() }
  for (let e = 0; e < list.length; e++) {
    const group = groups[e]!
    let items = group >= 0 ? described.get(group) : undefined
    if (items === undefined) {
      const parsed = list.element(e)
      items = describe(parsed)
      // Shared with the other side: most likely never asked for again, so not kept.
      if (group >= 0) described.set(group, items)
      else if (list.bytes !== undefined) source.parsed.set(e, parsed)
    }
    for (const d of items) out.set(d.address, { key: d.key, provider: d.provider, source, element: e, at: d.at, group })
  }
  return out
}

/** The object of `instance`, its resource parsed (and kept) if it was left in bytes. */
function objectOf(instance: Instance): Readonly<Record<string, unknown>> {
  const { source, element } = instance
  let resource = source.parsed.get(element)
  if (resource === undefined) {
    resource = source.list.element(element)
    if (source.list.bytes !== undefined) source.parsed.set(element, resource)
  }
  return (resource as { instances: Record<string, unknown>[] }).instances[instance.at]!
}

/**
 * The changed instances between two states' resources, sorted by address,
 * and how many are unchanged. An instance at the same place of resources
 * with the same bytes on both sides is unchanged without being compared.
 * Throws `UnparsableResource` when a resource left in bytes is not JSON.
 */
export function diffResources(
  a: ResourceList | undefined,
  b: ResourceList,
): { entries: AddressChange[]; unchanged: number } {
  const groups = sharedElements(a ?? parsedResources([]), b)
  const described = new Map<number, Described[]>()
  const before = a === undefined ? new Map<string, Instance>() : instancesOf(a, groups.a, described)
  const after = instancesOf(b, groups.b, described)
  const entries: AddressChange[] = []
  let unchanged = 0
  for (const [address, old] of before) {
    const next = after.get(address)
    if (next === undefined) {
      entries.push({ address, action: 'removed', resource: old.key, changes: [], value: shown(old) })
      continue
    }
    if (old.group >= 0 && old.group === next.group && old.at === next.at) {
      unchanged++
      continue
    }
    const changes = diffInstance(old, next)
    if (changes.length === 0) unchanged++
    else entries.push({ address, action: 'changed', resource: next.key, changes })
  }
  for (const [address, next] of after) {
    if (!before.has(address))
      entries.push({ address, action: 'added', resource: next.key, changes: [], value: shown(next) })
  }
  entries.sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0))
  return { entries, unchanged }
}

function diffInstance(a: Instance, b: Instance): FieldChange[] {
  const out: FieldChange[] = []
  if (!deepEqual(a.provider, b.provider))
    out.push({ op: 'replace', path: '/provider', old: a.provider, new: b.provider })
  const objectA = objectOf(a)
  const objectB = objectOf(b)
  const sensitive = unionSensitive(sensitiveOf(objectA), sensitiveOf(objectB))
  const keys = new Set([...Object.keys(objectA), ...Object.keys(objectB)])
  for (const key of keys) {
    if (SKIPPED.has(key)) continue
    const x = objectA[key]
    const y = objectB[key]
    if (key === 'attributes') {
      diffValues(x, y, out, sensitive, ['attributes'], 1)
    } else if (key === 'private') {
      // Provider-private data: opaque, and may hold secrets; say only that it changed.
      if (!deepEqual(x, y))
        out.push({
          op: x === undefined ? 'add' : y === undefined ? 'remove' : 'replace',
          path: '/private',
          ...(x === undefined ? {} : { old: SENSITIVE_MARKER }),
          ...(y === undefined ? {} : { new: SENSITIVE_MARKER }),
          sensitive: true,
        })
    } else {
      diffValues(x, y, out, NOTHING_SENSITIVE, [key])
    }
  }
  return out
}

/** An instance as shown whole (added or removed): sensitive attributes and private data redacted. */
function shown(instance: Instance): unknown {
  const object = objectOf(instance)
  const { sensitive_attributes: _s, private: priv, ...rest } = object
  return {
    ...rest,
    ...(rest.attributes === undefined ? {} : { attributes: redact(rest.attributes, sensitiveOf(object)) }),
    ...(priv === undefined ? {} : { private: SENSITIVE_MARKER }),
  }
}

/** The attribute paths an instance object marks sensitive. */
function sensitiveOf(object: Readonly<Record<string, unknown>>): SensitivePaths {
  return parseSensitiveAttributes(object.sensitive_attributes)
}

/** One output of a state: its value, type and whether it is sensitive. */
export interface TerraformOutput {
  readonly value: unknown
  readonly type: unknown
  readonly sensitive: boolean
}

/** The outputs of a state by name (malformed entries are skipped). */
export function terraformOutputs(doc: Readonly<Record<string, unknown>>): Map<string, TerraformOutput> {
  const out = new Map<string, TerraformOutput>()
  const outputs = doc.outputs
  if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) return out
  for (const [name, raw] of Object.entries(outputs)) {
    if (typeof raw !== 'object' || raw === null) continue
    const o = raw as Record<string, unknown>
    out.set(name, { value: o.value, type: o.type, sensitive: o.sensitive === true })
  }
  return out
}

/** The outputs that differ between two states, sorted by name; sensitive on either side shows the marker. */
export function diffTerraformOutputs(
  a: Readonly<Record<string, unknown>> | undefined,
  b: Readonly<Record<string, unknown>>,
): OutputChange[] {
  const before = a === undefined ? new Map<string, TerraformOutput>() : terraformOutputs(a)
  const after = terraformOutputs(b)
  const names = [...new Set([...before.keys(), ...after.keys()])].sort()
  const out: OutputChange[] = []
  for (const name of names) {
    const x = before.get(name)
    const y = after.get(name)
    if (
      x !== undefined &&
      y !== undefined &&
      x.sensitive === y.sensitive &&
      deepEqual(x.value, y.value) &&
      deepEqual(x.type, y.type)
    )
      continue
    const sensitive = x?.sensitive === true || y?.sensitive === true
    const show = (o: TerraformOutput) => (sensitive ? SENSITIVE_MARKER : o.value)
    const action = x === undefined ? 'added' : y === undefined ? 'removed' : 'changed'
    out.push({
      name,
      action,
      ...(x === undefined ? {} : { old: show(x) }),
      ...(y === undefined ? {} : { new: show(y) }),
      sensitive,
    })
  }
  return out
}
