/**
 * The human diff for curl users (`Accept: text/plain`): a header naming both
 * revs, then one block per address with `+` (added), `-` (removed) and `~`
 * (changed) lines, the changed fields indented under their address, then the
 * outputs. Long values are cut so one giant attribute cannot flood a
 * terminal; the JSON answer has them whole.
 */
import type { Diff } from './diff-result.js'
import type { DocumentFacts } from './document.js'
import type { FieldChange } from './value-diff.js'

/** Longest rendering of one value before it is cut. */
const MAX_VALUE = 160

const SIGN = { added: '+', removed: '-', changed: '~' } as const
const OP_SIGN = { add: '+', remove: '-', replace: '~' } as const

/** Renders `diff` as text (ends with a newline). */
export function renderDiffText(diff: Diff): string {
  const lines: string[] = [`--- ${side(diff.from)}`, `+++ ${side(diff.to)}`]
  if (!diff.comparable) {
    lines.push(diff.detail ?? 'the contents cannot be compared')
    lines.push(diff.identical ? 'the bytes are identical' : `sizes: ${diff.from?.bytes ?? 0} -> ${diff.to.bytes} bytes`)
    return `${lines.join('\n')}\n`
  }
  for (const change of diff.header) lines.push(field(change, ''))
  for (const entry of diff.entries) {
    lines.push(`${SIGN[entry.action]} ${entry.address}`)
    for (const change of entry.changes) lines.push(field(change, '    '))
  }
  if (diff.outputs.length > 0) {
    lines.push('outputs:')
    for (const o of diff.outputs) {
      const label = `  ${SIGN[o.action]} ${o.name}`
      if (o.action === 'added') lines.push(`${label} = ${show(o.new)}`)
      else if (o.action === 'removed') lines.push(`${label} = ${show(o.old)}`)
      else lines.push(o.sensitive ? `${label}: (sensitive) changed` : `${label}: ${show(o.old)} -> ${show(o.new)}`)
    }
  }
  const s = diff.summary
  lines.push(
    diff.entries.length === 0 && diff.outputs.length === 0 && diff.header.length === 0
      ? 'no changes'
      : `${s.added} added, ${s.changed} changed, ${s.removed} removed, ${s.unchanged} unchanged; ${s.outputs} outputs changed`,
  )
  return `${lines.join('\n')}\n`
}

function side(facts: DocumentFacts | null): string {
  if (facts === null) return '(nothing: the first rev)'
  const serial = facts.serial === null ? '' : `, serial ${facts.serial}`
  return `${facts.rev} (${facts.kind}${serial}, ${facts.bytes} bytes)`
}

function field(change: FieldChange, indent: string): string {
  const sign = OP_SIGN[change.op]
  if (change.sensitive === true)
    return `${indent}${sign} ${change.path}: (sensitive)${change.op === 'replace' ? ' changed' : ''}`
  if (change.op === 'add') return `${indent}${sign} ${change.path} = ${show(change.new)}`
  if (change.op === 'remove') return `${indent}${sign} ${change.path} = ${show(change.old)}`
  return `${indent}${sign} ${change.path}: ${show(change.old)} -> ${show(change.new)}`
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null'
  return text.length <= MAX_VALUE ? text : `${text.slice(0, MAX_VALUE)}… (${text.length} characters)`
}
