import { sql } from 'kysely'
import type { ServiceContext } from '../kernel/context.ts'
import { unprocessable } from '../kernel/errors.ts'
import { todayInTokyo } from '../kernel/time.ts'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import { holdingReferences, recordingFacts } from '../recordings/recordings.repository.ts'
import {
  HOLD_TYPES,
  RECORDING_COUNT_MEASURES,
  type RecordingDimension,
  type RecordingMeasures,
  type RecordingStatistics,
  type RecordingStatisticsQuery,
} from './statistics.schemas.ts'
import { type Published, SUPPRESSION_RULE, suppressCell, suppressTotal } from './suppression.ts'

/**
 * The retention programme at a glance (保存・廃棄の状況): recordings by classification, status and
 * unit as they are today, the holds keeping them, what was disposed of and how, the disposals
 * coming in the next 12 months, and the disclosure requests and incidents holding them. From the
 * recordings module's facts; exact within reach, or suppressed as for cases.
 */

const COLUMNS: Record<RecordingDimension, string> = { classification: 'classification', status: 'status', org_unit: 'org_unit_id' }

const MEASURES = sql.raw(
  [
    'count(*)::int as recordings',
    "(count(*) filter (where f.status = 'active'))::int as active",
    '(count(*) filter (where cardinality(f.hold_types) > 0))::int as on_hold',
    ...HOLD_TYPES.map((h) => `(count(*) filter (where '${h}' = any(f.hold_types)))::int as on_hold_${h}`),
    "(count(*) filter (where f.status = 'due'))::int as due",
    "(count(*) filter (where f.status = 'disposed'))::int as disposed",
    "(count(*) filter (where f.status = 'transferred'))::int as transferred",
    "(count(*) filter (where f.status = 'purged'))::int as purged",
  ].join(', '),
)

function monthsFrom(today: string, n: number): string[] {
  const [y, m] = today.split('-').map(Number) as [number, number]
  return Array.from({ length: n }, (_, i) => {
    const index = y * 12 + (m - 1) + i
    return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`
  })
}

type Raw = Record<string, unknown>

export async function recordingStatistics(ctx: ServiceContext, query: RecordingStatisticsQuery): Promise<RecordingStatistics> {
  const dims = (query.group_by ? query.group_by.split(',') : []) as RecordingDimension[]
  if (new Set(dims).size !== dims.length)
    throw unprocessable('statistics.dimension_twice', [{ pointer: 'query/group_by', message: 'statistics.repeats_dimension' }])
  const today = todayInTokyo()
  const exact = ctx.can('statistics:exact')
  const suppressed = exact === null
  const reach = exact ?? ctx.reach
  const unitFilter = query.org_unit_id ? sql`f.org_unit_id in (${unitSubtree(ctx.db, query.org_unit_id)})` : sql`true`
  const facts = sql`${recordingFacts(ctx.db, reach, ctx.caller, today).as('f')}`
  const holds = sql`${holdingReferences(ctx.db, reach, ctx.caller, today).as('f')}`
  const keys = dims.map((d) => COLUMNS[d])
  const select = keys.length ? sql`${sql.join(keys.map((k) => sql.ref(`f.${k}`)))},` : sql``
  const groupBy = keys.length ? sql`group by ${sql.join(keys.map((k) => sql.ref(`f.${k}`)))}` : sql``
  const holding = sql`(count(distinct f.reference) filter (where f.type = 'disclosure_request'))::int as disclosure_requests_holding,
    (count(distinct f.reference) filter (where f.type = 'incident'))::int as incidents_holding`

  const grouped = async (withKeys: boolean) => {
    const sel = withKeys ? select : sql``
    const grp = withKeys ? groupBy : sql``
    const counts = await sql<Raw>`select ${sel} ${MEASURES} from ${facts} where ${unitFilter} ${grp}`.execute(ctx.db)
    const refs = await sql<Raw>`select ${sel} ${holding} from ${holds} where ${unitFilter} ${grp}`.execute(ctx.db)
    const keyOf = (r: Raw) => JSON.stringify(withKeys ? keys.map((k) => r[k]) : [])
    const refsByKey = new Map(refs.rows.map((r) => [keyOf(r), r]))
    return counts.rows
      .map((r) => ({ ...r, ...(refsByKey.get(keyOf(r)) ?? { disclosure_requests_holding: 0, incidents_holding: 0 }) }))
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)))
  }
  const publish = (raw: Raw, suppress: ((n: number) => Published) | null) =>
    Object.fromEntries(RECORDING_COUNT_MEASURES.map((m) => [m, suppress ? suppress(Number(raw[m] ?? 0)) : Number(raw[m] ?? 0)])) as RecordingMeasures

  const rows = dims.length
    ? (await grouped(true)).map((r) => ({
        group: Object.fromEntries(keys.map((k) => [k, r[k]])),
        measures: publish(r, suppressed ? suppressCell : null),
      }))
    : []
  const [total] = await grouped(false)
  const months = monthsFrom(today, 12)
  const upcoming = await sql<{ month: string; recordings: number }>`select f.disposal_month as month, count(*)::int as recordings
    from ${facts} where ${unitFilter} and f.disposal_month between ${months[0]} and ${months[11]} group by f.disposal_month`.execute(ctx.db)
  const byMonth = new Map(upcoming.rows.map((r) => [r.month, Number(r.recordings)]))
  ctx.audit.details = { group_by: dims, org_unit_id: query.org_unit_id, suppressed, rows: rows.length }
  return {
    as_of: today,
    group_by: dims,
    suppressed,
    rule: suppressed ? SUPPRESSION_RULE : null,
    rows: rows as RecordingStatistics['rows'],
    total: publish(total ?? {}, suppressed ? suppressTotal : null),
    upcoming_disposals: months.map((month) => {
      const n = byMonth.get(month) ?? 0
      return { month, recordings: suppressed ? suppressCell(n) : n }
    }),
  }
}
