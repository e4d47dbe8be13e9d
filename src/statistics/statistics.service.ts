import { sql, type RawBuilder } from 'kysely'
import { caseFacts, type CaseFactFilters } from '../cases/case-statistics.repository.ts'
import type { ServiceContext } from '../kernel/context.ts'
import { unprocessable } from '../kernel/errors.ts'
import { fiscalYear, todayInTokyo } from '../kernel/time.ts'
import type { CaseDimension, CaseMeasures, CaseStatistics, CaseStatisticsQuery } from './statistics.schemas.ts'
import { type Published, SUPPRESSION_RULE, suppressCell, suppressTotal } from './suppression.ts'

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
 * (issue 16: that sort was most of a request's time), so the durations are a statement of their own.
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

type Facts = ReturnType<ReturnType<typeof caseFacts>['as']>
type Row = Record<string, string | number | boolean | null>

/** Grouped by category, a case gives a row per category, numbered: its first category is the one the total counts it in. */
const CATEGORIES = sql`cross join lateral unnest(f.categories) with ordinality as c(category, n)`

/**
 * The counts of every group, in one pass over the facts. Every count is a number of cases or a
 * sum over cases, so the total is the sum of the groups, as long as each case is counted once:
 * grouped by category, each group is split by whether it is the case's first category
 * (`first`), the total adds up the first parts, a group both its parts. No second pass for the total.
 */
function countsBy(facts: Facts, dims: CaseDimension[]) {
  const columns = dims.map((d) => DIMENSION_COLUMNS[d])
  if (columns.length === 0) return sql<Row>`select true as first, ${COUNTS} from ${facts}`
  const byCategory = dims.includes('category')
  const keys = sql.join(columns.map((c) => sql`${c.column} as ${sql.ref(c.key)}`))
  const groupBy = sql.join([...columns.map((c) => c.column), ...(byCategory ? [sql`c.n = 1`] : [])])
  return sql<Row>`select ${keys}, ${byCategory ? sql`c.n = 1` : sql`true`} as first, ${COUNTS}
    from ${facts} ${byCategory ? CATEGORIES : sql``} group by ${groupBy} order by ${groupBy}`
}

/**
 * Median and 90th percentile of days to close over the closed cases (a partial index), per group or
 * (no dimension) in total: one aggregate, so one sort per group. The total is a statement of its
 * own: grouping sets would compute both aggregates at both levels.
 */
function durationsBy(facts: Facts, dims: CaseDimension[]) {
  const columns = dims.map((d) => DIMENSION_COLUMNS[d])
  const percentiles = sql`percentile_cont(array[0.5, 0.9]) within group (order by f.days_to_close)`
  const measures = sql`(${percentiles})[1] as days_to_close_median, (${percentiles})[2] as days_to_close_p90`
  if (columns.length === 0) return sql<Row>`select ${measures} from ${facts} where f.days_to_close is not null`
  const list = sql.join(columns.map((c) => c.column))
  const keys = sql.join(columns.map((c) => sql`${c.column} as ${sql.ref(c.key)}`))
  const lateral = dims.includes('category') ? CATEGORIES : sql``
  return sql<Row>`select ${keys}, ${measures} from ${facts} ${lateral} where f.days_to_close is not null group by ${list}`
}

type RawMeasures = Record<(typeof COUNT_MEASURES)[number], number> & { days_to_close_median: number | null; days_to_close_p90: number | null }

const zero = (): RawMeasures =>
  Object.fromEntries([...COUNT_MEASURES.map((m) => [m, 0]), ['days_to_close_median', null], ['days_to_close_p90', null]]) as RawMeasures

function add(into: RawMeasures, row: Row) {
  for (const m of COUNT_MEASURES) into[m] += Number(row[m])
}

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
  // A read runs on the pool: the counts, the durations of the groups and those of the total are three statements at once.
  const [counts, durations, totalDurations] = await Promise.all([
    countsBy(facts, dims).execute(ctx.db),
    dims.length > 0 ? durationsBy(facts, dims).execute(ctx.db) : null,
    durationsBy(facts, []).execute(ctx.db),
  ])
  const columns = dims.map((d) => DIMENSION_COLUMNS[d])
  const keyOf = (row: Row) => JSON.stringify(columns.map((c) => row[c.key]))
  const total = zero()
  const groups = new Map<string, { group: Row; measures: RawMeasures }>()
  for (const row of counts.rows) {
    if (row.first) add(total, row)
    if (columns.length === 0) continue
    const key = keyOf(row)
    let entry = groups.get(key)
    if (!entry) {
      entry = { group: Object.fromEntries(columns.map((c) => [c.key, row[c.key]!])), measures: zero() }
      groups.set(key, entry)
    }
    add(entry.measures, row)
  }
  const number = (value: unknown) => (value === null || value === undefined ? null : Number(value))
  total.days_to_close_median = number(totalDurations.rows[0]?.days_to_close_median)
  total.days_to_close_p90 = number(totalDurations.rows[0]?.days_to_close_p90)
  for (const row of durations?.rows ?? []) {
    const entry = groups.get(keyOf(row))
    if (!entry) continue
    entry.measures.days_to_close_median = number(row.days_to_close_median)
    entry.measures.days_to_close_p90 = number(row.days_to_close_p90)
  }
  const rows: CaseStatistics['rows'] = [...groups.values()].map(({ group, measures }) => ({
    group: group as CaseStatistics['rows'][number]['group'],
    measures: publish(measures, suppressed ? suppressCell : null),
  }))
  ctx.audit.details = { period, group_by: dims, filters: { ...filters, from: undefined, to: undefined }, suppressed, rows: rows.length }
  return {
    period,
    group_by: dims,
    suppressed,
    rule: suppressed ? SUPPRESSION_RULE : null,
    rows,
    total: publish(total, suppressed ? suppressTotal : null),
  }
}
