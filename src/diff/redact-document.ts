/**
 * A whole stored document with its sensitive values replaced by the marker,
 * for an operator who must read a rev (`?redacted=true` on a rev or on
 * current) without being handed its secrets. The same rules as diffs and
 * outputs: Terraform outputs marked `sensitive`, each resource instance's
 * attributes at its `sensitive_attributes` paths (an unreadable list hides
 * the instance's attributes whole), and the provider's opaque `private`
 * data. unobin snapshots mark nothing sensitive and come back as stored
 * (parsed and re-serialised). Client-encrypted states cannot be read at all.
 */
import { StateError } from '../errors.js'
import type { ParsedDocument } from './document.js'
import { SENSITIVE_MARKER, parseSensitiveAttributes, redact } from './redaction.js'

/** The document of `doc` with every sensitive value replaced. Throws `opaque-state` for a client-encrypted state. */
export function redactDocument(doc: ParsedDocument, where: string): Readonly<Record<string, unknown>> {
  if (doc.kind === 'opaque' || doc.doc === undefined) {
    throw new StateError(
      'opaque-state',
      `rev ${doc.rev} of ${where} was encrypted by its client (or is not JSON): the server cannot show it redacted; read it with the tool that holds the key`,
      { rev: doc.rev },
    )
  }
  if (doc.kind === 'unobin') return doc.doc
  const state = doc.doc
  return {
    ...state,
    ...(isRecord(state.outputs) ? { outputs: mapValues(state.outputs, redactOutput) } : {}),
    ...(Array.isArray(state.resources) ? { resources: state.resources.map(redactResource) } : {}),
  }
}

function redactOutput(output: unknown): unknown {
  if (!isRecord(output) || output.sensitive !== true) return output
  return { ...output, value: SENSITIVE_MARKER }
}

function redactResource(resource: unknown): unknown {
  if (!isRecord(resource) || !Array.isArray(resource.instances)) return resource
  return { ...resource, instances: resource.instances.map(redactInstance) }
}

function redactInstance(instance: unknown): unknown {
  if (!isRecord(instance)) return instance
  const sensitive = parseSensitiveAttributes(instance.sensitive_attributes)
  const out: Record<string, unknown> = { ...instance }
  if (instance.attributes !== undefined) out.attributes = redact(instance.attributes, sensitive)
  // The flat (pre-v4) form cannot be matched against paths: hidden whole when anything is sensitive.
  if (instance.attributes_flat !== undefined && (sensitive === 'all' || sensitive.length > 0))
    out.attributes_flat = SENSITIVE_MARKER
  if (instance.private !== undefined) out.private = SENSITIVE_MARKER
  return out
}

function mapValues(record: Readonly<Record<string, unknown>>, fn: (v: unknown) => unknown): Record<string, unknown> {
  // Object.fromEntries defines own properties: a key named __proto__ stays a key.
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v)]))
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
