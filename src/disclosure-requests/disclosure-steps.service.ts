import type { Updateable } from 'kysely'
import type { ServiceContext } from '../kernel/context.ts'
import { conflict, type FieldError, forbidden } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { todayInTokyo } from '../kernel/time.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import type { MediaGrantSettings } from '../media-grants/media-grants.service.ts'
import type { PolicyVersion } from '../policies/policies.schemas.ts'
import { findPolicyVersion } from '../policies/policies.repository.ts'
import { placeHold, recordHoldDecision, releaseHold } from '../recordings/holds.service.ts'
import { derivativeOfRecording, grantMediaAccess, isTerminal, recordingStatusInReach } from '../recordings/recordings.service.ts'
import { computeDeadline, deadlineColumns } from './disclosure-deadline.service.ts'
import {
  closeCorrection,
  insertHandover,
  type LoadedRequest,
  openCorrection,
  type RequestRow,
  setAppealHold,
  updateRequest,
} from './disclosure-requests.repository.ts'
import type { Appeal, AppealOutcome, Decide, Extend, HandOver, ReceiveCorrection, RequestCorrection, Withdraw } from './disclosure-requests.schemas.ts'
import {
  dateErrors,
  holdReference,
  loadRequest,
  presentRequest,
  recordingReach,
  recordStep,
  refuseIf,
  reloadRequest,
  requestChange,
} from './disclosure-requests.service.ts'
import type { DisclosureRequestsTable } from './disclosure-requests.tables.ts'
import { type DecisionItem, type DisclosureStatus, type DisclosureStep, stepTarget, stepsFrom } from './disclosure-status.ts'

/**
 * The steps of a disclosure request's state machine (disclosure-status.ts), each recorded with
 * who, when, the date it took effect and why: corrections (補正), the extension (延長), the
 * decision (開示決定等) with what it discloses, hand-overs (開示の実施), withdrawal (取下げ) and the
 * appeal (審査請求) with its outcome. The holds the request placed on recordings follow: the
 * decision dates them, an appeal adds its own, a withdrawal releases them.
 */

/** The request, locked, and where the step leads from its status (409 naming the steps allowed). */
async function beginStep(ctx: ServiceContext, id: string, step: DisclosureStep): Promise<{ request: LoadedRequest; to: DisclosureStatus }> {
  const request = await loadRequest(ctx, id, { lock: true })
  const to = stepTarget(request.status, step)
  if (!to) {
    const allowed = stepsFrom(request.status)
    throw conflict(
      { id: 'disclosure.step_refused', params: { status: request.status, step, allowed: allowed.length ? allowed : { text: 'disclosure.nothing' } } },
      { allowed },
    )
  }
  return { request, to }
}

/** Applies the step's changes, records it, publishes it; answers the request as it is now. */
async function finishStep(
  ctx: ServiceContext,
  request: LoadedRequest,
  step: { name: DisclosureStep; event: string; to: DisclosureStatus; onDate: string; reason: string | null; details?: Record<string, unknown> },
  changes: Updateable<DisclosureRequestsTable>,
): Promise<RequestRow> {
  const row = await updateRequest(ctx.db, request.id, { ...changes, status: step.to })
  await recordStep(ctx, {
    requestId: request.id,
    action: step.name,
    from: request.status,
    to: step.to,
    onDate: step.onDate,
    reason: step.reason,
    details: step.details,
  })
  ctx.publish(requestChange(step.event, row, { on: step.onDate, due_date: row.due_date, ...step.details }))
  ctx.audit.details = { step: step.name, from: request.status, to: step.to, on: step.onDate, ...step.details }
  return row
}

async function policyOf(ctx: ServiceContext, request: LoadedRequest): Promise<PolicyVersion<'disclosure'>> {
  const policy = await findPolicyVersion(ctx.db, request.disclosure_policy_id)
  if (policy?.type !== 'disclosure') throw new Error(`disclosure policy version ${request.disclosure_policy_id} is missing`)
  return policy as PolicyVersion<'disclosure'>
}

const facts = (request: LoadedRequest, changes: { extension_days?: number | null } = {}) => ({
  kind: request.kind,
  received_date: request.received_date,
  corrections: request.corrections,
  extension_days: changes.extension_days !== undefined ? changes.extension_days : request.extension_days,
})

// ---------------------------------------------------------------------------------------------
// 補正

/** The office asks the requester to correct the request: the clock stands still until the corrected request arrives. */
export async function requestCorrection(ctx: ServiceContext, id: string, input: RequestCorrection) {
  const { request, to } = await beginStep(ctx, id, 'request_correction')
  const lastAnswered = request.corrections.at(-1)?.corrected_on ?? null
  refuseIf(
    dateErrors(input.requested_on, 'body/requested_on', [
      [request.received_date, 'when.received'],
      [lastAnswered, 'when.last_correction'],
    ]),
  )
  const round = await openCorrection(ctx.db, { requestId: id, requestedOn: input.requested_on, reason: input.reason, requestedBy: ctx.caller.subject })
  await finishStep(
    ctx,
    request,
    { name: 'request_correction', event: 'correction_requested', to, onDate: input.requested_on, reason: input.reason, details: { round: round.round } },
    { due_date: null, warn_from: null },
  )
  return reloadRequest(ctx, id)
}

/** The corrected request arrived: its days from the day after the request up to this day do not count. */
export async function receiveCorrection(ctx: ServiceContext, id: string, input: ReceiveCorrection) {
  const { request, to } = await beginStep(ctx, id, 'receive_correction')
  const open = request.corrections.find((c) => c.corrected_on === null)
  if (!open) throw new Error(`request ${id} is correction_requested without an open round`)
  refuseIf(dateErrors(input.corrected_on, 'body/corrected_on', [[open.requested_on, 'when.correction_asked']]))
  await closeCorrection(ctx.db, id, input.corrected_on, ctx.caller.subject)
  const corrections = request.corrections.map((c) => (c.round === open.round ? { ...c, corrected_on: input.corrected_on } : c))
  const deadline = await computeDeadline(ctx.db, { ...facts(request), corrections }, await policyOf(ctx, request))
  const excluded = deadline.length.excluded_days
  await finishStep(
    ctx,
    request,
    {
      name: 'receive_correction',
      event: 'correction_received',
      to,
      onDate: input.corrected_on,
      reason: input.note ?? null,
      details: { round: open.round, excluded_days_total: excluded },
    },
    deadlineColumns(deadline),
  )
  return reloadRequest(ctx, id)
}

// ---------------------------------------------------------------------------------------------
// 延長

/**
 * Extends the period once (情報公開法第10条第2項, 個人情報保護法第83条第2項): at most the
 * policy's maximum, decided on or before the original deadline, with the reasons and the day the
 * requester was notified. A second extension, or one decided after the deadline, is 409.
 */
export async function extendDeadline(ctx: ServiceContext, id: string, input: Extend) {
  const { request, to } = await beginStep(ctx, id, 'extend')
  const policy = await policyOf(ctx, request)
  const rules = policy.body.kinds[request.kind]
  if (rules.max_extension_days === 0) throw conflict({ id: 'disclosure.no_extension', params: { version: policy.id, kind: request.kind } })
  const errors: FieldError[] = [
    ...dateErrors(input.decided_on, 'body/decided_on', [[request.received_date, 'when.received']]),
    ...dateErrors(input.notified_on, 'body/notified_on', [[input.decided_on, 'when.decided_on']]),
  ]
  if (input.days > rules.max_extension_days) {
    errors.push({ pointer: 'body/days', message: { id: 'disclosure.extension_too_long', params: { days: rules.max_extension_days, version: policy.id } } })
  }
  refuseIf(errors)
  const original = await computeDeadline(ctx.db, facts(request), policy)
  const originalDue = original.final!.due_date
  if (input.decided_on > originalDue) {
    throw conflict({ id: 'disclosure.extension_too_late', params: { date: originalDue } }, { due_date: originalDue })
  }
  const extended = await computeDeadline(ctx.db, facts(request, { extension_days: input.days }), policy)
  await finishStep(
    ctx,
    request,
    {
      name: 'extend',
      event: 'extended',
      to,
      onDate: input.decided_on,
      reason: input.reason,
      details: { days: input.days, previous_due_date: originalDue, notified_on: input.notified_on },
    },
    {
      extension_days: input.days,
      extension_reason: input.reason,
      extension_decided_on: input.decided_on,
      extension_notified_on: input.notified_on,
      ...deadlineColumns(extended),
    },
  )
  return reloadRequest(ctx, id)
}

// ---------------------------------------------------------------------------------------------
// 開示決定等

/** What a decision must say of the covered records (422 naming every failing item). */
async function decisionItems(ctx: ServiceContext, request: LoadedRequest, input: Decide): Promise<DecisionItem[]> {
  const covered = request.records.filter((e) => e.removed_at === null)
  const errors: FieldError[] = []
  if (input.decision === 'no_such_record' || input.decision === 'existence_neither_confirmed_nor_denied') {
    if (input.items.length > 0) {
      errors.push({ pointer: 'body/items', message: { id: 'disclosure.items_must_be_empty', params: { decision: input.decision } } })
    }
    refuseIf(errors)
    return []
  }
  const seen = new Set<string>()
  const items: DecisionItem[] = []
  for (const [i, item] of input.items.entries()) {
    const at = `body/items/${i}`
    const key = `${item.record_type}:${item.record_id}`
    if (!covered.some((e) => e.record_type === item.record_type && e.record_id === item.record_id)) {
      errors.push({ pointer: `${at}/record_id`, message: { id: 'disclosure.not_covered', params: { type: item.record_type } } })
    } else if (seen.has(key)) errors.push({ pointer: `${at}/record_id`, message: 'disclosure.named_twice' })
    seen.add(key)
    const grounds = item.grounds ?? []
    if (item.outcome !== 'disclosed' && grounds.length === 0) {
      errors.push({
        pointer: `${at}/grounds`,
        message: item.outcome === 'withheld' ? 'disclosure.grounds_withheld' : 'disclosure.grounds_partly_withheld',
      })
    }
    if (item.derivative_id !== undefined) {
      if (item.record_type !== 'recording' || item.outcome === 'withheld') {
        errors.push({ pointer: `${at}/derivative_id`, message: 'disclosure.derivative_for_disclosed' })
      } else {
        const derivative = await derivativeOfRecording(ctx, item.record_id, item.derivative_id)
        if (!derivative) errors.push({ pointer: `${at}/derivative_id`, message: 'disclosure.not_a_derivative' })
        else if (derivative.status !== 'active') errors.push({ pointer: `${at}/derivative_id`, message: 'disclosure.derivative_disposed' })
      }
    } else if (item.record_type === 'recording' && item.outcome === 'partially_disclosed') {
      errors.push({ pointer: `${at}/derivative_id`, message: 'disclosure.derivative_required' })
    }
    items.push({
      record_type: item.record_type,
      record_id: item.record_id,
      outcome: item.outcome,
      derivative_id: item.derivative_id ?? null,
      grounds,
      note: item.note ?? null,
    })
  }
  const missing = covered.filter((e) => !seen.has(`${e.record_type}:${e.record_id}`))
  if (missing.length > 0) {
    errors.push({
      pointer: 'body/items',
      message: { id: 'disclosure.items_missing', params: { missing: missing.map((e) => `${e.record_type} ${e.record_id}`) } },
    })
  }
  const outcomes = new Set(items.map((i) => i.outcome))
  if (input.decision === 'full_disclosure' && [...outcomes].some((o) => o !== 'disclosed')) {
    errors.push({ pointer: 'body/items', message: 'disclosure.full_discloses_all' })
  }
  if (input.decision === 'non_disclosure' && [...outcomes].some((o) => o !== 'withheld')) {
    errors.push({ pointer: 'body/items', message: 'disclosure.non_withholds_all' })
  }
  if (
    input.decision === 'partial_disclosure' &&
    (outcomes.size === 0 || [...outcomes].every((o) => o === 'disclosed') || [...outcomes].every((o) => o === 'withheld'))
  ) {
    errors.push({ pointer: 'body/items', message: 'disclosure.partial_mixed' })
  }
  refuseIf(errors)
  return items
}

/**
 * The decision (開示決定等). It names what was disclosed of each covered record (the original or
 * a redacted copy) and the grounds for what was withheld, and sets its date on every hold the
 * request placed: each then keeps its recording through one year from the day after (施行令第9条).
 */
export async function decide(ctx: ServiceContext, id: string, input: Decide) {
  const { request, to } = await beginStep(ctx, id, 'decide')
  refuseIf(dateErrors(input.decided_on, 'body/decided_on', [[request.received_date, 'when.received']]))
  const items = await decisionItems(ctx, request, input)
  const held = request.records.filter((e) => e.removed_at === null && e.hold_id !== null)
  const reach = held.length > 0 ? recordingReach(ctx) : null
  for (const entry of held) await recordHoldDecision(ctx, entry.record_id, entry.hold_id!, input.decided_on, { reach: reach! })
  const late = request.due_date !== null && input.decided_on > request.due_date
  await finishStep(
    ctx,
    request,
    {
      name: 'decide',
      event: 'decided',
      to,
      onDate: input.decided_on,
      reason: input.reason,
      details: { decision: input.decision, items: items.length, holds_dated: held.length, late },
    },
    { decision: input.decision, decided_on: input.decided_on, decision_reason: input.reason, decision_items: JSON.stringify(items) },
  )
  return reloadRequest(ctx, id)
}

// ---------------------------------------------------------------------------------------------
// 開示の実施

/**
 * Records a hand-over to the requester (a disclosure event): what the decision discloses (the
 * original, or the redacted copy it names), by a media grant issued now or on a medium, on a date.
 */
export async function handOver(ctx: ServiceContext, id: string, input: HandOver, grants: MediaGrantSettings, keys: SigningKeys) {
  const { request, to } = await beginStep(ctx, id, 'hand_over')
  if (request.decision !== 'full_disclosure' && request.decision !== 'partial_disclosure') {
    throw conflict({ id: 'disclosure.nothing_to_hand_over', params: { decision: String(request.decision) } })
  }
  const errors: FieldError[] = []
  const item = (request.decision_items ?? []).find((i) => i.record_type === input.record_type && i.record_id === input.record_id)
  if (!item || item.outcome === 'withheld') errors.push({ pointer: 'body/record_id', message: 'disclosure.no_such_disclosed_record' })
  else if ((input.derivative_id ?? null) !== item.derivative_id) {
    errors.push({
      pointer: 'body/derivative_id',
      message: item.derivative_id ? { id: 'disclosure.discloses_copy', params: { id: item.derivative_id } } : 'disclosure.discloses_original',
    })
  }
  const today = todayInTokyo()
  let handedOverOn = today
  if (input.method === 'media_grant') {
    if (input.record_type !== 'recording') errors.push({ pointer: 'body/method', message: 'disclosure.grant_for_recordings' })
    if (input.medium !== undefined) errors.push({ pointer: 'body/medium', message: 'disclosure.only_for_medium' })
    if (input.handed_over_on !== undefined && input.handed_over_on !== today) {
      errors.push({ pointer: 'body/handed_over_on', message: 'disclosure.grant_today' })
    }
  } else {
    if (input.medium === undefined) errors.push({ pointer: 'body/medium', message: 'disclosure.required_for_medium' })
    if (input.handed_over_on === undefined) errors.push({ pointer: 'body/handed_over_on', message: 'disclosure.required_for_medium' })
    else {
      errors.push(...dateErrors(input.handed_over_on, 'body/handed_over_on', [[request.decided_on, 'when.decision']]))
      handedOverOn = input.handed_over_on
    }
  }
  refuseIf(errors)
  let grant = null
  if (input.method === 'media_grant') {
    const reach = ctx.can('recordings:media_access')
    if (!reach) throw forbidden('disclosure.grant_needs_media_access')
    grant = await grantMediaAccess(ctx, input.record_id, grants, keys, 'disclosure_request', { derivativeId: input.derivative_id, reach })
  }
  const handover = await insertHandover(ctx.db, {
    id: newId(),
    request_id: id,
    record_type: input.record_type,
    record_id: input.record_id,
    derivative_id: input.derivative_id ?? null,
    method: input.method,
    medium: input.medium ?? null,
    grant_jti: grant?.jti ?? null,
    grant_expires_at: grant ? new Date(grant.expires_at) : null,
    handed_over_on: handedOverOn,
    recorded_by: ctx.caller.subject,
  })
  await finishStep(
    ctx,
    request,
    {
      name: 'hand_over',
      event: 'disclosed',
      to,
      onDate: handedOverOn,
      reason: null,
      details: {
        handover_id: handover.id,
        method: input.method,
        record_type: input.record_type,
        record_id: input.record_id,
        derivative_id: input.derivative_id ?? null,
        grant_jti: grant?.jti ?? null,
      },
    },
    { disclosed_on: request.disclosed_on ?? handedOverOn },
  )
  const now = await reloadRequest(ctx, id)
  const view = await presentRequest(ctx, now)
  return { handover: view.handovers.find((h) => h.id === handover.id)!, grant, request: view }
}

// ---------------------------------------------------------------------------------------------
// 取下げ

/** The requester withdrew the request: no decision follows, so the holds it placed are released with the reason. */
export async function withdraw(ctx: ServiceContext, id: string, input: Withdraw) {
  const { request, to } = await beginStep(ctx, id, 'withdraw')
  refuseIf(dateErrors(input.withdrawn_on, 'body/withdrawn_on', [[request.received_date, 'when.received']]))
  const held = request.records.filter((e) => e.removed_at === null && e.hold_id !== null)
  const reach = held.length > 0 ? recordingReach(ctx) : null
  for (const entry of held) {
    await releaseHold(ctx, entry.record_id, entry.hold_id!, `開示請求 ${id} の取下げ: ${input.reason}`.slice(0, 2000), { reach: reach! })
  }
  await finishStep(
    ctx,
    request,
    { name: 'withdraw', event: 'withdrawn', to, onDate: input.withdrawn_on, reason: input.reason, details: { holds_released: held.length } },
    { withdrawn_on: input.withdrawn_on, due_date: null, warn_from: null },
  )
  return reloadRequest(ctx, id)
}

// ---------------------------------------------------------------------------------------------
// 審査請求

/**
 * An appeal against the decision (審査請求): an `appeal` hold on every covered recording still
 * kept (施行令第9条第1項第3号), ended by the appeal's outcome date plus the same year.
 */
export async function appeal(ctx: ServiceContext, id: string, input: Appeal) {
  const { request, to } = await beginStep(ctx, id, 'appeal')
  refuseIf(dateErrors(input.filed_on, 'body/filed_on', [[request.decided_on, 'when.decision']]))
  const recordings = request.records.filter((e) => e.removed_at === null && e.record_type === 'recording')
  const reach = recordings.length > 0 ? recordingReach(ctx) : null
  const held: string[] = []
  const gone: string[] = []
  for (const entry of recordings) {
    const status = await recordingStatusInReach(ctx, entry.record_id, reach)
    if (status === null || isTerminal(status)) {
      gone.push(entry.record_id)
      continue
    }
    const hold = await placeHold(
      ctx,
      entry.record_id,
      { type: 'appeal', reference: `審査請求 (${holdReference(id)})`, note: 'Placed by the appeal against the disclosure decision' },
      { reach: reach! },
    )
    await setAppealHold(ctx.db, entry.id, hold.id)
    held.push(entry.record_id)
  }
  await finishStep(
    ctx,
    request,
    { name: 'appeal', event: 'appealed', to, onDate: input.filed_on, reason: input.reason, details: { held, gone } },
    { appeal_filed_on: input.filed_on },
  )
  return reloadRequest(ctx, id)
}

/** The appeal's outcome (裁決): its date ends the appeal holds a year after the day after it. */
export async function decideAppeal(ctx: ServiceContext, id: string, input: AppealOutcome) {
  const { request, to } = await beginStep(ctx, id, 'decide_appeal')
  refuseIf(dateErrors(input.decided_on, 'body/decided_on', [[request.appeal_filed_on, 'when.appeal_filed']]))
  const held = request.records.filter((e) => e.removed_at === null && e.appeal_hold_id !== null)
  const reach = held.length > 0 ? recordingReach(ctx) : null
  for (const entry of held) await recordHoldDecision(ctx, entry.record_id, entry.appeal_hold_id!, input.decided_on, { reach: reach! })
  await finishStep(
    ctx,
    request,
    {
      name: 'decide_appeal',
      event: 'appeal_decided',
      to,
      onDate: input.decided_on,
      reason: input.reason,
      details: { outcome: input.outcome, holds_dated: held.length },
    },
    { appeal_outcome: input.outcome, appeal_decided_on: input.decided_on },
  )
  return reloadRequest(ctx, id)
}
