import { type Expression, type ExpressionBuilder, type Insertable, type Selectable, type SqlBool, sql, type Updateable } from 'kysely'
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres'
import { caseIdsInUnit } from '../cases/cases.repository.ts'
import type { Reach } from '../kernel/access.ts'
import type { Caller } from '../kernel/auth.ts'
import type { Database, Queryable, Trx } from '../kernel/db.ts'
import { insertChangesFrom } from '../kernel/outbox.ts'
import type { CursorValue } from '../kernel/pagination.ts'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import type { DisclosureKind } from '../policies/policies.schemas.ts'
import { recordingIdsInUnit } from '../recordings/recordings.repository.ts'
import type { DisclosureStatus } from './disclosure-status.ts'
import type { DisclosureRequestsTable, IdentityMethod, RecordType } from './disclosure-requests.tables.ts'

export type RequestRow = Selectable<DisclosureRequestsTable>

export interface RequesterData {
  name: string
  address: string | null
  contact: string | null
  identity_method: IdentityMethod | null
  identity_note: string | null
}

/** Dates and times inside JSON aggregates arrive as strings. */
export interface CorrectionData {
  round: number
  requested_on: string
  reason: string
  requested_by: string
  corrected_on: string | null
  received_by: string | null
}
interface RecordEntryData {
  id: string
  record_type: RecordType
  record_id: string
  hold_id: string | null
  appeal_hold_id: string | null
  note: string | null
  added_by: string
  added_at: string
  removed_at: string | null
  removed_by: string | null
  removal_reason: string | null
}
interface HandoverData {
  id: string
  record_type: RecordType
  record_id: string
  derivative_id: string | null
  method: 'media_grant' | 'medium'
  medium: string | null
  grant_jti: string | null
  grant_expires_at: string | null
  handed_over_on: string
  recorded_by: string
  recorded_at: string
}

/** A request with everything its view shows, read in one query. */
export type LoadedRequest = RequestRow & {
  personal_visible: boolean
  requester: RequesterData | null
  corrections: CorrectionData[]
  records: RecordEntryData[]
  handovers: HandoverData[]
}

type RequestsEb = ExpressionBuilder<Database, 'disclosure_requests'>

/**
 * The requests a caller reaches with a grant: all, or (unit) those that cover a recording or case
 * of the caller's unit or a unit below it. Nobody holds 'own' for requests: it reaches none.
 */
function requestInReach(q: Queryable, reach: Reach, caller: Caller) {
  return (eb: RequestsEb): Expression<SqlBool> => {
    if (reach === 'all') return sql<SqlBool>`true`
    if (reach === 'own' || !caller.orgUnit) return sql<SqlBool>`false`
    const unit = caller.orgUnit
    return eb.exists(
      eb
        .selectFrom('disclosure_request_records as c')
        .select(sql`1`.as('one'))
        .whereRef('c.request_id', '=', 'disclosure_requests.id')
        .where('c.removed_at', 'is', null)
        .where((e) =>
          e.or([
            e.and([e('c.record_type', '=', 'recording'), e('c.record_id', 'in', recordingIdsInUnit(q, unit))]),
            e.and([e('c.record_type', '=', 'case'), e('c.record_id', 'in', caseIdsInUnit(q, unit))]),
          ]),
        ),
    )
  }
}

function selectLoaded(q: Queryable, caller: Caller, personalReach: Reach | null) {
  return q
    .selectFrom('disclosure_requests')
    .selectAll('disclosure_requests')
    .select((eb) => {
      const personal = personalReach ? requestInReach(q, personalReach, caller)(eb) : sql<SqlBool>`false`
      const requester = jsonObjectFrom(
        eb
          .selectFrom('disclosure_requesters as p')
          .select(['p.name', 'p.address', 'p.contact', 'p.identity_method', 'p.identity_note'])
          .whereRef('p.request_id', '=', 'disclosure_requests.id'),
      )
      return [
        sql<boolean>`${personal}`.as('personal_visible'),
        // Only for callers who may see it: redacted data never leaves the database.
        sql<RequesterData | null>`case when ${personal} then ${requester} end`.as('requester'),
        jsonArrayFrom(
          eb
            .selectFrom('disclosure_corrections as k')
            .select(['k.round', 'k.requested_on', 'k.reason', 'k.requested_by', 'k.corrected_on', 'k.received_by'])
            .whereRef('k.request_id', '=', 'disclosure_requests.id')
            .orderBy('k.round'),
        ).as('corrections'),
        jsonArrayFrom(
          eb
            .selectFrom('disclosure_request_records as r')
            .select([
              'r.id',
              'r.record_type',
              'r.record_id',
              'r.hold_id',
              'r.appeal_hold_id',
              'r.note',
              'r.added_by',
              'r.added_at',
              'r.removed_at',
              'r.removed_by',
              'r.removal_reason',
            ])
            .whereRef('r.request_id', '=', 'disclosure_requests.id')
            .orderBy('r.added_at')
            .orderBy('r.id'),
        ).as('records'),
        jsonArrayFrom(
          eb
            .selectFrom('disclosure_handovers as h')
            .select([
              'h.id',
              'h.record_type',
              'h.record_id',
              'h.derivative_id',
              'h.method',
              'h.medium',
              'h.grant_jti',
              'h.grant_expires_at',
              'h.handed_over_on',
              'h.recorded_by',
              'h.recorded_at',
            ])
            .whereRef('h.request_id', '=', 'disclosure_requests.id')
            .orderBy('h.recorded_at')
            .orderBy('h.id'),
        ).as('handovers'),
      ]
    })
}

/** A request in reach, or undefined. With `lock`, the row stays locked until commit: every change to a request takes it first. */
export async function findRequestInReach(
  q: Queryable,
  id: string,
  reach: Reach,
  caller: Caller,
  options: { lock?: boolean; personalReach?: Reach | null } = {},
): Promise<LoadedRequest | undefined> {
  let query = selectLoaded(q, caller, options.personalReach ?? null)
    .where('disclosure_requests.id', '=', id)
    .where(requestInReach(q, reach, caller))
  if (options.lock) query = query.forUpdate('disclosure_requests')
  return (await query.executeTakeFirst()) as LoadedRequest | undefined
}

export interface RequestFilters {
  status?: DisclosureStatus
  kind?: DisclosureKind
  orgUnitId?: string
  receivedFrom?: string
  receivedTo?: string
  recordId?: string
  dueBefore?: string
}

/** Key of the list order: received date and id, newest first; the due list: due date and id, soonest first. */
export function requestListKey(row: RequestRow, due: boolean): CursorValue[] {
  return [due ? row.due_date : row.received_date, row.id]
}

export async function listRequests(
  q: Queryable,
  reach: Reach,
  caller: Caller,
  personalReach: Reach | null,
  filters: RequestFilters,
  limit: number,
  after: CursorValue[] | null,
): Promise<LoadedRequest[]> {
  let query = selectLoaded(q, caller, personalReach).where(requestInReach(q, reach, caller))
  if (filters.status) query = query.where('disclosure_requests.status', '=', filters.status)
  if (filters.kind) query = query.where('disclosure_requests.kind', '=', filters.kind)
  if (filters.orgUnitId) query = query.where('disclosure_requests.org_unit_id', 'in', unitSubtree(q, filters.orgUnitId))
  if (filters.receivedFrom) query = query.where('disclosure_requests.received_date', '>=', filters.receivedFrom)
  if (filters.receivedTo) query = query.where('disclosure_requests.received_date', '<=', filters.receivedTo)
  if (filters.recordId) {
    const recordId = filters.recordId
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('disclosure_request_records as f')
          .select(sql`1`.as('one'))
          .whereRef('f.request_id', '=', 'disclosure_requests.id')
          .where('f.record_id', '=', recordId)
          .where('f.removed_at', 'is', null),
      ),
    )
  }
  if (filters.dueBefore) {
    // The due list: the deadline runs (undecided, no correction outstanding) and falls before the date.
    query = query.where('disclosure_requests.status', 'in', ['received', 'extended']).where('disclosure_requests.due_date', '<', filters.dueBefore)
    if (after) {
      const [due, id] = after as [string, string]
      query = query.where(sql<SqlBool>`(disclosure_requests.due_date, disclosure_requests.id) > (${due}::date, ${id}::uuid)`)
    }
    return (await query.orderBy('disclosure_requests.due_date').orderBy('disclosure_requests.id').limit(limit).execute()) as LoadedRequest[]
  }
  if (after) {
    const [received, id] = after as [string, string]
    query = query.where(sql<SqlBool>`(disclosure_requests.received_date, disclosure_requests.id) < (${received}::date, ${id}::uuid)`)
  }
  return (await query.orderBy('disclosure_requests.received_date', 'desc').orderBy('disclosure_requests.id', 'desc').limit(limit).execute()) as LoadedRequest[]
}

export async function insertRequest(q: Queryable, row: Insertable<DisclosureRequestsTable>): Promise<RequestRow> {
  return q.insertInto('disclosure_requests').values(row).returningAll().executeTakeFirstOrThrow()
}

/** Applies changes and moves the version (the ETag) on. */
export async function updateRequest(q: Queryable, id: string, changes: Updateable<DisclosureRequestsTable>): Promise<RequestRow> {
  return q
    .updateTable('disclosure_requests')
    .set({ ...changes, version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function setRequester(q: Queryable, requestId: string, requester: RequesterData): Promise<void> {
  await q
    .insertInto('disclosure_requesters')
    .values({ request_id: requestId, ...requester })
    .onConflict((oc) => oc.column('request_id').doUpdateSet({ ...requester, updated_at: sql`now()` }))
    .execute()
}

// ---------------------------------------------------------------------------------------------
// Corrections (補正)

export async function openCorrection(
  q: Queryable,
  input: { requestId: string; requestedOn: string; reason: string; requestedBy: string },
): Promise<CorrectionData> {
  return q
    .insertInto('disclosure_corrections')
    .values({
      request_id: input.requestId,
      // The request's row lock serialises its rounds.
      round: sql<number>`(select coalesce(max(round), 0) + 1 from disclosure_corrections where request_id = ${input.requestId})`,
      requested_on: input.requestedOn,
      reason: input.reason,
      requested_by: input.requestedBy,
      corrected_on: null,
      received_by: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** Closes the open round with the day the corrected request arrived. */
export async function closeCorrection(q: Queryable, requestId: string, correctedOn: string, receivedBy: string): Promise<CorrectionData> {
  return q
    .updateTable('disclosure_corrections')
    .set({ corrected_on: correctedOn, received_by: receivedBy })
    .where('request_id', '=', requestId)
    .where('corrected_on', 'is', null)
    .returningAll()
    .executeTakeFirstOrThrow()
}

// ---------------------------------------------------------------------------------------------
// Covered records

export async function insertRecordEntry(
  q: Queryable,
  row: { id: string; requestId: string; type: RecordType; recordId: string; holdId: string | null; note: string | null; addedBy: string },
): Promise<void> {
  await q
    .insertInto('disclosure_request_records')
    .values({
      id: row.id,
      request_id: row.requestId,
      record_type: row.type,
      record_id: row.recordId,
      hold_id: row.holdId,
      appeal_hold_id: null,
      note: row.note,
      added_by: row.addedBy,
      removed_at: null,
      removed_by: null,
      removal_reason: null,
    })
    .execute()
}

export async function markRecordRemoved(q: Queryable, entryId: string, removal: { by: string; reason: string }): Promise<void> {
  await q
    .updateTable('disclosure_request_records')
    .set({ removed_at: sql`now()`, removed_by: removal.by, removal_reason: removal.reason })
    .where('id', '=', entryId)
    .where('removed_at', 'is', null)
    .executeTakeFirstOrThrow()
}

export async function setAppealHold(q: Queryable, entryId: string, holdId: string): Promise<void> {
  await q.updateTable('disclosure_request_records').set({ appeal_hold_id: holdId }).where('id', '=', entryId).executeTakeFirstOrThrow()
}

// ---------------------------------------------------------------------------------------------
// Steps and hand-overs

export interface NewStep {
  requestId: string
  action: string
  from: DisclosureStatus | null
  to: DisclosureStatus
  onDate: string | null
  reason: string | null
  details?: Record<string, unknown>
  actor: string
}

/** Appends a step; the request's row lock makes the next sequence number race-free. */
export async function appendStep(q: Queryable, step: NewStep, id: string): Promise<void> {
  await q
    .insertInto('disclosure_request_steps')
    .values({
      id,
      request_id: step.requestId,
      seq: sql<number>`(select coalesce(max(seq), 0) + 1 from disclosure_request_steps where request_id = ${step.requestId})`,
      action: step.action,
      from_status: step.from,
      to_status: step.to,
      on_date: step.onDate,
      reason: step.reason,
      details: JSON.stringify(step.details ?? {}),
      actor: step.actor,
    })
    .execute()
}

export async function stepsOf(q: Queryable, requestId: string) {
  return q.selectFrom('disclosure_request_steps').selectAll().where('request_id', '=', requestId).orderBy('seq').execute()
}

export async function insertHandover(
  q: Queryable,
  row: Omit<Insertable<Database['disclosure_handovers']>, 'recorded_at'>,
): Promise<Selectable<Database['disclosure_handovers']>> {
  return q.insertInto('disclosure_handovers').values(row).returningAll().executeTakeFirstOrThrow()
}

// ---------------------------------------------------------------------------------------------
// Deadlines (the background job)

/** Requests whose deadline runs, with their correction rounds: the job recomputes their due dates. */
export async function runningRequests(q: Queryable) {
  return q
    .selectFrom('disclosure_requests')
    .select(['id', 'kind', 'received_date', 'extension_days', 'due_date', 'warn_from', 'disclosure_policy_id', 'version', 'org_unit_id', 'status'])
    .select((eb) =>
      jsonArrayFrom(
        eb
          .selectFrom('disclosure_corrections as k')
          .select(['k.round', 'k.requested_on', 'k.corrected_on'])
          .whereRef('k.request_id', '=', 'disclosure_requests.id')
          .orderBy('k.round'),
      ).as('corrections'),
    )
    .where('status', 'in', ['received', 'extended'])
    .execute()
}

/** Moves a deadline the job recomputed, unless the request changed meanwhile (its version). */
export async function moveDeadline(
  q: Queryable,
  id: string,
  version: number,
  deadline: { due_date: string | null; warn_from: string | null; disclosure_policy_id: string },
): Promise<RequestRow | undefined> {
  return q
    .updateTable('disclosure_requests')
    .set({ ...deadline, version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('version', '=', version)
    .returningAll()
    .executeTakeFirst()
}

/**
 * Publishes the deadline notices due on `today`, in one statement: a request whose deadline runs
 * enters its warning window (deadline_approaching) or passes its due date undecided
 * (deadline_missed). The notice row (request, due date, notice) is inserted with ON CONFLICT DO
 * NOTHING and only inserted rows publish a change, in the same statement: however many instances
 * run this at once, each notice of each deadline is published exactly once.
 */
export async function publishDeadlineNotices(trx: Trx, today: string): Promise<{ approaching: number; missed: number }> {
  const result = await sql<{ notice: 'approaching' | 'missed'; n: number }>`
    with due as (
      select r.id, r.org_unit_id, r.due_date, r.status, r.version, r.kind,
        case when r.due_date < ${today}::date then 'missed' else 'approaching' end as notice
      from disclosure_requests r
      where r.status in ('received', 'extended') and r.due_date is not null and r.warn_from <= ${today}::date
    ), noticed as (
      insert into disclosure_deadline_notices (request_id, due_date, notice)
      select id, due_date, notice from due
      on conflict do nothing
      returning request_id, due_date, notice
    ), feed as (
      ${insertChangesFrom(sql`
        select 'disclosure_request.deadline_' || n.notice, 'disclosure_request', n.request_id::text, d.org_unit_id,
          jsonb_build_object('due_date', n.due_date, 'status', d.status, 'version', d.version, 'kind', d.kind)
        from noticed n join due d on d.id = n.request_id`)}
    )
    select notice, count(*)::int as n from noticed group by notice`.execute(trx)
  const counts = { approaching: 0, missed: 0 }
  for (const row of result.rows) counts[row.notice] = Number(row.n)
  return counts
}
