/**
 * CSV as the service writes it (the timeline, the audit export): RFC 4180 quoting, cells a
 * spreadsheet would run as a formula defused, and instants in Japan time with the offset, as a
 * clerk reads them in Excel. JSON keeps RFC 3339 UTC; only CSV is for people.
 */

// What a spreadsheet skips before it looks at a cell's first character: spaces (also the
// ideographic space and NBSP), zero-width characters and byte-order marks.
const IGNORED_LEAD = /^[\s\u00a0\u3000\u200b-\u200d\u2060\ufeff]*/
// A formula starts with = + - @ (or their full-width forms, which Excel and LibreOffice accept
// as the same operators); a leading tab or CR can hide one.
const FORMULA_START = /^[=+\-@\uff1d\uff0b\uff0d\uff20\t\r]/

/**
 * The one function that defuses a cell for every CSV the service writes (OWASP CSV injection):
 * a cell whose first character after the spaces and invisible characters above starts a formula
 * gets a leading apostrophe, so it is shown as text.
 */
function defuseCell(value: string): string {
  const visible = value.replace(IGNORED_LEAD, '')
  return FORMULA_START.test(visible) || /^[\t\r]/.test(value) ? `'${value}` : value
}

/** A CSV field: defused (unless `exact`, for a column kept byte for byte), then quoted when it must be. */
export function csvField(value: string, { exact = false }: { exact?: boolean } = {}): string {
  const safe = exact ? value : defuseCell(value)
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

const TOKYO_OFFSET_MS = 9 * 3600 * 1000

/** An instant in Japan time with its offset, to the second: 2025-04-01T09:30:00+09:00. */
export function japanTime(instant: Date | string): string {
  const at = typeof instant === 'string' ? new Date(instant) : instant
  if (Number.isNaN(at.getTime())) return String(instant)
  return `${new Date(at.getTime() + TOKYO_OFFSET_MS).toISOString().slice(0, 19)}+09:00`
}
