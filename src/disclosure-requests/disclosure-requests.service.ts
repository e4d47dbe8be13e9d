import { reachesCase } from '../cases/cases.service.ts'
import type { ServiceContext } from '../kernel/context.ts'
import { conflict, type FieldError, forbidden, invalidValues, notFound, unprocessable } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import type { DomainChange } from '../kernel/outbox.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import { requireIfMatch } from '../kernel/preconditions.ts'
import { todayInTokyo } from '../kernel/time.ts'
import { requireOrgUnit, unitForNewRecord } from '../org-units/org-units.service.ts'
import { POLICY_EPOCH } from '../policies/policies.schemas.ts'
import { policiesToday, policyOn } from '../policies/policies.service.ts'
import { placeHold, releaseHold } from '../recordings/holds.service.ts'
import { isTerminal, recordingStatusInReach } from '../recordings/recordings.service.ts'
import { staffRefs } from '../staff/staff.repository.ts'
import { excludedDays } from './disclosure-deadline.ts'
import { computeDeadline, deadlineColumns } from './disclosure-deadline.service.ts'
import {
  appendStep,
  findRequestInReach,
  insertRecordEntry,
  insertRequest,
  type LoadedRequest,
  listRequests,
  markRecordRemoved,
  type NewStep,
  type RequestFilters,
  type RequestRow,
  type RequesterData,
  requestListKey,
  setRequester,
  stepsOf,
  updateRequest,
} from './disclosure-requests.repository.ts'
import type { AddRecord, CreateDisclosureRequest, DisclosureRequestView, StepView, UpdateDisclosureRequest } from './disclosure-requests.schemas.ts'
import { OPEN_STATUSES, stepsFrom } from './disclosure-status.ts'
import type { Message } from '../kernel/messages/index.ts'

/**
 * Disclosure requests (開示請求): a request for recordings and case files, under the
 * personal-information law (the requester's own information) or the information-disclosure law
 * or ordinance (administrative documents). The service keeps its deadline (disclosure-deadline.ts),
 * the records it covers and the holds it places on recordings (施行令第9条: kept until one year after
 * the day after the decision), and every step of its state machine (disclosure-status.ts;
 * the steps themselves in disclosure-steps.service.ts). The requester is personal data, kept
 * apart and redacted for roles without disclosure_requests:read_personal.
 */

// ---------------------------------------------------------------------------------------------
// Reading and presenting

/** A request the caller reaches with the route's permission (locked for writing), or 404. */
export async function loadRequest(ctx: ServiceContext, id: string, options: { lock?: boolean } = {}): Promise<LoadedRequest> {
  const found = await findRequestInReach(ctx.db, id, ctx.reach, ctx.caller, {
    lock: options.lock,
    personalReach: ctx.can('disclosure_requests:read_personal'),
  })
  if (!found) throw notFound('not_found.disclosure_request')
  return found
}

/** The request as it is now, for the response to a change the caller made. */
export async function reloadRequest(ctx: ServiceContext, id: string): Promise<LoadedRequest> {
  const found = await findRequestInReach(ctx.db, id, 'all', ctx.caller, { personalReach: ctx.can('disclosure_requests:read_personal') })
  if (!found) throw notFound('not_found.disclosure_request')
  return found
}

const iso = (value: string | Date) => new Date(value).toISOString()

async function presentRequests(ctx: ServiceContext, rows: readonly LoadedRequest[]): Promise<DisclosureRequestView[]> {
  const subjects = rows.flatMap((r) => [
    r.created_by,
    ...r.corrections.flatMap((c) => [c.requested_by, ...(c.received_by ? [c.received_by] : [])]),
    ...r.records.flatMap((e) => [e.added_by, ...(e.removed_by ? [e.removed_by] : [])]),
    ...r.handovers.map((h) => h.recorded_by),
  ])
  const refs = await staffRefs(ctx.db, subjects, (await policiesToday(ctx)).name_display.body.mode)
  const ref = (s: string) => refs.get(s) ?? { id: s, display_name: s }
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    received_date: r.received_date,
    subject_matter: r.subject_matter,
    org_unit_id: r.org_unit_id,
    status: r.status,
    requester:
      r.personal_visible && r.requester
        ? {
            name: r.requester.name,
            address: r.requester.address,
            contact: r.requester.contact,
            identity_confirmation: r.requester.identity_method
              ? { method: r.requester.identity_method, ...(r.requester.identity_note ? { note: r.requester.identity_note } : {}) }
              : null,
          }
        : null,
    // Redacted, never dropped: the data stays in the database for those who may see it.
    requester_redacted: !r.personal_visible,
    deadline: {
      due_date: r.due_date,
      warn_from: r.warn_from,
      suspended: r.status === 'correction_requested',
      policy_version_id: r.disclosure_policy_id,
    },
    corrections: r.corrections.map((c) => ({
      round: c.round,
      requested_on: c.requested_on,
      reason: c.reason,
      requested_by: ref(c.requested_by),
      corrected_on: c.corrected_on,
      received_by: c.received_by ? ref(c.received_by) : null,
      excluded_days: excludedDays(c),
    })),
    extension:
      r.extension_days && r.extension_reason && r.extension_decided_on && r.extension_notified_on
        ? { days: r.extension_days, reason: r.extension_reason, decided_on: r.extension_decided_on, notified_on: r.extension_notified_on }
        : null,
    records: r.records.map((e) => ({
      id: e.id,
      type: e.record_type,
      record_id: e.record_id,
      hold_id: e.hold_id,
      appeal_hold_id: e.appeal_hold_id,
      note: e.note,
      added_by: ref(e.added_by),
      added_at: iso(e.added_at),
      removed_at: e.removed_at ? iso(e.removed_at) : null,
      removed_by: e.removed_by ? ref(e.removed_by) : null,
      removal_reason: e.removal_reason,
    })),
    decision:
      r.decision && r.decided_on ? { decision: r.decision, decided_on: r.decided_on, reason: r.decision_reason ?? '', items: r.decision_items ?? [] } : null,
    handovers: r.handovers.map((h) => ({
      id: h.id,
      record_type: h.record_type,
      record_id: h.record_id,
      derivative_id: h.derivative_id,
      method: h.method,
      medium: h.medium,
      grant_jti: h.grant_jti,
      grant_expires_at: h.grant_expires_at ? iso(h.grant_expires_at) : null,
      handed_over_on: h.handed_over_on,
      recorded_by: ref(h.recorded_by),
      recorded_at: iso(h.recorded_at),
    })),
    disclosed_on: r.disclosed_on,
    withdrawn_on: r.withdrawn_on,
    appeal: r.appeal_filed_on ? { filed_on: r.appeal_filed_on, outcome: r.appeal_outcome, decided_on: r.appeal_decided_on } : null,
    allowed_steps: stepsFrom(r.status),
    created_by: ref(r.created_by),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    version: r.version,
  }))
}

export async function presentRequest(ctx: ServiceContext, row: LoadedRequest): Promise<DisclosureRequestView> {
  return (await presentRequests(ctx, [row]))[0]!
}

/** A page of requests in reach; with due_before, the due list (soonest deadline first). */
export async function listRequestsInReach(ctx: ServiceContext, filters: RequestFilters, limit: number, cursor: string | undefined) {
  const due = filters.dueBefore !== undefined
  const rows = await listRequests(
    ctx.db,
    ctx.reach,
    ctx.caller,
    ctx.can('disclosure_requests:read_personal'),
    filters,
    limit + 1,
    cursor ? decodeCursor(cursor, 2) : null,
  )
  const { page, nextCursor } = paginate(rows, limit, (r) => requestListKey(r, due))
  ctx.audit.details = { count: page.length, ids: page.map((r) => r.id) }
  return { items: await presentRequests(ctx, page), next_cursor: nextCursor }
}

/** Every step of a request, oldest first: who, when, on which date and why. */
export async function requestHistory(ctx: ServiceContext, id: string): Promise<StepView[]> {
  const request = await loadRequest(ctx, id)
  const steps = await stepsOf(ctx.db, request.id)
  const refs = await staffRefs(
    ctx.db,
    steps.map((s) => s.actor),
    (await policiesToday(ctx)).name_display.body.mode,
  )
  ctx.audit.details = { count: steps.length }
  return steps.map((s) => ({
    seq: s.seq,
    action: s.action,
    from_status: s.from_status,
    to_status: s.to_status,
    on_date: s.on_date,
    reason: s.reason,
    details: s.details,
    actor: refs.get(s.actor) ?? { id: s.actor, display_name: s.actor },
    recorded_at: s.recorded_at.toISOString(),
  }))
}

// ---------------------------------------------------------------------------------------------
// Writing: helpers the steps share

/** A change on the feed: ids, kinds, dates and statuses, never the requester. */
export function requestChange(
  kind: string,
  row: Pick<RequestRow, 'id' | 'org_unit_id' | 'status' | 'version'>,
  data: Record<string, unknown> = {},
): DomainChange {
  return {
    kind: `disclosure_request.${kind}`,
    resourceType: 'disclosure_request',
    resourceId: row.id,
    orgUnitId: row.org_unit_id,
    data: { status: row.status, version: row.version, ...data },
  }
}

export async function recordStep(ctx: ServiceContext, step: Omit<NewStep, 'actor'>): Promise<void> {
  await appendStep(ctx.db, { ...step, actor: ctx.caller.subject }, newId())
}

/** 422 naming the field when a date lies after today or before another the request already has. */
export function dateErrors(value: string, pointer: string, notBefore: Array<[string | null, Message]> = []): FieldError[] {
  const errors: FieldError[] = []
  if (value > todayInTokyo()) errors.push({ pointer, message: 'field.after_today' })
  for (const [bound, what] of notBefore)
    if (bound && value < bound) errors.push({ pointer, message: { id: 'field.before', params: { what: { text: what }, date: bound } } })
  return errors
}

export function refuseIf(errors: FieldError[]): void {
  if (errors.length === 0) return
  throw invalidValues(errors)
}

/** The hold reference the request writes on the recordings it covers (施行令第9条第1項第4号). */
export const holdReference = (requestId: string) => `開示請求 ${requestId}`

/** The caller's reach over recordings, for the holds the request places, decides and releases: they are the request's own. */
export function recordingReach(ctx: ServiceContext) {
  const reach = ctx.can('recordings:read')
  if (!reach) throw forbidden('disclosure.needs_recordings_read')
  return reach
}

// ---------------------------------------------------------------------------------------------
// Creating and changing

function requesterData(input: CreateDisclosureRequest['requester']): RequesterData {
  return {
    name: input.name,
    address: input.address ?? null,
    contact: input.contact ?? null,
    identity_method: input.identity_confirmation?.method ?? null,
    identity_note: input.identity_confirmation?.note ?? null,
  }
}

/** 本人確認: a personal-information request names how the requester's identity was confirmed; an information-disclosure request, open to anyone, does not. */
function identityErrors(kind: CreateDisclosureRequest['kind'], requester: CreateDisclosureRequest['requester'], pointer: string): FieldError[] {
  if (kind === 'personal_information' && !requester.identity_confirmation) {
    return [{ pointer: `${pointer}/identity_confirmation`, message: 'disclosure.identity_required' }]
  }
  if (kind === 'information_disclosure' && requester.identity_confirmation) {
    return [{ pointer: `${pointer}/identity_confirmation`, message: 'disclosure.identity_only_personal' }]
  }
  return []
}

export async function createRequest(ctx: ServiceContext, input: CreateDisclosureRequest): Promise<LoadedRequest> {
  refuseIf([
    ...dateErrors(input.received_date, 'body/received_date', [[POLICY_EPOCH, 'when.policy_epoch']]),
    ...identityErrors(input.kind, input.requester, 'body/requester'),
  ])
  const orgUnitId = await unitForNewRecord(ctx, input.org_unit_id, { pointer: 'body/org_unit_id', doing: 'doing.handle_disclosure_requests' })
  // The version in force on the received date governs the request.
  const policy = await policyOn(ctx, 'disclosure', input.received_date)
  const deadline = await computeDeadline(ctx.db, { kind: input.kind, received_date: input.received_date, corrections: [], extension_days: null }, policy)
  const id = newId()
  const row = await insertRequest(ctx.db, {
    id,
    kind: input.kind,
    received_date: input.received_date,
    subject_matter: input.subject_matter,
    org_unit_id: orgUnitId,
    ...deadlineColumns(deadline),
    extension_days: null,
    extension_reason: null,
    extension_decided_on: null,
    extension_notified_on: null,
    decision: null,
    decided_on: null,
    decision_reason: null,
    decision_items: null,
    disclosed_on: null,
    withdrawn_on: null,
    appeal_filed_on: null,
    appeal_outcome: null,
    appeal_decided_on: null,
    created_by: ctx.caller.subject,
  })
  await setRequester(ctx.db, id, requesterData(input.requester))
  await recordStep(ctx, {
    requestId: id,
    action: 'received',
    from: null,
    to: 'received',
    onDate: input.received_date,
    reason: null,
    details: { kind: input.kind, due_date: row.due_date, disclosure_policy_version_id: policy.id },
  })
  ctx.publish(requestChange('received', row, { kind: row.kind, received_date: row.received_date, due_date: row.due_date }))
  ctx.audit.resourceId = id
  ctx.audit.details = { kind: row.kind, received_date: row.received_date, due_date: row.due_date, disclosure_policy_version_id: policy.id }
  return reloadRequest(ctx, id)
}

/** Changes descriptive fields (If-Match). The kind and the received date govern the deadline and never change. */
export async function updateDescription(ctx: ServiceContext, id: string, input: UpdateDisclosureRequest, ifMatch: string | undefined): Promise<LoadedRequest> {
  const request = await loadRequest(ctx, id, { lock: true })
  requireIfMatch(ifMatch, request.version)
  if (input.requester) refuseIf(identityErrors(request.kind, input.requester, 'body/requester'))
  if (input.org_unit_id) await requireOrgUnit(ctx, input.org_unit_id, 'body/org_unit_id')
  const fields: string[] = []
  const changes: { subject_matter?: string; org_unit_id?: string } = {}
  if (input.subject_matter !== undefined && input.subject_matter !== request.subject_matter) changes.subject_matter = input.subject_matter
  if (input.org_unit_id !== undefined && input.org_unit_id !== request.org_unit_id) changes.org_unit_id = input.org_unit_id
  fields.push(...Object.keys(changes))
  if (input.requester) {
    await setRequester(ctx.db, id, requesterData(input.requester))
    fields.push('requester')
  }
  const row = await updateRequest(ctx.db, id, changes)
  await recordStep(ctx, { requestId: id, action: 'updated', from: row.status, to: row.status, onDate: null, reason: null, details: { fields } })
  ctx.publish(requestChange('updated', row, { fields }))
  ctx.audit.details = { fields }
  return reloadRequest(ctx, id)
}

/** Not while the request awaits its decision: the covered records are then fixed, and their holds run to a year after it. */
function requireOpen(request: LoadedRequest, doing: 'added' | 'removed'): void {
  if (!OPEN_STATUSES.includes(request.status)) {
    throw conflict(
      { id: doing === 'added' ? 'disclosure.add_only_open' : 'disclosure.remove_only_open', params: { status: request.status } },
      { status: request.status },
    )
  }
}

/**
 * Adds a recording or a case to the records a request covers. A recording gets a
 * disclosure_request hold referencing the request (施行令第9条第1項第4号): it is kept until one
 * year after the day after the decision, which sets the hold's decision date.
 */
export async function addRecord(ctx: ServiceContext, id: string, input: AddRecord): Promise<LoadedRequest> {
  const request = await loadRequest(ctx, id, { lock: true })
  requireOpen(request, 'added')
  if (request.records.some((e) => e.removed_at === null && e.record_type === input.type && e.record_id === input.id)) {
    throw conflict({ id: 'disclosure.already_covers', params: { type: input.type } })
  }
  let holdId: string | null = null
  if (input.type === 'case') {
    if (!(await reachesCase(ctx, input.id, 'cases:read'))) throw unprocessable('reach.no_case', [{ pointer: 'body/id', message: 'reach.no_such_case' }])
  } else {
    const reach = recordingReach(ctx)
    const status = await recordingStatusInReach(ctx, input.id, reach)
    if (status === null) throw unprocessable('reach.no_recording', [{ pointer: 'body/id', message: 'reach.no_such_recording' }])
    if (isTerminal(status)) throw conflict({ id: 'disclosure.recording_gone', params: { status } })
    const hold = await placeHold(
      ctx,
      input.id,
      { type: 'disclosure_request', reference: holdReference(id), note: 'Placed by the disclosure request it references' },
      { reach },
    )
    holdId = hold.id
  }
  const entryId = newId()
  await insertRecordEntry(ctx.db, {
    id: entryId,
    requestId: id,
    type: input.type,
    recordId: input.id,
    holdId,
    note: input.note ?? null,
    addedBy: ctx.caller.subject,
  })
  const row = await updateRequest(ctx.db, id, {})
  const details = { entry_id: entryId, record_type: input.type, record_id: input.id, hold_id: holdId }
  await recordStep(ctx, { requestId: id, action: 'record_added', from: row.status, to: row.status, onDate: null, reason: null, details })
  ctx.publish(requestChange('record_added', row, details))
  ctx.audit.details = details
  return reloadRequest(ctx, id)
}

/** Removes a covered record while the request is open; a recording's hold is released with the reason. */
export async function removeRecord(ctx: ServiceContext, id: string, entryId: string, reason: string): Promise<LoadedRequest> {
  const request = await loadRequest(ctx, id, { lock: true })
  const entry = request.records.find((e) => e.id === entryId)
  if (!entry) throw notFound('not_found.covered_record')
  if (entry.removed_at !== null) throw conflict('disclosure.already_removed')
  requireOpen(request, 'removed')
  if (entry.record_type === 'recording' && entry.hold_id) {
    await releaseHold(ctx, entry.record_id, entry.hold_id, `開示請求 ${id} の対象から除外: ${reason}`.slice(0, 2000), { reach: recordingReach(ctx) })
  }
  await markRecordRemoved(ctx.db, entryId, { by: ctx.caller.subject, reason })
  const row = await updateRequest(ctx.db, id, {})
  const details = { entry_id: entryId, record_type: entry.record_type, record_id: entry.record_id, hold_id: entry.hold_id }
  await recordStep(ctx, { requestId: id, action: 'record_removed', from: row.status, to: row.status, onDate: null, reason, details })
  ctx.publish(requestChange('record_removed', row, details))
  ctx.audit.details = details
  return reloadRequest(ctx, id)
}
