import type { Db } from '../kernel/db.ts'
import { todayInTokyo } from '../kernel/time.ts'
import { publishDeadlineWarnings } from './incidents.repository.ts'

/**
 * The background job behind `incident.report_due` and `incident.report_overdue` on the change
 * feed. Safe on every instance at once: each warning is a unique row inserted with ON CONFLICT DO
 * NOTHING in the statement that publishes it (incidents.repository.ts), so whichever instance
 * inserts it publishes it, once.
 */
export async function warnIncidentDeadlines(db: Db, options: { today?: string } = {}): Promise<{ today: string; published: number }> {
  const today = options.today ?? todayInTokyo()
  return { today, published: await publishDeadlineWarnings(db, today) }
}
