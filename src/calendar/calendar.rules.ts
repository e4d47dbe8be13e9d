import holidayJp from '@holiday-jp/holiday_jp'
import { POLICY_EPOCH, type PolicyVersion } from '../policies/policies.schemas.ts'
import { addDays, weekday } from '../kernel/time.ts'
import { type Message, render } from '../kernel/messages/index.ts'

/**
 * The office calendar, as pure functions of dates ('YYYY-MM-DD', Asia/Tokyo) and calendar
 * policy versions. No database, no clock: callers pass the versions in force (see
 * calendar.service.ts), and every answer names the version that decided each date.
 *
 * Office holidays (行政機関の休日に関する法律第1条, mirrored by municipal ordinances under
 * 地方自治法第4条の2): Saturdays and Sundays, national holidays (国民の祝日に関する法律, from
 * @holiday-jp/holiday_jp, never a hand-written list), December 29 to January 3, and the closures
 * of the calendar policy version in force on that date.
 */

export type CalendarVersion = PolicyVersion<'calendar'>

export type HolidayReason =
  | { kind: 'weekend'; day: 'saturday' | 'sunday' }
  | { kind: 'national_holiday'; name: string; name_en: string }
  | { kind: 'year_end' }
  | { kind: 'closure'; reason: string; from: string; to: string }

export interface OfficeHoliday {
  date: string
  /** Every reason the date is a holiday (a date may have several, e.g. 元日 is also year-end). */
  reasons: HolidayReason[]
  /** The calendar policy version in force on the date, which decided it. */
  calendar_version_id: string
}

/** Deadlines for acts toward the office (申請・届出: 第2条 moves them), or the office's own decisions. */
export type DeadlineKind = 'filing' | 'office_decision'

export interface Deadline {
  start: string
  days: number
  kind: DeadlineKind
  /** The first day counted: the day after start (民法第140条, 初日不算入). */
  counted_from: string
  /** start + days calendar days. */
  raw_due_date: string
  raw_due_date_is_holiday: boolean
  /** Whether a due date on an office holiday moves to the next working day (always for filings). */
  roll_forward: boolean
  due_date: string
  /** The office holidays moved over, from the raw due date to the day before the due date. */
  skipped: OfficeHoliday[]
  /** The calendar policy versions that decided the dates looked at (raw due date to due date). */
  calendar_version_ids: string[]
}

const NATIONAL_HOLIDAYS: Readonly<Record<string, { name: string; name_en: string }>> = holidayJp.holidays

/** The dates the calendar answers for: from the shipped default policy to the end of the national holiday data. */
export const CALENDAR_FIRST_DATE = POLICY_EPOCH
export const CALENDAR_LAST_DATE = `${Math.max(...Object.keys(NATIONAL_HOLIDAYS).map((d) => Number(d.slice(0, 4))))}-12-31`

/** Rolling forward stops after this many consecutive holidays (closures are at most 366 days each). */
const MAX_CONSECUTIVE_HOLIDAYS = 800

export class CalendarError extends Error {
  override readonly name = 'CalendarError'
  readonly reason: 'out_of_range' | 'no_working_day'
  readonly detail: Message
  constructor(reason: 'out_of_range' | 'no_working_day', detail: Message) {
    super(render(detail, 'en'))
    this.reason = reason
    this.detail = detail
  }
}

/** Throws when the national holiday data does not cover the date: never a silent guess. */
export function assertInCalendar(date: string): void {
  if (date < CALENDAR_FIRST_DATE || date > CALENDAR_LAST_DATE) {
    throw new CalendarError('out_of_range', { id: 'calendar.date_outside', params: { date, first: CALENDAR_FIRST_DATE, last: CALENDAR_LAST_DATE } })
  }
}

/** Why a date is an office holiday under the calendar version in force on it; [] on a working day. */
export function holidayReasons(date: string, calendar: CalendarVersion): HolidayReason[] {
  assertInCalendar(date)
  const reasons: HolidayReason[] = []
  const day = weekday(date)
  if (day === 0 || day === 6) reasons.push({ kind: 'weekend', day: day === 6 ? 'saturday' : 'sunday' })
  const national = NATIONAL_HOLIDAYS[date]
  if (national) reasons.push({ kind: 'national_holiday', name: national.name, name_en: national.name_en })
  const monthDay = date.slice(5)
  if (monthDay >= '12-29' || monthDay <= '01-03') reasons.push({ kind: 'year_end' })
  for (const closure of calendar.body.closures) {
    if (closure.from <= date && date <= closure.to) reasons.push({ kind: 'closure', reason: closure.reason, from: closure.from, to: closure.to })
  }
  return reasons
}

export function isOfficeHoliday(date: string, calendar: CalendarVersion): boolean {
  return holidayReasons(date, calendar).length > 0
}

/**
 * The version in force on a date among `versions` (oldest first, as the repository returns
 * them): the latest whose effective date is on or before it.
 */
export function calendarVersionOn(versions: readonly CalendarVersion[], date: string): CalendarVersion {
  let found: CalendarVersion | undefined
  for (const v of versions) {
    if (v.effective_from <= date) found = v
    else break
  }
  if (!found) throw new Error(`no calendar version given for ${date}`)
  return found
}

/** The office holidays from `from` to `to` (inclusive), each decided by the version in force that day. */
export function holidaysBetween(from: string, to: string, versions: readonly CalendarVersion[]): OfficeHoliday[] {
  assertInCalendar(from)
  assertInCalendar(to)
  const out: OfficeHoliday[] = []
  for (let date = from; date <= to; date = addDays(date, 1)) {
    const calendar = calendarVersionOn(versions, date)
    const reasons = holidayReasons(date, calendar)
    if (reasons.length > 0) out.push({ date, reasons, calendar_version_id: calendar.id })
  }
  return out
}

/**
 * The due date of a period of `days` calendar days from `start`: counting begins the day after
 * start (民法第140条, 初日不算入), so the period ends on start + days; an end on an office
 * holiday moves to the next working day (行政機関の休日に関する法律第2条). Holidays inside the
 * period do not extend it. For the office's own decisions the move happens only when the calendar
 * version in force on the raw due date says so (`office_decisions_roll_forward`, default true),
 * unless the caller's own rule says (`rollForward`: a domain policy that settles the question).
 *
 * `versions` must include the version in force on start + days and every later one.
 */
export function dueDate(
  start: string,
  days: number,
  versions: readonly CalendarVersion[],
  kind: DeadlineKind = 'filing',
  rollForwardOverride?: boolean,
): Deadline {
  if (!Number.isInteger(days) || days < 0) throw new RangeError(`days must be a whole number ≥ 0, not ${days}`)
  assertInCalendar(start)
  const raw = addDays(start, days)
  assertInCalendar(raw)
  const rawCalendar = calendarVersionOn(versions, raw)
  const rollForward = rollForwardOverride ?? (kind === 'filing' || rawCalendar.body.office_decisions_roll_forward !== false)
  const used = new Set<string>([rawCalendar.id])
  const skipped: OfficeHoliday[] = []
  let due = raw
  let reasons = holidayReasons(raw, rawCalendar)
  const rawIsHoliday = reasons.length > 0
  while (rollForward && reasons.length > 0) {
    skipped.push({ date: due, reasons, calendar_version_id: calendarVersionOn(versions, due).id })
    if (skipped.length >= MAX_CONSECUTIVE_HOLIDAYS) {
      throw new CalendarError('no_working_day', { id: 'calendar.no_working_day', params: { days: MAX_CONSECUTIVE_HOLIDAYS, date: raw } })
    }
    due = addDays(due, 1)
    assertInCalendar(due)
    const calendar = calendarVersionOn(versions, due)
    used.add(calendar.id)
    reasons = holidayReasons(due, calendar)
  }
  return {
    start,
    days,
    kind,
    counted_from: addDays(start, 1),
    raw_due_date: raw,
    raw_due_date_is_holiday: rawIsHoliday,
    roll_forward: rollForward,
    due_date: due,
    skipped,
    calendar_version_ids: [...used],
  }
}
