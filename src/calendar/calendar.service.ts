import type { Queryable } from '../kernel/db.js'
import { policyVersionsGoverning } from '../policies/policies.repository.js'
import { addDays } from '../kernel/time.js'
import { assertInCalendar, dueDate, holidaysBetween, type Deadline, type DeadlineKind, type OfficeHoliday } from './calendar.rules.js'

/**
 * The office calendar read from the database: loads the calendar policy versions that govern
 * the dates asked about and hands them to the pure rules (calendar.rules.ts). Other domains
 * (disclosure decisions, breach reports) count their deadlines with `officeDueDate` and record
 * the `calendar_version_ids` it returns with what they decided.
 */

/** Office holidays from `from` to `to` inclusive, each decided by the calendar version in force that day. */
export async function officeHolidays(q: Queryable, from: string, to: string): Promise<{ items: OfficeHoliday[]; calendarVersionIds: string[] }> {
  assertInCalendar(from)
  assertInCalendar(to)
  const versions = await policyVersionsGoverning(q, 'calendar', from, to)
  const items = holidaysBetween(from, to, versions)
  // The versions in force on some date of the range, whether or not a holiday fell under them.
  return { items, calendarVersionIds: versions.map((v) => v.id) }
}

/** The due date of `days` calendar days from `start` (see `dueDate`), with the versions that decided it. */
export async function officeDueDate(q: Queryable, start: string, days: number, kind: DeadlineKind = 'filing'): Promise<Deadline> {
  assertInCalendar(start)
  const raw = addDays(start, days)
  assertInCalendar(raw)
  // Every version from the one in force on the raw due date on: rolling forward may cross into later ones.
  const versions = await policyVersionsGoverning(q, 'calendar', raw, null)
  return dueDate(start, days, versions, kind)
}
