import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely'
import type { Reach } from '../kernel/access.ts'
import type { Caller } from '../kernel/auth.ts'
import type { Database, Queryable } from '../kernel/db.ts'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import type { CaseCategory, CaseChannel, Severity } from '../policies/case-vocabulary.ts'
import type { CaseStatus } from './case-status.ts'
import { casesRespondedBy } from './cases.repository.ts'

/**
 * The cases module's face for statistics (統計): one row of facts per case from the
 * `case_statistics` summary table, which triggers keep exact in the transaction of every write
 * to a case or its events (migrations/0016_case_statistics.sql). Other modules aggregate these
 * rows; they never read the case tables.
 */

export interface CaseFactFilters {
  /** Tokyo dates, both inclusive, on the day the case occurred. */
  from: string
  to: string
  orgUnitId?: string
  channel?: CaseChannel
  category?: CaseCategory
  severity?: Severity
  status?: CaseStatus
}

/**
 * How far a case got on the escalation ladder of the Tokyo common manual, furthest step first:
 * the "outcome" statistics group by (対応の到達段階).
 */
export const CASE_OUTCOMES = ['entry_ban', 'police', 'final_warning', 'exit_order', 'stop_request', 'conversation_ended', 'none'] as const
export type CaseOutcome = (typeof CASE_OUTCOMES)[number]

type StatsEb = ExpressionBuilder<Database, 'case_statistics'>

function factsInReach(q: Queryable, reach: Reach, caller: Caller) {
  return (eb: StatsEb): Expression<SqlBool> => {
    switch (reach) {
      case 'all':
        return sql<SqlBool>`true`
      case 'unit':
        return caller.orgUnit ? eb('case_statistics.org_unit_id', 'in', unitSubtree(q, caller.orgUnit)) : sql<SqlBool>`false`
      case 'own':
        return eb('case_statistics.case_id', 'in', casesRespondedBy(q, caller.subject))
    }
  }
}

/**
 * The facts of the cases in reach that match the filters, as a subquery with the columns
 * case_id, org_unit_id, channel, categories, severity, status, month ('YYYY-MM', Tokyo),
 * fiscal_year, outcome, handled_alone_forbidden, responder_shortfall_seen, escalated, the ladder
 * and apology counts, closed, days_to_close (fractional days from occurred_at to closing),
 * with_recordings and with_notice_missing (recordings made without the notice required). Month,
 * outcome and days to close are stored with the row (generated columns, migrations/0018), not
 * computed per request; the recording counts are kept by a trigger on recordings.
 */
export function caseFacts(q: Queryable, reach: Reach, caller: Caller, filters: CaseFactFilters) {
  let query = q
    .selectFrom('case_statistics')
    .select([
      'case_id',
      'org_unit_id',
      'channel',
      'categories',
      'severity',
      'status',
      'month',
      'fiscal_year',
      sql<CaseOutcome>`outcome`.as('outcome'),
      'handled_alone_forbidden',
      'responder_shortfall_seen',
      sql<boolean>`escalations > 0`.as('escalated'),
      'stop_requests',
      'exit_orders',
      'final_warnings',
      'police_calls',
      'police_consultations',
      'limited_apologies',
      'faults_acknowledged',
      sql<boolean>`closed_at is not null`.as('closed'),
      'days_to_close',
      sql<boolean>`recordings > 0`.as('with_recordings'),
      sql<boolean>`recordings_notice_missing > 0`.as('with_notice_missing'),
    ])
    .where(factsInReach(q, reach, caller))
    .where('occurred_on', '>=', filters.from)
    .where('occurred_on', '<=', filters.to)
  if (filters.orgUnitId) query = query.where('org_unit_id', 'in', unitSubtree(q, filters.orgUnitId))
  if (filters.channel) query = query.where('channel', '=', filters.channel)
  if (filters.category) query = query.where('categories', '@>', sql<CaseCategory[]>`array[${filters.category}]::text[]`)
  if (filters.severity) query = query.where('severity', '=', filters.severity)
  if (filters.status) query = query.where('status', '=', filters.status)
  return query
}

/** 複数名で対応: remembers that the case lacked responders while it was handled (never forgotten). */
export async function noteResponderShortfall(q: Queryable, caseId: string): Promise<void> {
  await q.updateTable('case_statistics').set({ responder_shortfall_seen: true }).where('case_id', '=', caseId).execute()
}
