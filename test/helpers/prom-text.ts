/**
 * A strict parser of the Prometheus text exposition format (0.0.4), enough
 * for tests to read /metrics as a scraper would: every line must be a
 * comment (# HELP / # TYPE), blank, or `name{labels} value`, or parsing
 * throws. Not a test file (tap runs only *.test.ts).
 */

/** One sample: metric name, labels and value. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** A parsed exposition: every sample and each metric family's type. */
export interface Exposition {
  readonly samples: Sample[]
  readonly types: Map<string, string>
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y

/** Parses exposition `text`; throws on any line that is not valid. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) continue
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      if (name === undefined || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? ''))
        throw new Error(`line ${i + 1}: bad TYPE: ${line}`)
      types.set(name, type!)
      continue
    }
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`line ${i + 1} is not a sample: ${line}`)
    const labels: Record<string, string> = {}
    if (m[2] !== undefined && m[2] !== '') {
      LABEL.lastIndex = 0
      let consumed = 0
      for (let l = LABEL.exec(m[2]); l !== null; l = LABEL.exec(m[2])) {
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
        consumed = LABEL.lastIndex
      }
      if (consumed !== m[2].length) throw new Error(`line ${i + 1}: bad labels: ${line}`)
    }
    const raw = m[3]!
    const value = raw === 'NaN' ? NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw)
    if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`line ${i + 1}: bad value: ${line}`)
    samples.push({ name: m[1]!, labels, value })
  }
  return { samples, types }
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none matches. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}

/** Every sample named `name`. */
export function samplesOf(exposition: Exposition, name: string): Sample[] {
  return exposition.samples.filter((s) => s.name === name)
}
