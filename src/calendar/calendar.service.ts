import type { ServiceContext } from '../kernel/context.ts'
import type { Queryable } from '../kernel/db.ts'
import { badRequest, HttpProblem } from '../kernel/errors.ts'
import { addDays, addYears } from '../kernel/time.ts'
import { policyVersionsGoverning } from '../policies/policies.repository.ts'
import {
  assertInCalendar,
  CALENDAR_FIRST_DATE,
  CALENDAR_LAST_DATE,
  CalendarError,
  type Deadline,
  type DeadlineKind,
  dueDate,
  holidaysBetween,
  type OfficeHoliday,
} from './calendar.rules.ts'
import { MAX_HOLIDAY_RANGE_YEARS } from './calendar.schemas.ts'

/**
 * The office calendar read from the database: loads the calendar policy versions that govern
 * the dates asked about and hands them to the pure rules (calendar.rules.ts). Other domains
 * (disclosure decisions, breach reports) count their deadlines with `officeDueDate` and record
 * the `calendar_version_ids` it returns with what they decided.
 */

/** Office holidays from `from` to `to` inclusive, each decided by the calendar version in force that day. */
async function officeHolidays(q: Queryable, from: string, to: string): Promise<{ items: OfficeHoliday[]; calendarVersionIds: string[] }> {
  assertInCalendar(from)
  assertInCalendar(to)
  const versions = await policyVersionsGoverning(q, 'calendar', from, to)
  const items = holidaysBetween(from, to, versions)
  // The versions in force on some date of the range, whether or not a holiday fell under them.
  return { items, calendarVersionIds: versions.map((v) => v.id) }
}

/**
 * The due date of `days` calendar days from `start` (see `dueDate`), with the versions that decided
 * it. Other domains count their deadlines with it; `rollForward` is their own policy's answer to
 * whether a deadline on an office holiday moves (absent: the calendar policy's, for `kind`).
 * Throws CalendarError when the calendar cannot answer.
 */
export async function officeDueDate(q: Queryable, start: string, days: number, kind: DeadlineKind = 'filing', rollForward?: boolean): Promise<Deadline> {
  assertInCalendar(start)
  const raw = addDays(start, days)
  assertInCalendar(raw)
  // Every version from the one in force on the raw due date on: rolling forward may cross into later ones.
  const versions = await policyVersionsGoverning(q, 'calendar', raw, null)
  return dueDate(start, days, versions, kind, rollForward)
}

/** 400 naming the query parameter when a date lies outside the dates the calendar covers. */
function assertCovered(date: string, pointer: string): void {
  if (date < CALENDAR_FIRST_DATE || date > CALENDAR_LAST_DATE) {
    throw badRequest({ id: 'calendar.date_outside', params: { date, first: CALENDAR_FIRST_DATE, last: CALENDAR_LAST_DATE } }, [
      { pointer, message: { id: 'calendar.must_lead_within', params: { first: CALENDAR_FIRST_DATE, last: CALENDAR_LAST_DATE } } },
    ])
  }
}

/** A calendar that cannot answer (a deadline rolling past its last date, or no working day at all). */
function asProblem(error: unknown): unknown {
  if (!(error instanceof CalendarError)) return error
  if (error.reason === 'out_of_range') return badRequest(error.detail, [{ pointer: 'querystring/days', message: 'calendar.due_outside' }])
  return new HttpProblem(422, 'unprocessable', error.detail)
}

/** GET /v1/calendar/holidays: the office holidays of a range of at most MAX_HOLIDAY_RANGE_YEARS years. */
export async function holidaysFromTo(ctx: ServiceContext, from: string, to: string) {
  assertCovered(from, 'querystring/from')
  assertCovered(to, 'querystring/to')
  if (to < from) throw badRequest({ id: 'calendar.to_before_from', params: { to, from } }, [{ pointer: 'querystring/to', message: 'calendar.not_before_from' }])
  if (to > addDays(addYears(from, MAX_HOLIDAY_RANGE_YEARS), -1)) {
    throw badRequest({ id: 'calendar.range_too_long', params: { years: MAX_HOLIDAY_RANGE_YEARS } }, [
      { pointer: 'querystring/to', message: { id: 'calendar.within_years', params: { years: MAX_HOLIDAY_RANGE_YEARS } } },
    ])
  }
  const { items, calendarVersionIds } = await officeHolidays(ctx.db, from, to)
  ctx.audit.details = { from, to, count: items.length }
  return { from, to, items, calendar_version_ids: calendarVersionIds }
}

/** GET /v1/calendar/deadline: the due date of `days` calendar days from `start`. */
export async function deadlineOf(ctx: ServiceContext, start: string, days: number, kind: DeadlineKind): Promise<Deadline> {
  assertCovered(start, 'querystring/start')
  assertCovered(addDays(start, days), 'querystring/days')
  try {
    const deadline = await officeDueDate(ctx.db, start, days, kind)
    ctx.audit.details = { start, days, kind, due_date: deadline.due_date, calendar_version_ids: deadline.calendar_version_ids }
    return deadline
  } catch (error) {
    throw asProblem(error)
  }
}
