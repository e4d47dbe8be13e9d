import { sql, type RawBuilder } from 'kysely'
import { caseFacts, type CaseFactFilters } from '../cases/case-statistics.repository.js'
import type { ServiceContext } from '../kernel/context.js'
import { unprocessable } from '../kernel/errors.js'
import { fiscalYear, todayInTokyo } from '../kernel/time.js'
import type { CaseDimension, CaseMeasures, CaseStatistics, CaseStatisticsQuery } from './statistics.schemas.js'
import { type Published, SUPPRESSION_RULE, suppressCell, suppressTotal } from './suppression.js'

/**
 * Statistics for policy making. Figures come from the cases module's per-case facts (an exact
 * summary table kept by triggers, with the case's recordings counted by a trigger on recordings),
 * aggregated in the database. Callers who read cases
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

/**
 * The counts: plain aggregates, so that PostgreSQL groups by hashing. An ordered-set aggregate
 * (percentile_cont) in the same statement forces it to sort every row of the period instead
 * (issue 16: that sort was most of a request's time), so the durations are a second aggregate.
 */
const COUNTS = sql`count(*)::int as cases,
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
  (count(*) filter (where f.with_recordings))::int as with_recordings,
  (count(*) filter (where f.with_notice_missing))::int as with_notice_missing`

/** Median and 90th percentile of days to close, over the closed cases only, in one sort per group. */
const DURATIONS = sql`percentile_cont(array[0.5, 0.9]) within group (order by f.days_to_close) as p`

/**
 * One statement for one level of grouping (none: the total): the counts over the facts beside the
 * durations over the closed cases, matched on the group.
 */
function figuresBy(facts: ReturnType<ReturnType<typeof caseFacts>['as']>, dims: CaseDimension[]) {
  const columns = dims.map((d) => DIMENSION_COLUMNS[d])
  const select = sql.join([...columns.map((c) => sql`${c.column} as ${sql.ref(c.key)}`), sql`1 as one`])
  const groupBy = columns.length > 0 ? sql`group by ${sql.join(columns.map((c) => c.column))}` : sql``
  const lateral = dims.includes('category') ? sql`cross join lateral unnest(f.categories) as c(category)` : sql``
  const match = sql.join([sql`true`, ...columns.map((c) => sql`d.${sql.ref(c.key)} = k.${sql.ref(c.key)}`)], sql` and `)
  const orderBy = columns.length > 0 ? sql`order by ${sql.join(columns.map((c) => sql`k.${sql.ref(c.key)}`))}` : sql``
  return sql<RawMeasures & Record<string, string | number>>`select k.*, d.p[1] as days_to_close_median, d.p[2] as days_to_close_p90
    from (select ${select}, ${COUNTS} from ${facts} ${lateral} ${groupBy}) as k
    left join (select ${select}, ${DURATIONS} from ${facts} ${lateral} where f.days_to_close is not null ${groupBy}) as d on ${match}
    ${orderBy}`
}

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
  // A read runs on the pool: the total and the groups are two statements at once.
  const [totals, grouped] = await Promise.all([figuresBy(facts, []).execute(ctx.db), dims.length > 0 ? figuresBy(facts, dims).execute(ctx.db) : null])
  const totalRow = totals.rows[0]
  const columns = dims.map((d) => DIMENSION_COLUMNS[d])
  const rows: CaseStatistics['rows'] = (grouped?.rows ?? []).map((row) => ({
    group: Object.fromEntries(columns.map((c) => [c.key, row[c.key]])),
    measures: publish(row, suppressed ? suppressCell : null),
  }))
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
