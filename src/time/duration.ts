/**
 * Durations as people write them in settings: whole seconds, or a number
 * with a unit. Kept apart from the settings that use it (retention, trash
 * window) so any setting can take the same form.
 */

/**
 * Parses a duration: a whole number of seconds, or a number with a unit
 * (`s`, `m`, `h`, `d`): `90`, `15m`, `12h`, `30d`. Returns milliseconds, or
 * undefined when `text` is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim())
  if (m === null) return undefined
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as '' | 's' | 'm' | 'h' | 'd']
  return Number(m[1]) * unit
}
