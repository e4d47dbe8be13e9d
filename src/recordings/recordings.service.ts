import type { Updateable } from 'kysely'
import { caseUnitInReach } from '../cases/cases.repository.ts'
import type { Reach } from '../kernel/access.ts'
import type { ServiceContext } from '../kernel/context.ts'
import type { Queryable } from '../kernel/db.ts'
import { conflict, conflictOnUnique, notFound, unprocessable } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import type { DomainChange } from '../kernel/outbox.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import { requireIfMatch } from '../kernel/preconditions.ts'
import { addDays, isInTheFuture, todayInTokyo, tokyoDate } from '../kernel/time.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import { issueMediaGrant, type MediaGrantSettings } from '../media-grants/media-grants.service.ts'
import { unitForNewRecordInStatement } from '../org-units/org-units.service.ts'
import type { PolicyBodies, PolicyVersion, RetentionRule } from '../policies/policies.schemas.ts'
import { policiesToday, policyOn } from '../policies/policies.service.ts'
import { type Profile, type StaffRef, staffRef, staffRefs, SYSTEM_ACTOR } from '../staff/staff.repository.ts'
import { findDerivative } from './derivatives.repository.ts'
import {
  caseTarget,
  classificationHistory,
  findRecordingInReach,
  findTarget,
  insertClassification,
  insertRecordingChecked,
  type LoadedRecording,
  listRecordings,
  type NewClassification,
  type NewRecording,
  type RecordingFilters,
  type RecordingRow,
  type RegistrationTarget,
  recordingListKey,
  unitTarget,
  updateRecording,
} from './recordings.repository.ts'
import type { Classify, CreateRecording, RecordingFlag, RecordingView, UpdateRecording } from './recordings.schemas.ts'
import type { RecordingsTable, RecordingStatus } from './recordings.tables.ts'
import { classificationKey, findRule, type MatchedRule, retentionStep, schedule } from './retention.ts'
import type { LocalFieldError as FieldError, Message } from '../kernel/messages/index.ts'

/**
 * Recordings (録音・録画): registration with the recording policy's rules (告知, 庁舎管理権),
 * classification (行政文書/公文書, 個人情報) and the retention it gives (explained in retention.service.ts),
 * and presentation with storage_uri and personal fields redacted for callers without media access.
 */

const TERMINAL_STATUSES: readonly RecordingStatus[] = ['disposed', 'transferred', 'purged']

export function isTerminal(status: RecordingStatus): boolean {
  return TERMINAL_STATUSES.includes(status)
}

// ---------------------------------------------------------------------------------------------
// Rules

type RecordingPolicy = PolicyBodies['recording']

export interface Judgement {
  flags: RecordingFlag[]
  /** Why each flag was raised (for the audit trail: kinds, never values). */
  reasons: Partial<Record<RecordingFlag, string>>
}

/**
 * The recording policy's rules, judged against the policy version in force at started_at:
 * - 告知: a recording by the organisation where notice is required needs notice given by a
 *   method the policy counts; otherwise it is accepted but flagged notice_missing;
 * - 庁舎管理権: a resident's recording made on the premises is flagged where the policy
 *   prohibits it, or where it needs permission and none was given.
 */
export function judgeRecording(
  input: Pick<CreateRecording, 'recorded_by' | 'notice' | 'resident_permission' | 'on_premises'>,
  policy: RecordingPolicy,
): Judgement {
  const flags: RecordingFlag[] = []
  const reasons: Judgement['reasons'] = {}
  if (input.recorded_by === 'organisation' && policy.notice_required) {
    if (!input.notice.given) {
      flags.push('notice_missing')
      reasons.notice_missing = 'not_given'
    } else if (!input.notice.method || !policy.notice_methods.includes(input.notice.method)) {
      flags.push('notice_missing')
      reasons.notice_missing = 'method_not_accepted'
    }
  }
  if (input.recorded_by === 'resident' && input.on_premises !== false) {
    if (policy.resident_recording === 'prohibited') {
      flags.push('resident_recording_prohibited')
      reasons.resident_recording_prohibited = 'prohibited'
    } else if (policy.resident_recording === 'permission_required' && input.resident_permission !== true) {
      flags.push('resident_recording_without_permission')
      reasons.resident_recording_without_permission = 'permission_required'
    }
  }
  return { flags, reasons }
}

/**
 * The status a live recording has on `today` (retentionStep): due once its effective end has
 * passed with no hold keeping it, unless the sweep is to purge it: that one stays active until
 * the sweep does.
 */
export function settledStatus(
  row: Pick<RecordingRow, 'status' | 'hold_open' | 'effective_end' | 'administrative_document' | 'retention_action'>,
  today: string,
): RecordingStatus {
  if (isTerminal(row.status)) return row.status
  return retentionStep(row, today) === 'due' ? 'due' : 'active'
}

interface RetentionDecision {
  policy: PolicyVersion<'retention'>
  matched: MatchedRule
  key: ReturnType<typeof classificationKey>
  start: string
  end: string
  action: RetentionRule['action']
}

/** Retention under the schedule in force on `today` (the day of classification). */
async function decideRetention(
  ctx: ServiceContext,
  documentDate: string,
  flags: { administrative_document: boolean; personal_information: boolean; record_category: string },
  today: string,
  pointer: string,
): Promise<RetentionDecision> {
  const policy = await policyOn(ctx, 'retention', today)
  const key = classificationKey(flags.administrative_document, flags.personal_information)
  const matched = findRule(policy.body.rules, flags.record_category, key)
  if (!matched) {
    throw unprocessable({ id: 'recordings.no_retention_rule', params: { version: policy.id, category: flags.record_category, key } }, [
      { pointer, message: 'recordings.no_rule_applies' },
    ])
  }
  const s = schedule(documentDate, matched.rule)
  return { policy, matched, key, ...s }
}

/** 見直し期間: days an unclassified recording is kept from its registration when the schedule does not say. */
const DEFAULT_REVIEW_PERIOD_DAYS = 30

/**
 * No automatic purge before a person could look: a provisional classification (made at
 * registration, before any records manager saw the recording) that would end in an automatic
 * purge (no administrative document, action dispose) keeps the recording at least through the
 * last day of the retention policy's review period from the registration day (day 1), whatever
 * its started_at. The sweep, the status rule and the due list read retention_end, so they all
 * follow. Recordings that end due for two records managers wait for people anyway.
 */
function withReviewPeriod(
  retention: RetentionDecision,
  presumed: { administrative_document: boolean },
  registeredOn: string,
): RetentionDecision & { reviewUntil: string | null } {
  if (presumed.administrative_document || retention.action !== 'dispose') return { ...retention, reviewUntil: null }
  const days = retention.policy.body.review_period_days ?? DEFAULT_REVIEW_PERIOD_DAYS
  const reviewUntil = addDays(registeredOn, days - 1)
  // Dates as 'YYYY-MM-DD' compare as text.
  return reviewUntil > retention.end ? { ...retention, end: reviewUntil, reviewUntil } : { ...retention, reviewUntil }
}

// ---------------------------------------------------------------------------------------------
// Reading and presenting

/** A recording the caller reaches with the route's permission (or `reach`), or 404. */
export async function loadRecording(ctx: ServiceContext, id: string, options: { lock?: boolean; reach?: Reach } = {}): Promise<LoadedRecording> {
  const found = await findRecordingInReach(ctx.db, id, options.reach ?? ctx.reach, ctx.caller, {
    lock: options.lock,
    mediaReach: ctx.can('recordings:media_access'),
  })
  if (!found) throw notFound('not_found.recording')
  return found
}

/**
 * For other modules that link a recording to their records (incidents): its id, unit and status
 * when the caller reaches it with recordings:read; null otherwise (unknown or out of reach alike).
 */
export async function readableRecording(ctx: ServiceContext, id: string): Promise<Pick<RecordingRow, 'id' | 'org_unit_id' | 'status'> | null> {
  const reach = ctx.can('recordings:read')
  const found = reach ? await findRecordingInReach(ctx.db, id, reach, ctx.caller) : undefined
  return found ? { id: found.id, org_unit_id: found.org_unit_id, status: found.status } : null
}

/**
 * For other modules that refer to recordings (disclosure requests): the status of a recording the
 * caller reaches with `reach`, or null when it is unknown or out of reach.
 */
export async function recordingStatusInReach(ctx: ServiceContext, id: string, reach: Reach | null): Promise<RecordingStatus | null> {
  if (!reach) return null
  const found = await findRecordingInReach(ctx.db, id, reach, ctx.caller)
  return found?.status ?? null
}

/** For other modules that name redacted copies (a disclosure decision): a derivative of the recording, with its status, or null. */
export async function derivativeOfRecording(ctx: ServiceContext, recordingId: string, derivativeId: string): Promise<{ status: 'active' | 'disposed' } | null> {
  const found = await findDerivative(ctx.db, recordingId, derivativeId)
  return found ? { status: found.status } : null
}

/** The recording as it is now, for the response to a change the caller made. */
async function reloadRecording(ctx: ServiceContext, id: string): Promise<LoadedRecording> {
  return loadRecording(ctx, id, { reach: 'all' })
}

/** How staff names appear (the name-display policy in force today). */
export async function nameMode(ctx: ServiceContext) {
  return (await policiesToday(ctx)).name_display.body.mode
}

/** A page of recordings in reach matching the filters, newest first. */
export async function listRecordingsInReach(ctx: ServiceContext, filters: RecordingFilters, limit: number, cursor: string | undefined) {
  const rows = await listRecordings(
    ctx.db,
    ctx.reach,
    ctx.caller,
    ctx.can('recordings:media_access'),
    filters,
    limit + 1,
    cursor ? decodeCursor(cursor, 2) : null,
  )
  const { page, nextCursor } = paginate(rows, limit, recordingListKey)
  ctx.audit.details = { count: page.length, ids: page.map((r) => r.id) }
  return { items: await presentRecordings(ctx, page), next_cursor: nextCursor }
}

function onHold(row: Pick<RecordingRow, 'hold_open' | 'held_until'>, today: string): boolean {
  return row.hold_open || (row.held_until !== null && row.held_until >= today)
}

function recordingView(row: LoadedRecording, refs: Map<string, StaffRef>, today: string): RecordingView {
  const ref = (s: string) => refs.get(s) ?? { id: s, display_name: s }
  // Redacted, never dropped: the values stay in the database for those who may see them.
  const visible = row.media_visible
  return {
    id: row.id,
    case_id: row.case_id,
    org_unit_id: row.org_unit_id,
    media_kind: row.media_kind,
    source: row.source,
    recorded_by: row.recorded_by,
    recorder: row.recorder ? ref(row.recorder) : null,
    started_at: row.started_at.toISOString(),
    ended_at: row.ended_at.toISOString(),
    document_date: row.document_date,
    storage_uri: visible ? row.storage_uri : null,
    sha256: row.sha256,
    size_bytes: row.size_bytes,
    media_type: row.media_type,
    title: row.title,
    location: row.location,
    description: visible ? row.description : null,
    participants: visible ? row.participants : null,
    caller_number: visible ? row.caller_number : null,
    redacted: !visible,
    notice: { given: row.notice_given, method: row.notice_method, at: row.notice_at?.toISOString() ?? null },
    resident_permission: row.resident_permission,
    on_premises: row.on_premises,
    notice_missing: row.notice_missing,
    flags: row.flags as RecordingFlag[],
    recording_policy_version_id: row.recording_policy_id,
    classification: {
      administrative_document: row.administrative_document,
      personal_information: row.personal_information,
      key: row.classification,
      record_category: row.record_category,
      provisional: row.provisional,
      classified_at: row.classified_at.toISOString(),
      classified_by: ref(row.classified_by),
    },
    retention: {
      policy_version_id: row.retention_policy_id,
      start: row.retention_start,
      end: row.retention_end,
      review_until: row.review_until,
      action: row.retention_action,
      effective_end: row.hold_open ? null : row.effective_end,
      on_hold: onHold(row, today),
    },
    status: row.status,
    due_since: row.due_since,
    pending_disposition_id: row.pending_disposition_id,
    disposition_id: row.disposition_id,
    registered_by: ref(row.registered_by),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  }
}

export async function presentRecordings(ctx: ServiceContext, rows: readonly LoadedRecording[]): Promise<RecordingView[]> {
  const subjects = rows.flatMap((r) => [r.registered_by, r.classified_by, ...(r.recorder ? [r.recorder] : [])])
  const refs = await staffRefs(ctx.db, subjects, await nameMode(ctx))
  const today = todayInTokyo()
  return rows.map((r) => recordingView(r, refs, today))
}

export async function presentRecording(ctx: ServiceContext, row: LoadedRecording): Promise<RecordingView> {
  return (await presentRecordings(ctx, [row]))[0]!
}

// ---------------------------------------------------------------------------------------------
// Writing

export function recordingChange(
  kind: string,
  row: Pick<RecordingRow, 'id' | 'org_unit_id' | 'status' | 'version'>,
  data: Record<string, unknown> = {},
): DomainChange {
  return { kind, resourceType: 'recording', resourceId: row.id, orgUnitId: row.org_unit_id, data: { status: row.status, version: row.version, ...data } }
}

/**
 * Brings a live recording's status in line with its retention and holds on `today` (after a
 * classification or a hold changed them); returns the row and the change to publish, if any.
 */
export async function settle(q: Queryable, row: RecordingRow, today: string): Promise<{ row: RecordingRow; changes: DomainChange[] }> {
  if (isTerminal(row.status)) return { row, changes: [] }
  const status = settledStatus(row, today)
  const dueSince = status === 'due' ? addDays(row.effective_end, 1) : null
  if (status === row.status && dueSince === row.due_since) return { row, changes: [] }
  const updated = await updateRecording(q, row.id, { status, due_since: dueSince })
  const becameDue = status === 'due' && row.status !== 'due'
  return { row: updated, changes: becameDue ? [recordingChange('recording.due', updated, { effective_end: updated.effective_end })] : [] }
}

function checkFacts(input: CreateRecording): void {
  const errors: FieldError[] = []
  const started = new Date(input.started_at).getTime()
  if (isInTheFuture(new Date(started))) errors.push({ pointer: 'body/started_at', message: 'field.in_future' })
  if (new Date(input.ended_at).getTime() < started) errors.push({ pointer: 'body/ended_at', message: 'recordings.ended_before_started' })
  if (!input.media_type.startsWith(`${input.media_kind}/`))
    errors.push({ pointer: 'body/media_type', message: { id: 'recordings.media_type_kind', params: { kind: input.media_kind } } })
  if ((input.recorded_by === 'resident') !== (input.source === 'resident_provided')) {
    errors.push({ pointer: 'body/recorded_by', message: 'recordings.resident_source' })
  }
  if (input.notice.given && !input.notice.method) errors.push({ pointer: 'body/notice/method', message: 'recordings.notice_method_required' })
  if (!input.notice.given && (input.notice.method !== undefined || input.notice.at !== undefined)) {
    errors.push({ pointer: 'body/notice', message: 'recordings.notice_only_when_given' })
  }
  if (input.recorded_by !== 'resident' && (input.resident_permission !== undefined || input.on_premises !== undefined)) {
    errors.push({ pointer: 'body/resident_permission', message: 'recordings.only_resident' })
  }
  if (errors.length > 0) throw unprocessable({ id: 'problem.inconsistent_values', params: { count: errors.length, fields: { fields: errors } } }, errors)
}

const FLAG_AUDIT_ACTIONS: Record<RecordingFlag, string> = {
  notice_missing: 'recording.notice_missing',
  resident_recording_prohibited: 'recording.resident_recording_prohibited',
  resident_recording_without_permission: 'recording.resident_recording_without_permission',
}

/**
 * Registers a recording. Until a records manager classifies it, it carries a provisional
 * classification that the documents' defaults imply: a recording identifies the people in it
 * (個人情報); one attached to a case is used in the case's handling (行政文書) too. So a stray
 * phone-system recording is purged after the personal-information period, and a case's
 * recording is kept like the case file, without waiting for anyone.
 *
 * One statement (in autocommit, or in the request's transaction with an Idempotency-Key): what
 * needs no database (the facts, the recording policy's judgement, the presumed classification,
 * its retention and the status it gives, from the policies every instance keeps) is decided
 * here; the case in reach (or the unit of a recording without a case) is the statement's
 * condition, and the problem when it refuses is decided from what it returns, as before. The case
 * is read without a lock, as before: its unit never changes and reach only grows (responders are
 * added, never removed), so what the statement read still holds when it commits.
 */
export async function registerRecording(ctx: ServiceContext, input: CreateRecording): Promise<RecordingView> {
  const { caller } = ctx
  checkFacts(input)
  const { target, refusal } = registrationTarget(ctx, input)
  let decided: Awaited<ReturnType<typeof decideRegistration>>
  try {
    decided = await decideRegistration(ctx, input)
  } catch (error) {
    // The case or unit is answered for first, whatever else the body says (no probing by 422s).
    const problem = refusal(await findTarget(ctx.db, target, caller))
    throw problem ?? error
  }
  const { recording, classification, judgement, recordingPolicy, changes } = decided
  const id = recording.id

  ctx.audit.resourceId = id
  ctx.audit.details = { flags: judgement.flags, case_id: input.case_id ?? null, recording_policy_version_id: recordingPolicy.id }
  for (const flag of judgement.flags) {
    ctx.audit.also.push({
      action: FLAG_AUDIT_ACTIONS[flag],
      resourceType: 'recording',
      resourceId: id,
      details: { reason: judgement.reasons[flag], recording_policy_version_id: recordingPolicy.id },
    })
  }
  const statement = ctx.oneStatement
  const written = statement ? { auditRows: statement.auditRows(201), changes } : null
  const found = await insertRecordingChecked(
    ctx.db,
    target,
    recording,
    classification,
    { caller, mediaReach: ctx.can('recordings:media_access') },
    written,
  ).catch(conflictOnUnique('body/storage_uri', 'recordings.storage_uri_taken'))
  const problem = refusal(found)
  if (problem) throw problem
  if (!found?.id) throw new Error('the registration was refused by no known rule')
  const row = found as LoadedRecording & { recorder_profile: Profile | null }
  if (!statement) ctx.publish(...changes.map((c) => ({ ...c, orgUnitId: row.org_unit_id })))

  // The names as they are now: the caller's from their token (what the statement remembered).
  const mode = await nameMode(ctx)
  const refs = new Map<string, StaffRef>([
    [SYSTEM_ACTOR, staffRef(SYSTEM_ACTOR, null, mode)],
    [caller.subject, staffRef(caller.subject, { full_name: caller.name, family_name: caller.familyName, business_name: caller.businessName }, mode)],
  ])
  if (row.recorder && row.recorder !== caller.subject) refs.set(row.recorder, staffRef(row.recorder, row.recorder_profile, mode))
  return recordingView(row, refs, todayInTokyo())
}

/** The statement's target: the case in the caller's reach, or the unit of a recording without a case. */
function registrationTarget(ctx: ServiceContext, input: CreateRecording) {
  if (input.case_id) {
    const target: RegistrationTarget = {
      shape: `case/${ctx.reach}`,
      targetId: input.case_id,
      wantedUnit: input.org_unit_id ?? null,
      build: (v) => caseTarget(caseUnitInReach(ctx.db, v.targetId, ctx.reach, v.caller), v.wantedUnit),
    }
    const refusal = (found: TargetFound) => {
      if (!found) return unprocessable('reach.no_case', [{ pointer: 'body/case_id', message: 'reach.no_such_case' }])
      if (!found.unit_matches) return unprocessable('recordings.case_unit', [{ pointer: 'body/org_unit_id', message: 'recordings.differs_case_unit' }])
      return null
    }
    return { target, refusal }
  }
  const unit = unitForNewRecordInStatement(ctx, input.org_unit_id, { pointer: 'body/org_unit_id', doing: 'doing.register_recordings' })
  const target: RegistrationTarget = {
    shape: `unit/${ctx.reach}`,
    targetId: unit.unitId,
    wantedUnit: null,
    build: (v) => unitTarget(unit.query(v.targetId, v.caller.orgUnit)),
  }
  const refusal = (found: TargetFound) => unit.refusal(found ? { exists: true, allowed: found.allowed } : { exists: false, allowed: false })
  return { target, refusal }
}

type TargetFound = { allowed: boolean; unit_matches: boolean } | undefined

/** What a registration writes, decided without the database (the policies are kept per instance). */
async function decideRegistration(ctx: ServiceContext, input: CreateRecording) {
  const today = todayInTokyo()
  const startedAt = new Date(input.started_at)
  // 作成・取得日: the organisation's own recording is made when it starts; one a resident
  // provides is obtained (取得) when it is handed over, i.e. registered.
  const documentDate = input.source === 'resident_provided' ? today : tokyoDate(startedAt)
  const recordingPolicy = await policyOn(ctx, 'recording', tokyoDate(startedAt))
  const judgement = judgeRecording(input, recordingPolicy.body)

  const presumed = {
    administrative_document: input.case_id !== undefined,
    personal_information: true,
    record_category: input.record_category ?? (input.case_id ? 'case_recording' : 'interaction_recording'),
  }
  const retention = withReviewPeriod(await decideRetention(ctx, documentDate, presumed, today, 'body/record_category'), presumed, today)
  // A recording whose retention has already run out is due at once: as `settle` would make it
  // right after the insert (status, due_since, and the version that change moves on).
  const status = settledStatus(
    {
      status: 'active',
      hold_open: false,
      effective_end: retention.end,
      administrative_document: presumed.administrative_document,
      retention_action: retention.action,
    },
    today,
  )
  const due = status === 'due'

  const id = newId()
  const classificationId = newId()
  const recording: NewRecording = {
    id,
    media_kind: input.media_kind,
    source: input.source,
    recorded_by: input.recorded_by,
    recorder: input.recorder ?? null,
    started_at: startedAt,
    ended_at: new Date(input.ended_at),
    document_date: documentDate,
    storage_uri: input.storage_uri,
    sha256: input.sha256.toLowerCase(),
    size_bytes: input.size_bytes,
    media_type: input.media_type,
    title: input.title ?? null,
    location: input.location ?? null,
    description: input.description ?? null,
    participants: input.participants ?? null,
    caller_number: input.caller_number ?? null,
    notice_given: input.notice.given,
    notice_method: input.notice.method ?? null,
    notice_at: input.notice.at ? new Date(input.notice.at) : null,
    resident_permission: input.resident_permission ?? null,
    on_premises: input.recorded_by === 'resident' ? (input.on_premises ?? true) : null,
    notice_missing: judgement.flags.includes('notice_missing'),
    flags: judgement.flags,
    recording_policy_id: recordingPolicy.id,
    classification_id: classificationId,
    record_category: presumed.record_category,
    administrative_document: presumed.administrative_document,
    personal_information: presumed.personal_information,
    classification: retention.key,
    retention_policy_id: retention.policy.id,
    retention_start: retention.start,
    retention_end: retention.end,
    retention_action: retention.action,
    held_until: null,
    review_until: retention.reviewUntil,
    status,
    due_since: due ? addDays(retention.end, 1) : null,
    pending_disposition_id: null,
    disposition_id: null,
    registered_by: ctx.caller.subject,
    version: due ? 2 : 1,
  }
  const classification: NewClassification = {
    id: classificationId,
    ...presumed,
    classification: retention.key,
    reason: input.case_id
      ? 'Presumed at registration: attached to a case and used in its handling (行政文書), identifying the people recorded (個人情報)'
      : 'Presumed at registration: not attached to a case; a recording identifies the people in it (個人情報)',
    provisional: true,
    classified_by: SYSTEM_ACTOR,
    ...retentionColumns(retention, documentDate),
    // Sent inside a JSON record (insertRecordingChecked): the rule itself, not its text.
    retention_rule: retention.matched.rule,
  }
  // recordingChange's shape; the recording's unit (the case's) is the statement's to fill in.
  const change = (kind: string, data: Record<string, unknown>) => ({
    kind,
    resourceType: 'recording',
    resourceId: id,
    data: { status, version: recording.version, ...data },
  })
  const changes = [
    change('recording.registered', { case_id: input.case_id ?? null, media_kind: input.media_kind, flags: judgement.flags, classification: retention.key }),
    ...(due ? [change('recording.due', { effective_end: retention.end })] : []),
  ]
  return { recording, classification, judgement, recordingPolicy, changes }
}

function retentionColumns(retention: RetentionDecision, documentDate: string) {
  return {
    retention_policy_id: retention.policy.id,
    retention_rule: JSON.stringify(retention.matched.rule),
    rule_match: retention.matched.match,
    document_date: documentDate,
    retention_start: retention.start,
    retention_end: retention.end,
    retention_action: retention.action,
  }
}

const DESCRIPTIVE = ['title', 'location', 'description', 'participants', 'caller_number'] as const

/** Changes descriptive fields (If-Match); facts, classification and retention do not change here. */
export async function updateDescription(ctx: ServiceContext, id: string, input: UpdateRecording, ifMatch: string | undefined): Promise<LoadedRecording> {
  const row = await loadRecording(ctx, id, { lock: true })
  requireIfMatch(ifMatch, row.version)
  if (isTerminal(row.status)) throw conflict({ id: 'recordings.no_longer_changes', params: { status: row.status } })
  const changes: Pick<Updateable<RecordingsTable>, (typeof DESCRIPTIVE)[number]> = {}
  for (const field of DESCRIPTIVE) {
    const value = input[field]
    if (value === undefined) continue
    if (JSON.stringify(value) !== JSON.stringify(row[field])) Object.assign(changes, { [field]: value })
  }
  if (Object.keys(changes).length === 0) return row
  const updated = await updateRecording(ctx.db, id, changes)
  ctx.publish(recordingChange('recording.updated', updated, { fields: Object.keys(changes) }))
  ctx.audit.details = { fields: Object.keys(changes) }
  return reloadRecording(ctx, id)
}

/**
 * A records manager's classification: recomputes retention under the schedule in force today
 * and keeps the decision in the history. Refused for tombstones and while a disposition is
 * pending (decide or cancel it first: it was proposed under the old rule).
 */
export async function classifyRecording(ctx: ServiceContext, id: string, input: Classify, ifMatch: string | undefined): Promise<LoadedRecording> {
  const row = await loadRecording(ctx, id, { lock: true })
  if (ifMatch !== undefined) requireIfMatch(ifMatch, row.version)
  if (isTerminal(row.status)) throw conflict({ id: 'recordings.no_longer_classified', params: { status: row.status } })
  if (row.pending_disposition_id) {
    throw conflict(
      { id: 'recordings.disposition_pending', params: { id: row.pending_disposition_id } },
      {
        disposition_id: row.pending_disposition_id,
      },
    )
  }
  const today = todayInTokyo()
  const retention = await decideRetention(ctx, row.document_date, input, today, 'body/record_category')
  const classification = await insertClassification(ctx.db, {
    id: newId(),
    recording_id: id,
    administrative_document: input.administrative_document,
    personal_information: input.personal_information,
    classification: retention.key,
    record_category: input.record_category,
    reason: input.reason,
    provisional: false,
    classified_by: ctx.caller.subject,
    ...retentionColumns(retention, row.document_date),
  })
  let updated = await updateRecording(ctx.db, id, {
    classification_id: classification.id,
    administrative_document: input.administrative_document,
    personal_information: input.personal_information,
    classification: retention.key,
    record_category: input.record_category,
    retention_policy_id: retention.policy.id,
    retention_start: retention.start,
    retention_end: retention.end,
    retention_action: retention.action,
    // A person has looked: their classification decides alone, at once if it says so.
    review_until: null,
  })
  // A recording that was due may not be any more (or the other way round).
  const settled = await settle(ctx.db, updated, today)
  updated = settled.row
  ctx.publish(
    recordingChange('recording.classified', updated, {
      classification_id: classification.id,
      classification: retention.key,
      record_category: input.record_category,
      retention_policy_version_id: retention.policy.id,
      retention_end: retention.end,
    }),
    ...settled.changes,
  )
  ctx.audit.details = {
    classification_id: classification.id,
    classification: retention.key,
    record_category: input.record_category,
    retention_end: retention.end,
  }
  return reloadRecording(ctx, id)
}

export async function classificationEntries(ctx: ServiceContext, id: string) {
  const row = await loadRecording(ctx, id)
  const history = await classificationHistory(ctx.db, row.id)
  const refs = await staffRefs(
    ctx.db,
    history.map((h) => h.classified_by),
    await nameMode(ctx),
  )
  return {
    items: history.map((h) => ({
      id: h.id,
      administrative_document: h.administrative_document,
      personal_information: h.personal_information,
      key: h.classification,
      record_category: h.record_category,
      reason: h.reason,
      provisional: h.provisional,
      classified_by: refs.get(h.classified_by) ?? { id: h.classified_by, display_name: h.classified_by },
      classified_at: h.classified_at.toISOString(),
      retention: {
        policy_version_id: h.retention_policy_id,
        rule: h.retention_rule as RetentionRule,
        rule_match: h.rule_match,
        document_date: h.document_date,
        start: h.retention_start,
        end: h.retention_end,
        action: h.retention_action,
      },
    })),
  }
}

/**
 * A short-lived signed grant to open the recording's media (for the media server), or a redacted
 * copy's (`derivativeId`): supervisors within their unit, the desk and records managers; another
 * module handing media over passes the caller's reach for recordings:media_access. 409 once the
 * media is gone.
 */
export async function grantMediaAccess(
  ctx: ServiceContext,
  id: string,
  settings: MediaGrantSettings,
  keys: SigningKeys,
  purpose: string | null,
  options: { derivativeId?: string; reach?: Reach } = {},
) {
  const row = await loadRecording(ctx, id, { reach: options.reach })
  let media: { storageUri: string | null; sha256: string; mediaType: string; what: Message } = {
    storageUri: row.storage_uri,
    sha256: row.sha256,
    mediaType: row.media_type,
    what: { id: 'recordings.was_status', params: { status: row.status } },
  }
  if (options.derivativeId) {
    const derivative = await findDerivative(ctx.db, row.id, options.derivativeId)
    if (!derivative) throw notFound('not_found.derivative')
    media = { storageUri: derivative.storage_uri, sha256: derivative.sha256, mediaType: derivative.media_type, what: 'derivatives.was_disposed' }
  }
  if (media.storageUri === null) throw conflict({ id: 'recordings.media_gone', params: { what: { text: media.what } } })
  const { grant, kid } = await issueMediaGrant(ctx.db, settings, keys, {
    recordingId: row.id,
    derivativeId: options.derivativeId,
    storageUri: media.storageUri,
    sha256: media.sha256,
    mediaType: media.mediaType,
    caller: ctx.caller.subject,
    purpose,
  })
  // Which key signed which grant.
  ctx.audit.details = { jti: grant.jti, expires_at: grant.expires_at, purpose, audience: grant.audience, kid, derivative_id: options.derivativeId ?? null }
  return grant
}
