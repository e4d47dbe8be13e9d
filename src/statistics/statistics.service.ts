import { sql, type RawBuilder } from 'kysely'
import type { Queryable } from '../kernel/db.js'
import { caseFacts, type CaseFactFilters } from '../cases/case-statistics.repository.js'
import type { ServiceContext } from '../kernel/context.js'
import { unprocessable } from '../kernel/errors.js'
import { fiscalYear, todayInTokyo } from '../kernel/time.js'
import { recordingsOfCase } from '../recordings/recordings.repository.js'
import type { CaseDimension, CaseMeasures, CaseStatistics, CaseStatisticsQuery } from './statistics.schemas.js'
import { type Published, SUPPRESSION_RULE, suppressCell, suppressTotal } from './suppression.js'

/**
 * Statistics for policy making. Figures come from the cases module's per-case facts (an exact
 * summary table kept by triggers) and, per case, whether the recordings module holds recordings
 * of it (EXISTS on its index), aggregated in one statement. Callers who read cases
 * (statistics:exact) get exact figures within their reach; others (auditors, admins) get every
 * unit with small cells suppressed.
 */

/** The period: from/to (inclusive Tokyo dates) or a fiscal year; the current fiscal year by default. */
function periodOf(query: Pick<CaseStatisticsQuery, 'from' | 'to' | 'fiscal_year'>): { from: string; to: string } {
  if (query.fiscal_year !== undefined) {
    if (query.from !== undefined || query.to !== undefined) {
      throw unprocessable('statistics.year_or_period', [{ pointer: 'query/fiscal_year', message: 'statistics.with_from_to' }])
    }
    return { from: `${query.fiscal_year}-04-01`, to: `${query.fiscal_year + 1}-03-31` }
  }
  if ((query.from === undefined) !== (query.to === undefined)) {
    throw unprocessable('statistics.period_needs_both', [{ pointer: query.from ? 'query/to' : 'query/from', message: 'field.required' }])
  }
  if (query.from !== undefined && query.to !== undefined) {
    if (query.from > query.to) throw unprocessable('statistics.period_reversed', [{ pointer: 'query/to', message: 'statistics.before_from' }])
    return { from: query.from, to: query.to }
  }
  const fy = fiscalYear(todayInTokyo())
  return { from: `${fy}-04-01`, to: `${fy + 1}-03-31` }
}

function dimensionsOf(groupBy: string | undefined): CaseDimension[] {
  const dims = groupBy ? (groupBy.split(',') as CaseDimension[]) : []
  if (new Set(dims).size !== dims.length)
    throw unprocessable('statistics.dimension_twice', [{ pointer: 'query/group_by', message: 'statistics.repeats_dimension' }])
  return dims
}

/**
 * The column of the facts (f, and c for the unnested category) each dimension groups by. Codes
 * and months sort bytewise (collate "C"): grouping sorts every row, and a locale's collation made
 * that sort half the request's time.
 */
const DIMENSION_COLUMNS: Record<CaseDimension, { key: string; column: RawBuilder<unknown> }> = {
  month: { key: 'month', column: sql`f.month collate "C"` },
  fiscal_year: { key: 'fiscal_year', column: sql`f.fiscal_year` },
  org_unit: { key: 'org_unit_id', column: sql`f.org_unit_id` },
  channel: { key: 'channel', column: sql`f.channel collate "C"` },
  category: { key: 'category', column: sql`c.category collate "C"` },
  severity: { key: 'severity', column: sql`f.severity collate "C"` },
  status: { key: 'status', column: sql`f.status collate "C"` },
  outcome: { key: 'outcome', column: sql`f.outcome collate "C"` },
}

const COUNT_MEASURES = [
  'cases',
  'not_handled_alone',
  'not_handled_alone_with_shortfall',
  'escalated',
  'stop_requests',
  'exit_orders',
  'final_warnings',
  'police_calls',
  'police_consultations',
  'limited_apologies',
  'faults_acknowledged',
  'closed',
  'with_recordings',
  'with_notice_missing',
] as const

const measures = (q: Queryable) => sql`count(*)::int as cases,
  (count(*) filter (where f.handled_alone_forbidden))::int as not_handled_alone,
  (count(*) filter (where f.handled_alone_forbidden and f.responder_shortfall_seen))::int as not_handled_alone_with_shortfall,
  (count(*) filter (where f.escalated))::int as escalated,
  coalesce(sum(f.stop_requests), 0)::int as stop_requests,
  coalesce(sum(f.exit_orders), 0)::int as exit_orders,
  coalesce(sum(f.final_warnings), 0)::int as final_warnings,
  coalesce(sum(f.police_calls), 0)::int as police_calls,
  coalesce(sum(f.police_consultations), 0)::int as police_consultations,
  coalesce(sum(f.limited_apologies), 0)::int as limited_apologies,
  coalesce(sum(f.faults_acknowledged), 0)::int as faults_acknowledged,
  (count(*) filter (where f.closed))::int as closed,
  percentile_cont(0.5) within group (order by f.days_to_close) as days_to_close_median,
  percentile_cont(0.9) within group (order by f.days_to_close) as days_to_close_p90,
  (count(*) filter (where exists (${recordingsOfCase(q, sql<string>`f.case_id`)})))::int as with_recordings,
  (count(*) filter (where exists (${recordingsOfCase(q, sql<string>`f.case_id`, { noticeMissing: true })})))::int as with_notice_missing`

type RawMeasures = Record<(typeof COUNT_MEASURES)[number], number> & { days_to_close_median: number | null; days_to_close_p90: number | null }

const days = (value: number | null) => (value === null ? null : Math.round(Number(value) * 10) / 10)

function publish(raw: RawMeasures, suppress: ((n: number) => Published) | null): CaseMeasures {
  const out: Record<string, Published | number | null> = {}
  for (const m of COUNT_MEASURES) out[m] = suppress ? suppress(Number(raw[m])) : Number(raw[m])
  // A duration behind fewer than 3 closed cases describes those cases: withheld when suppressing.
  const enough = !suppress || Number(raw.closed) >= 3
  out.days_to_close_median = enough ? days(raw.days_to_close_median) : null
  out.days_to_close_p90 = enough ? days(raw.days_to_close_p90) : null
  return out as CaseMeasures
}

export async function caseStatistics(ctx: ServiceContext, query: CaseStatisticsQuery): Promise<CaseStatistics> {
  const period = periodOf(query)
  const dims = dimensionsOf(query.group_by)
  const exact = ctx.can('statistics:exact')
  const suppressed = exact === null
  const filters: CaseFactFilters = {
    ...period,
    orgUnitId: query.org_unit_id,
    channel: query.channel,
    category: query.category,
    severity: query.severity,
    status: query.status,
  }
  const facts = caseFacts(ctx.db, exact ?? ctx.reach, ctx.caller, filters).as('f')
  const from = sql`${facts}`
  const MEASURES = measures(ctx.db)

  const [totalRow] = (await sql<RawMeasures>`select ${MEASURES} from ${from}`.execute(ctx.db)).rows
  let rows: CaseStatistics['rows'] = []
  if (dims.length > 0) {
    const columns = dims.map((d) => DIMENSION_COLUMNS[d])
    const select = sql.join(columns.map((c) => sql`${c.column} as ${sql.ref(c.key)}`))
    const groupBy = sql.join(columns.map((c) => c.column))
    const lateral = dims.includes('category') ? sql`cross join lateral unnest(f.categories) as c(category)` : sql``
    const result = await sql<RawMeasures & Record<string, string | number>>`select ${select}, ${MEASURES} from ${from} ${lateral}
      group by ${groupBy} order by ${groupBy}`.execute(ctx.db)
    rows = result.rows.map((row) => ({
      group: Object.fromEntries(columns.map((c) => [c.key, row[c.key]])),
      measures: publish(row, suppressed ? suppressCell : null),
    }))
  }
  ctx.audit.details = { period, group_by: dims, filters: { ...filters, from: undefined, to: undefined }, suppressed, rows: rows.length }
  return {
    period,
    group_by: dims,
    suppressed,
    rule: suppressed ? SUPPRESSION_RULE : null,
    rows,
    total: publish(totalRow!, suppressed ? suppressTotal : null),
  }
}
