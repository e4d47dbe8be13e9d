import {
  type Expression,
  type ExpressionBuilder,
  expressionBuilder,
  type Insertable,
  type RawBuilder,
  type Selectable,
  type SqlBool,
  sql,
  type Updateable,
} from 'kysely'
import { casesRespondedBy, reachCallerOf, reachCallerShape, reachCallerValues } from '../cases/cases.repository.ts'
import type { Reach } from '../kernel/access.ts'
import { insertAuditRowsWhere } from '../kernel/audit.ts'
import type { Caller } from '../kernel/auth.ts'
import { CompiledQueries } from '../kernel/compiled-queries.ts'
import type { Database } from '../kernel/db.ts'
import { type DomainChange, insertChangesFrom } from '../kernel/outbox.ts'
import { type Profile, rememberWriterCtes, staffProfileOf, writerValues } from '../staff/staff.repository.ts'
import type { Queryable } from '../kernel/db.ts'
import type { CursorValue } from '../kernel/pagination.ts'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import type { Classification } from '../policies/policies.schemas.ts'
import type {
  DispositionAction,
  DispositionStatus,
  DispositionsTable,
  RecordingClassificationsTable,
  RecordingHoldsTable,
  RecordingsTable,
  RecordingStatus,
} from './recordings.tables.ts'

export type RecordingRow = Selectable<RecordingsTable>
export type ClassificationRow = Selectable<RecordingClassificationsTable>
export type HoldRow = Selectable<RecordingHoldsTable>
export type DispositionRow = Selectable<DispositionsTable>

/** A recording with what its presentation needs: the current classification's who and when, and whether the caller may see its media. */
export type LoadedRecording = RecordingRow & {
  classified_at: Date
  classified_by: string
  provisional: boolean
  media_visible: boolean
}

type RecordingsEb = ExpressionBuilder<Database, 'recordings'>

/**
 * The recordings a caller reaches with a grant: own = recordings of cases they respond to;
 * unit = recordings of their org unit and the units below it; all = every recording.
 */
function recordingInReach(q: Queryable, reach: Reach, caller: Pick<Caller, 'subject' | 'orgUnit'>) {
  return (eb: RecordingsEb): Expression<SqlBool> => {
    switch (reach) {
      case 'all':
        return sql<SqlBool>`true`
      case 'unit':
        return caller.orgUnit ? eb('recordings.org_unit_id', 'in', unitSubtree(q, caller.orgUnit)) : sql<SqlBool>`false`
      case 'own':
        return eb('recordings.case_id', 'in', casesRespondedBy(q, caller.subject))
    }
  }
}

function selectLoaded(q: Queryable, caller: Caller, mediaReach: Reach | null) {
  return q
    .selectFrom('recordings')
    .innerJoin('recording_classifications as current', 'current.id', 'recordings.classification_id')
    .selectAll('recordings')
    .select(['current.classified_at', 'current.classified_by', 'current.provisional'])
    .select((eb) => sql<boolean>`${mediaReach ? recordingInReach(q, mediaReach, caller)(eb) : sql`false`}`.as('media_visible'))
}

/**
 * A recording in reach, or undefined. With `lock`, the row stays locked until commit: every
 * change to a recording (and the retention sweep, which skips locked rows) goes through it.
 */
export async function findRecordingInReach(
  q: Queryable,
  id: string,
  reach: Reach,
  caller: Caller,
  options: { lock?: boolean; mediaReach?: Reach | null } = {},
): Promise<LoadedRecording | undefined> {
  let query = selectLoaded(q, caller, options.mediaReach ?? null)
    .where('recordings.id', '=', id)
    .where(recordingInReach(q, reach, caller))
  if (options.lock) query = query.forUpdate('recordings')
  return query.executeTakeFirst()
}

/**
 * Ids of the recordings of a unit and the units below it, as a subquery for other domains'
 * reach filters (disclosure requests that cover a unit's recordings).
 */
export function recordingIdsInUnit(q: Queryable, unitId: string) {
  return q.selectFrom('recordings').select('recordings.id').where('recordings.org_unit_id', 'in', unitSubtree(q, unitId))
}

/**
 * Where a recording being registered goes, as the first CTE of its statement: columns case_id,
 * org_unit_id, allowed and unit_matches; no row when the case or the unit is unknown or out of
 * reach. `caseTarget`: the case in reach (cases' sub-query) and whether it is of the unit the
 * body names, if any; `unitTarget`: a record without a case, in a unit (org units' sub-query).
 */
export type TargetRow = RawBuilder<{ case_id: string | null; org_unit_id: string; allowed: boolean; unit_matches: boolean }>

export function caseTarget(caseInReach: Expression<{ id: string; org_unit_id: string }>, wantedUnit: string | null): TargetRow {
  return sql`select c.id as case_id, c.org_unit_id, true as allowed, coalesce(c.org_unit_id = ${wantedUnit}::uuid, true) as unit_matches
               from (${caseInReach}) c`
}

export function unitTarget(unit: Expression<{ id: string; allowed: boolean }>): TargetRow {
  return sql`select null::uuid as case_id, u.id as org_unit_id, u.allowed, true as unit_matches from (${unit}) u`
}

/** A target's values: the case's id (or the unit's), the unit the body names, and the caller as reach conditions read them. */
interface TargetValues {
  targetId: string
  wantedUnit: string | null
  caller: ReachCaller
}

/**
 * A registration's target as the statement builds it, from its values or from stand-ins for them
 * (compiled-queries.ts); `shape` names what else its SQL depends on (case or unit, the reach).
 */
export interface RegistrationTarget {
  shape: string
  targetId: string
  wantedUnit: string | null
  build(values: TargetValues): TargetRow
}

type ReachCaller = Pick<Caller, 'subject' | 'orgUnit'>

/** What the target alone says: a request refused in Node (before its statement) still answers for the case or unit first. */
export async function findTarget(q: Queryable, target: RegistrationTarget, caller: Caller) {
  const built = target.build({ targetId: target.targetId, wantedUnit: target.wantedUnit, caller })
  const { rows } = await sql<{ allowed: boolean; unit_matches: boolean }>`select t.allowed, t.unit_matches from (${built}) t`.execute(q)
  return rows[0]
}

/** What the statement of a registration found, and the recording when it wrote one (id not null). */
export type CheckedRegistration = Nullable<LoadedRecording> & { allowed: boolean; unit_matches: boolean; recorder_profile: Profile | null }
type Nullable<T> = { [K in keyof T]: T[K] | null }

/**
 * The columns a registration writes from its two JSON records: every one the service decides. The
 * others take their table's defaults (hold_open, created_at, classified_at, …) or, case and unit,
 * the target's. A fixed list, so the statement's text does not depend on the record.
 */
const REGISTERED = [
  'id',
  'media_kind',
  'source',
  'recorded_by',
  'recorder',
  'started_at',
  'ended_at',
  'document_date',
  'storage_uri',
  'sha256',
  'size_bytes',
  'media_type',
  'title',
  'location',
  'description',
  'participants',
  'caller_number',
  'notice_given',
  'notice_method',
  'notice_at',
  'resident_permission',
  'on_premises',
  'notice_missing',
  'flags',
  'recording_policy_id',
  'classification_id',
  'record_category',
  'administrative_document',
  'personal_information',
  'classification',
  'retention_policy_id',
  'retention_start',
  'retention_end',
  'retention_action',
  'held_until',
  'review_until',
  'status',
  'due_since',
  'pending_disposition_id',
  'disposition_id',
  'registered_by',
  'version',
] as const satisfies ReadonlyArray<keyof RecordingsTable>

const CLASSIFIED = [
  'id',
  'administrative_document',
  'personal_information',
  'record_category',
  'classification',
  'reason',
  'provisional',
  'classified_by',
  'retention_policy_id',
  'retention_rule',
  'rule_match',
  'document_date',
  'retention_start',
  'retention_end',
  'retention_action',
] as const satisfies ReadonlyArray<keyof RecordingClassificationsTable>

type Written<T, K extends keyof T> = { [C in K]-?: Exclude<T[C], undefined> }
export type NewRecording = Written<Insertable<RecordingsTable>, (typeof REGISTERED)[number]>
/** The rule itself, not its text: it is sent inside a JSON record. */
export type NewClassification = Omit<Written<Insertable<RecordingClassificationsTable>, (typeof CLASSIFIED)[number]>, 'retention_rule'> & {
  retention_rule: object
}

/** A column list and the same columns of the record `from`, for `insert into … (names) select values`. */
function columnsOf(names: readonly string[], from: string) {
  return { names: sql.join(names.map((c) => sql.ref(c))), values: sql.join(names.map((c) => sql.ref(`${from}.${c}`))) }
}

const recordingColumns = columnsOf(REGISTERED, 'r')
const classificationColumns = columnsOf(CLASSIFIED, 'c')

// The registration, built and compiled once per shape (compiled-queries.ts).
const registrations = new CompiledQueries('recording registration')

/**
 * A recording registered in one statement: the target's checks as conditions, the recording and
 * its provisional classification, read back as presented (whether the caller sees its media, the
 * recorder's names). With `written` (a request in autocommit), the writer's staff profile, the
 * request's audit entry (`auditRows`, OneStatement) and the changes (each in the recording's unit)
 * go in the same statement, written only with the recording. Undefined when the target has no row;
 * nothing is written unless `allowed` and `unit_matches`.
 *
 * Compiled once per shape (the target's, the media reach, whether the caller has a unit, whether
 * it writes the rest): the target's values, the caller, the records and the changes are
 * parameters. Columns are sent as one JSON record each, typed by the table's row (jsonb_populate_record).
 */
export async function insertRecordingChecked(
  q: Queryable,
  target: RegistrationTarget,
  recording: NewRecording,
  classification: NewClassification,
  presented: { caller: Caller; mediaReach: Reach | null },
  written: { auditRows: string; changes: ReadonlyArray<Omit<DomainChange, 'orgUnitId'>> } | null,
): Promise<CheckedRegistration | undefined> {
  const { caller, mediaReach } = presented
  const shape = `${target.shape}/${mediaReach}/${reachCallerShape(caller)}/${written ? 'with-rest' : 'alone'}`
  const values = {
    targetId: target.targetId,
    wantedUnit: target.wantedUnit,
    ...reachCallerValues(caller),
    ...writerValues(caller),
    recording: JSON.stringify(recording),
    classification: JSON.stringify(classification),
    auditRows: written?.auditRows ?? null,
    changes: written ? JSON.stringify(written.changes) : null,
  }
  const result = await registrations.execute(q, shape, values, (p) => {
    const who = reachCallerOf(p, caller)
    const wrote = sql`exists (select 1 from ins)`
    const rest = written
      ? sql`, ${rememberWriterCtes(p, wrote)},
    audited as (${insertAuditRowsWhere(p.auditRows!, wrote)}),
    published as (${insertChangesFrom(
      sql`select e.v->>'kind', e.v->>'resourceType', e.v->>'resourceId', ins.org_unit_id, coalesce(e.v->'data', '{}')
            from ins, jsonb_array_elements(${p.changes}::jsonb) with ordinality as e(v, n) order by e.n`,
    )})`
      : sql``
    // The recording as the statement wrote it is read under the name `recordings`, so the reach
    // conditions and the staff profile apply to it as to a stored row.
    const eb = expressionBuilder<Database, 'recordings'>()
    const mediaVisible = mediaReach ? recordingInReach(q, mediaReach, who)(eb) : sql`false`
    return sql<CheckedRegistration>`
    with target as (${target.build({ targetId: p.targetId, wantedUnit: p.wantedUnit, caller: who })}),
    ins as (
      insert into recordings (case_id, org_unit_id, ${recordingColumns.names})
      select target.case_id, target.org_unit_id, ${recordingColumns.values}
        from target, jsonb_populate_record(null::recordings, ${p.recording}::jsonb) r
       where target.allowed and target.unit_matches
      returning *),
    classified as (
      insert into recording_classifications (recording_id, ${classificationColumns.names})
      select ins.id, ${classificationColumns.values} from ins, jsonb_populate_record(null::recording_classifications, ${p.classification}::jsonb) c
      returning classified_at, classified_by, provisional)${rest}
    select target.allowed, target.unit_matches, classified.classified_at, classified.classified_by, classified.provisional,
           ${mediaVisible} as media_visible, ${staffProfileOf(eb, 'recordings.recorder')} as recorder_profile, recordings.*
      from target left join ins as recordings on true left join classified on true`
  })
  return result.rows[0]
}

/** Applies changes and moves the version (the ETag) on. */
export async function updateRecording(q: Queryable, id: string, changes: Updateable<RecordingsTable>): Promise<RecordingRow> {
  return q
    .updateTable('recordings')
    .set({ ...changes, version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

/**
 * Summarises the recording's holds onto its row: whether an unreleased hold without an end
 * exists, and the latest end of the unreleased holds that have one. effective_end follows.
 */
export async function refreshHoldSummary(q: Queryable, id: string): Promise<RecordingRow> {
  return q
    .updateTable('recordings')
    .set({
      hold_open: sql<boolean>`exists (select 1 from recording_holds h where h.recording_id = recordings.id and h.released_at is null and h.until is null)`,
      held_until: sql<string | null>`(select max(h.until) from recording_holds h where h.recording_id = recordings.id and h.released_at is null)`,
      version: sql`version + 1`,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function insertClassification(q: Queryable, row: Insertable<RecordingClassificationsTable>): Promise<ClassificationRow> {
  return q.insertInto('recording_classifications').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function classificationHistory(q: Queryable, recordingId: string): Promise<ClassificationRow[]> {
  return q.selectFrom('recording_classifications').selectAll().where('recording_id', '=', recordingId).orderBy('classified_at').orderBy('id').execute()
}

export async function findClassification(q: Queryable, id: string): Promise<ClassificationRow> {
  return q.selectFrom('recording_classifications').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
}

export interface RecordingFilters {
  caseId?: string
  orgUnitId?: string
  classification?: Classification
  recordCategory?: string
  status?: RecordingStatus
  endBefore?: string
  endAfter?: string
  onHold?: boolean
  today: string
}

/** Key of the list order: (started_at, id), both descending. */
export function recordingListKey(row: RecordingRow): CursorValue[] {
  return [row.started_at.toISOString(), row.id]
}

/** A page of recordings in reach matching the filters, newest first (keyset on started_at, id). */
export async function listRecordings(
  q: Queryable,
  reach: Reach,
  caller: Caller,
  mediaReach: Reach | null,
  filters: RecordingFilters,
  limit: number,
  after: CursorValue[] | null,
): Promise<LoadedRecording[]> {
  let query = selectLoaded(q, caller, mediaReach).where(recordingInReach(q, reach, caller))
  if (filters.caseId) query = query.where('recordings.case_id', '=', filters.caseId)
  if (filters.orgUnitId) query = query.where('recordings.org_unit_id', 'in', unitSubtree(q, filters.orgUnitId))
  if (filters.classification) query = query.where('recordings.classification', '=', filters.classification)
  if (filters.recordCategory) query = query.where('recordings.record_category', '=', filters.recordCategory)
  if (filters.status) query = query.where('recordings.status', '=', filters.status)
  // A hold without an end keeps the recording past any date.
  if (filters.endBefore) query = query.where('recordings.effective_end', '<', filters.endBefore).where('recordings.hold_open', '=', false)
  if (filters.endAfter) {
    const endAfter = filters.endAfter
    query = query.where((eb) => eb.or([eb('recordings.effective_end', '>', endAfter), eb('recordings.hold_open', '=', true)]))
  }
  if (filters.onHold !== undefined) {
    const held = sql<SqlBool>`(recordings.hold_open or coalesce(recordings.held_until >= ${filters.today}::date, false))`
    query = query.where(filters.onHold ? held : sql<SqlBool>`not ${held}`)
  }
  if (after) {
    const [startedAt, id] = after as [string, string]
    query = query.where(sql<SqlBool>`(recordings.started_at, recordings.id) < (${startedAt}::timestamptz, ${id}::uuid)`)
  }
  return query.orderBy('recordings.started_at', 'desc').orderBy('recordings.id', 'desc').limit(limit).execute()
}

// ---------------------------------------------------------------------------------------------
// Holds

export async function insertHold(q: Queryable, row: Insertable<RecordingHoldsTable>): Promise<HoldRow> {
  return q.insertInto('recording_holds').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function findHold(q: Queryable, recordingId: string, holdId: string): Promise<HoldRow | undefined> {
  return q.selectFrom('recording_holds').selectAll().where('id', '=', holdId).where('recording_id', '=', recordingId).executeTakeFirst()
}

export async function updateHold(q: Queryable, id: string, changes: Updateable<RecordingHoldsTable>): Promise<HoldRow> {
  return q.updateTable('recording_holds').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
}

/** Unreleased holds of a type naming a reference (an incident's holds), in recording order. */
export async function openHoldsWithReference(q: Queryable, type: HoldRow['type'], reference: string): Promise<HoldRow[]> {
  return q
    .selectFrom('recording_holds')
    .selectAll()
    .where('type', '=', type)
    .where('reference', '=', reference)
    .where('released_at', 'is', null)
    .orderBy('recording_id')
    .orderBy('id')
    .execute()
}

export async function holdsOf(q: Queryable, recordingId: string): Promise<HoldRow[]> {
  return q.selectFrom('recording_holds').selectAll().where('recording_id', '=', recordingId).orderBy('placed_at').orderBy('id').execute()
}

// ---------------------------------------------------------------------------------------------
// Dispositions

export async function insertDisposition(q: Queryable, row: Insertable<DispositionsTable>): Promise<DispositionRow> {
  return q.insertInto('dispositions').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function findDisposition(q: Queryable, id: string, options: { lock?: boolean } = {}): Promise<DispositionRow | undefined> {
  let query = q.selectFrom('dispositions').selectAll().where('id', '=', id)
  if (options.lock) query = query.forUpdate()
  return query.executeTakeFirst()
}

export async function decideDisposition(
  q: Queryable,
  id: string,
  decision: { status: Exclude<DispositionStatus, 'proposed'>; decidedBy: string; reason: string | null },
): Promise<DispositionRow> {
  return q
    .updateTable('dispositions')
    .set({ status: decision.status, decided_by: decision.decidedBy, decided_at: sql`now()`, decision_reason: decision.reason })
    .where('id', '=', id)
    .where('status', '=', 'proposed')
    .returningAll()
    .executeTakeFirstOrThrow()
}

export interface DispositionFilters {
  status?: DispositionStatus
  action?: DispositionAction
  recordingId?: string
}

/** Disposition records, newest first (keyset on proposed_at, id). */
export async function listDispositions(q: Queryable, filters: DispositionFilters, limit: number, after: CursorValue[] | null): Promise<DispositionRow[]> {
  let query = q.selectFrom('dispositions').selectAll()
  if (filters.status) query = query.where('status', '=', filters.status)
  if (filters.action) query = query.where('action', '=', filters.action)
  if (filters.recordingId) query = query.where('recording_id', '=', filters.recordingId)
  if (after) {
    const [proposedAt, id] = after as [string, string]
    query = query.where(sql<SqlBool>`(proposed_at, id) < (${proposedAt}::timestamptz, ${id}::uuid)`)
  }
  return query.orderBy('proposed_at', 'desc').orderBy('id', 'desc').limit(limit).execute()
}

/** The action a recording is due for once its retention has ended. */
function actionDueSql() {
  return sql<'dispose' | 'transfer' | 'review' | 'purge'>`case
    when not recordings.administrative_document and recordings.retention_action = 'dispose' then 'purge'
    else recordings.retention_action end`
}

export type DueRow = RecordingRow & { action_due: 'dispose' | 'transfer' | 'review' | 'purge' }

/**
 * Recordings whose retention has ended by `today` and that no hold keeps: live, no open hold,
 * effective end before today. Ordered by effective end (the longest overdue first), then id.
 */
export async function dueRecordings(
  q: Queryable,
  today: string,
  filters: { orgUnitId?: string; action?: DueRow['action_due'] },
  limit: number,
  after: CursorValue[] | null,
): Promise<DueRow[]> {
  let query = q
    .selectFrom('recordings')
    .selectAll()
    .select(actionDueSql().as('action_due'))
    .where('status', 'in', ['active', 'due'])
    .where('hold_open', '=', false)
    .where('effective_end', '<', today)
  if (filters.orgUnitId) query = query.where('org_unit_id', 'in', unitSubtree(q, filters.orgUnitId))
  if (filters.action) query = query.where(actionDueSql(), '=', filters.action)
  if (after) {
    const [end, id] = after as [string, string]
    query = query.where(sql<SqlBool>`(effective_end, id) > (${end}::date, ${id}::uuid)`)
  }
  return query.orderBy('effective_end').orderBy('id').limit(limit).execute()
}

/**
 * For statistics (統計): per recording in reach, its unit, classification and status, the types of
 * the holds keeping it on `today` (Tokyo), and the month (YYYY-MM) its retention runs out in —
 * the month after its effective end's last day — when it is active and no open-ended hold keeps it.
 */
export function recordingFacts(q: Queryable, reach: Reach, caller: Caller, today: string) {
  return q
    .selectFrom('recordings')
    .select([
      'recordings.id',
      'recordings.org_unit_id',
      'recordings.classification',
      'recordings.status',
      sql<string[]>`array(select distinct h.type from recording_holds h where h.recording_id = recordings.id and h.released_at is null
        and (h.until is null or h.until >= ${today}::date))`.as('hold_types'),
      sql<string | null>`case when recordings.status = 'active' and not recordings.hold_open
        then to_char(recordings.effective_end + 1, 'YYYY-MM') end`.as('disposal_month'),
    ])
    .where(recordingInReach(q, reach, caller))
}

/**
 * For statistics: the disclosure requests (開示請求) and incidents (漏えい等) that hold recordings in
 * reach on `today`, by the reference their hold carries, with the recording's unit, classification
 * and status: columns org_unit_id, classification, status, type, reference.
 */
export function holdingReferences(q: Queryable, reach: Reach, caller: Caller, today: string) {
  return q
    .selectFrom('recording_holds as h')
    .innerJoin('recordings', 'recordings.id', 'h.recording_id')
    .select(['recordings.org_unit_id', 'recordings.classification', 'recordings.status', 'h.type', 'h.reference'])
    .where('h.type', 'in', ['disclosure_request', 'incident'])
    .where('h.released_at', 'is', null)
    .where((eb) => eb.or([eb('h.until', 'is', null), eb('h.until', '>=', today)]))
    .where(recordingInReach(q, reach, caller))
}
