/**
 * Dates as the office counts them: calendar days in Asia/Tokyo (UTC+9, no daylight saving),
 * written 'YYYY-MM-DD'. The fiscal year (年度) runs April 1 to March 31.
 */
const TOKYO_OFFSET_MS = 9 * 3600 * 1000

/** How far in the future a reported instant may lie: clocks of devices at the counter drift. */
const CLOCK_SKEW_MS = 2 * 60 * 1000

/** Whether an instant someone reports (occurred_at, started_at) lies in the future beyond clock drift. */
export function isInTheFuture(instant: Date, now: number = Date.now()): boolean {
  return instant.getTime() > now + CLOCK_SKEW_MS
}

/** The Tokyo calendar date of an instant. */
export function tokyoDate(instant: Date = new Date()): string {
  return new Date(instant.getTime() + TOKYO_OFFSET_MS).toISOString().slice(0, 10)
}

/** Today in Tokyo. */
export const todayInTokyo = (): string => tokyoDate(new Date())

/** date + n calendar days. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + days)
  return d.toISOString().slice(0, 10)
}

/** date + n years, clamping Feb 29 to Feb 28. */
export function addYears(date: string, years: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  const target = new Date(Date.UTC(y + years, m - 1, d))
  if (target.getUTCMonth() !== m - 1) target.setUTCDate(0)
  return target.toISOString().slice(0, 10)
}

/** The fiscal year (年度) a date falls in: 2025-03-31 → 2024, 2025-04-01 → 2025. */
export function fiscalYear(date: string): number {
  const [y, m] = date.split('-').map(Number) as [number, number]
  return m >= 4 ? y : y - 1
}

/** April 1 of the fiscal year after the one `date` falls in (起算日 under 施行令第8条). */
export function nextFiscalYearStart(date: string): string {
  return `${fiscalYear(date) + 1}-04-01`
}

/** Day of the week, 0 = Sunday … 6 = Saturday. */
export function weekday(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay()
}
