import { appendAuditEntries } from '../kernel/audit.ts'
import type { Db, Trx } from '../kernel/db.ts'
import { HttpProblem } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { type DomainChange, publishChanges } from '../kernel/outbox.ts'
import { todayInTokyo } from '../kernel/time.ts'
import type { PolicyVersion } from '../policies/policies.schemas.ts'
import { policyInForce } from '../policies/policies.repository.ts'
import { SYSTEM_ACTOR } from '../staff/staff.repository.ts'
import { type ComputedDeadline, computeDeadline, deadlineColumns } from './disclosure-deadline.service.ts'
import { moveDeadline, publishDeadlineNotices, runningRequests } from './disclosure-requests.repository.ts'
import { requestChange } from './disclosure-requests.service.ts'
import { takeJobLock } from '../kernel/job-lock.ts'

/**
 * The deadline job, run by every instance (DISCLOSURE_DEADLINE_INTERVAL_MS). One round, in one
 * transaction:
 *
 * 1. Deadlines of the requests whose deadline runs are counted again, since the calendar they
 *    were counted on can change after the fact (a closure announced, a disclosure or calendar
 *    policy version taking effect on the received date). A moved deadline is written, unless
 *    the request changed meanwhile, and published (`disclosure_request.deadline_moved`).
 * 2. The notices due today are published (`disclosure_request.deadline_approaching` when a
 *    request enters its warning window, `…deadline_missed` once its due date has passed
 *    undecided), each exactly once per request and deadline: see publishDeadlineNotices.
 *
 * Instances take turns under a transaction-scoped advisory lock (one that finds it taken does
 * nothing this round); the unique notice rows alone would already keep a notice from being
 * published twice.
 */
const DEADLINE_LOCK_KEY = 0x6d61_640c

export interface DeadlineRound {
  today: string
  moved: number
  approaching: number
  missed: number
  /** true when another instance held the lock: this one did nothing. */
  skipped: boolean
}

async function refreshDeadlines(trx: Trx, today: string): Promise<number> {
  const policies = new Map<string, PolicyVersion<'disclosure'>>()
  // Requests received on one day, of one kind, without corrections or extension share a deadline.
  const counted = new Map<string, Promise<ComputedDeadline | null>>()
  const changes: DomainChange[] = []
  for (const request of await runningRequests(trx)) {
    let policy = policies.get(request.received_date)
    if (!policy) {
      policy = await policyInForce(trx, 'disclosure', request.received_date)
      policies.set(request.received_date, policy)
    }
    const facts = { kind: request.kind, received_date: request.received_date, corrections: request.corrections, extension_days: request.extension_days }
    const key = JSON.stringify([policy.id, facts])
    let computing = counted.get(key)
    if (!computing) {
      // A calendar that cannot answer (dates beyond its data) leaves the deadline as it was.
      computing = computeDeadline(trx, facts, policy).catch((error: unknown) => {
        if (error instanceof HttpProblem) return null
        throw error
      })
      counted.set(key, computing)
    }
    const computed = await computing
    if (!computed) continue
    const columns = deadlineColumns(computed)
    if (columns.due_date === request.due_date && columns.warn_from === request.warn_from && columns.disclosure_policy_id === request.disclosure_policy_id)
      continue
    const row = await moveDeadline(trx, request.id, request.version, columns)
    if (!row) continue
    changes.push(requestChange('deadline_moved', row, { previous_due_date: request.due_date, due_date: row.due_date, today }))
  }
  for (let i = 0; i < changes.length; i += 1000) await publishChanges(trx, changes.slice(i, i + 1000))
  return changes.length
}

export async function runDeadlineRound(db: Db, options: { today?: string } = {}): Promise<DeadlineRound> {
  const today = options.today ?? todayInTokyo()
  return db.transaction().execute(async (trx) => {
    if (!(await takeJobLock(trx, DEADLINE_LOCK_KEY, { wait: false }))) return { today, moved: 0, approaching: 0, missed: 0, skipped: true }
    const moved = await refreshDeadlines(trx, today)
    const notices = await publishDeadlineNotices(trx, today)
    if (moved + notices.approaching + notices.missed > 0) {
      await appendAuditEntries(trx, [
        {
          subject: SYSTEM_ACTOR,
          roles: [],
          orgUnit: null,
          action: 'disclosureDeadlines',
          route: 'JOB disclosure-deadlines',
          resourceType: 'disclosure_request',
          resourceId: null,
          outcome: 'allowed',
          status: 200,
          requestId: newId(),
          clientAddress: null,
          details: { today, moved, ...notices },
        },
      ])
    }
    return { today, moved, ...notices, skipped: false }
  })
}
