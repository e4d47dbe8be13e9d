import type { Reach } from '../kernel/access.ts'
import type { ServiceContext } from '../kernel/context.ts'
import { conflict, notFound, unprocessable } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { todayInTokyo } from '../kernel/time.ts'
import { staffRefs } from '../staff/staff.repository.ts'
import { findHold, holdsOf, insertHold, openHoldsWithReference, refreshHoldSummary, updateHold, type HoldRow } from './recordings.repository.ts'
import type { HoldView, PlaceHold } from './recordings.schemas.ts'
import type { HoldType } from './recordings.tables.ts'
import { isTerminal, loadRecording, nameMode, recordingChange, settle } from './recordings.service.ts'
import { DECISION_HOLDS, holdEndAfterDecision, holdKeeps, type HoldState } from './retention.ts'

/**
 * Holds (施行令第9条第1項): a recording is kept past its period while an audit or inspection,
 * litigation, an appeal or a disclosure request needs it. Audit and litigation holds last
 * until released; appeal and disclosure-request holds until one year from the day after their
 * decision, once it is recorded; 'other' (第9条第2項) until released or its own date. Holds are
 * never deleted: a hold is released with a reason, and stays in the recording's history.
 */

export function holdState(h: Pick<HoldRow, 'type' | 'until' | 'released_at'>): HoldState {
  return { type: h.type, until: h.until, released: h.released_at !== null }
}

function holdStatus(h: HoldRow, today: string): HoldView['status'] {
  if (h.released_at) return 'released'
  return holdKeeps(holdState(h), today) ? 'active' : 'lapsed'
}

export async function presentHolds(ctx: ServiceContext, holds: readonly HoldRow[]): Promise<HoldView[]> {
  const subjects = holds.flatMap((h) => [h.placed_by, ...(h.decision_recorded_by ? [h.decision_recorded_by] : []), ...(h.released_by ? [h.released_by] : [])])
  const refs = await staffRefs(ctx.db, subjects, await nameMode(ctx))
  const ref = (s: string) => refs.get(s) ?? { id: s, display_name: s }
  const today = todayInTokyo()
  return holds.map((h) => ({
    id: h.id,
    recording_id: h.recording_id,
    type: h.type,
    reference: h.reference,
    note: h.note,
    status: holdStatus(h, today),
    until: h.until,
    decision_date: h.decision_date,
    decision_recorded_by: h.decision_recorded_by ? ref(h.decision_recorded_by) : null,
    decision_recorded_at: h.decision_recorded_at?.toISOString() ?? null,
    placed_by: ref(h.placed_by),
    placed_at: h.placed_at.toISOString(),
    released_at: h.released_at?.toISOString() ?? null,
    released_by: h.released_by ? ref(h.released_by) : null,
    release_reason: h.release_reason,
  }))
}

/** The holds that keep a recording today (for 409s that name them). */
export function keepingHolds(holds: readonly HoldRow[], today: string) {
  return holds.filter((h) => holdKeeps(holdState(h), today)).map((h) => ({ id: h.id, type: h.type, reference: h.reference, until: h.until }))
}

/**
 * Re-summarises the holds onto the recording, settles its status, publishes the change. The
 * request's audit entry names the hold; a request about another record (an incident) gets an
 * extra entry per recording instead.
 */
async function afterHoldChange(ctx: ServiceContext, recordingId: string, kind: string, hold: HoldRow, auditAs?: string): Promise<void> {
  const today = todayInTokyo()
  const summarised = await refreshHoldSummary(ctx.db, recordingId)
  const { row, changes } = await settle(ctx.db, summarised, today)
  ctx.publish(recordingChange(kind, row, { hold_id: hold.id, hold_type: hold.type, effective_end: row.hold_open ? null : row.effective_end }), ...changes)
  const details = { hold_id: hold.id, hold_type: hold.type, reference: hold.reference }
  if (auditAs) ctx.audit.also.push({ action: auditAs, resourceType: 'recording', resourceId: recordingId, details })
  else ctx.audit.details = { hold_id: hold.id, hold_type: hold.type }
}

/**
 * Places a hold. Another module holding recordings for a purpose of its own (a disclosure request,
 * an appeal) passes its caller's reach for recordings (`reach`) and keeps the hold's id.
 */
export async function placeHold(ctx: ServiceContext, recordingId: string, input: PlaceHold, options: { reach?: Reach } = {}): Promise<HoldView> {
  const row = await loadRecording(ctx, recordingId, { lock: true, reach: options.reach })
  if (isTerminal(row.status)) throw conflict({ id: 'holds.recording_gone', params: { status: row.status } })
  const today = todayInTokyo()
  if (input.until !== undefined) {
    if (input.type !== 'other') {
      throw unprocessable('holds.only_other_dated', [{ pointer: 'body/until', message: { id: 'holds.not_for_type', params: { type: input.type } } }])
    }
    if (input.until < today) throw unprocessable('holds.end_in_past', [{ pointer: 'body/until', message: 'field.before_today' }])
  }
  const hold = await insertHold(ctx.db, {
    id: newId(),
    recording_id: recordingId,
    type: input.type,
    reference: input.reference,
    note: input.note ?? null,
    placed_by: ctx.caller.subject,
    decision_date: null,
    decision_recorded_by: null,
    decision_recorded_at: null,
    until: input.until ?? null,
    released_at: null,
    released_by: null,
    release_reason: null,
  })
  await afterHoldChange(ctx, recordingId, 'recording.held', hold)
  return presentHold(ctx, hold)
}

async function presentHold(ctx: ServiceContext, hold: HoldRow): Promise<HoldView> {
  return (await presentHolds(ctx, [hold]))[0]!
}

async function loadHold(ctx: ServiceContext, recordingId: string, holdId: string, reach?: Reach): Promise<HoldRow> {
  // The recording is locked first: every change to its holds is serialised on it.
  await loadRecording(ctx, recordingId, { lock: true, reach })
  const hold = await findHold(ctx.db, recordingId, holdId)
  if (!hold) throw notFound('not_found.hold')
  return hold
}

/**
 * Records the decision on an appeal or disclosure request: the hold then keeps the recording
 * through one year from the day after the decision (「決定の日の翌日から起算して一年間」).
 */
export async function recordHoldDecision(
  ctx: ServiceContext,
  recordingId: string,
  holdId: string,
  decisionDate: string,
  options: { reach?: Reach } = {},
): Promise<HoldView> {
  const hold = await loadHold(ctx, recordingId, holdId, options.reach)
  if (!DECISION_HOLDS.includes(hold.type)) throw conflict({ id: 'holds.no_decision_date', params: { type: hold.type } })
  if (hold.released_at) throw conflict('holds.released')
  if (hold.decision_date) throw conflict({ id: 'holds.decision_recorded', params: { date: hold.decision_date } })
  if (decisionDate > todayInTokyo()) throw unprocessable('holds.decision_in_future', [{ pointer: 'body/decision_date', message: 'field.after_today_plain' }])
  const updated = await updateHold(ctx.db, holdId, {
    decision_date: decisionDate,
    decision_recorded_by: ctx.caller.subject,
    decision_recorded_at: new Date(),
    until: holdEndAfterDecision(decisionDate),
  })
  await afterHoldChange(ctx, recordingId, 'recording.hold_decided', updated)
  return presentHold(ctx, updated)
}

export async function releaseHold(
  ctx: ServiceContext,
  recordingId: string,
  holdId: string,
  reason: string,
  options: { reach?: Reach } = {},
): Promise<HoldView> {
  const hold = await loadHold(ctx, recordingId, holdId, options.reach)
  if (hold.released_at) throw conflict('holds.already_released')
  if (hold.type === 'incident') {
    throw conflict({ id: 'holds.incident_release', params: { path: `/v1/incidents/${hold.reference}/holds/release` } })
  }
  const updated = await updateHold(ctx.db, holdId, { released_at: new Date(), released_by: ctx.caller.subject, release_reason: reason })
  await afterHoldChange(ctx, recordingId, 'recording.hold_released', updated)
  return presentHold(ctx, updated)
}

export async function listHolds(ctx: ServiceContext, recordingId: string): Promise<HoldView[]> {
  const row = await loadRecording(ctx, recordingId)
  return presentHolds(ctx, await holdsOf(ctx.db, row.id))
}

// ---------------------------------------------------------------------------------------------
// Holds other modules place for their own records (incidents: 漏えい等)

/**
 * Places a hold of `type` naming `reference` on a live recording, for a module that keeps
 * recordings for reasons of its own (an incident keeps the evidence of a leak). The calling
 * module has checked the caller's reach to the recording; here it is locked and held whoever
 * asks. Null when the recording is a tombstone (nothing left to hold). Each hold is an extra
 * entry in the request's audit trail.
 */
export async function placeHoldFor(
  ctx: ServiceContext,
  recordingId: string,
  hold: { type: HoldType; reference: string; note: string },
): Promise<string | null> {
  const row = await loadRecording(ctx, recordingId, { lock: true, reach: 'all' })
  if (isTerminal(row.status)) return null
  const placed = await insertHold(ctx.db, {
    id: newId(),
    recording_id: recordingId,
    type: hold.type,
    reference: hold.reference,
    note: hold.note,
    placed_by: ctx.caller.subject,
    decision_date: null,
    decision_recorded_by: null,
    decision_recorded_at: null,
    until: null,
    released_at: null,
    released_by: null,
    release_reason: null,
  })
  await afterHoldChange(ctx, recordingId, 'recording.held', placed, 'placeRecordingHold')
  return placed.id
}

/** Releases every unreleased hold of `type` naming `reference` (an incident's holds); returns the hold ids released. */
export async function releaseHoldsFor(ctx: ServiceContext, hold: { type: HoldType; reference: string }, reason: string): Promise<string[]> {
  const released: string[] = []
  // In recording order, each recording locked before its hold changes (as every hold change does).
  for (const open of await openHoldsWithReference(ctx.db, hold.type, hold.reference)) {
    await loadRecording(ctx, open.recording_id, { lock: true, reach: 'all' })
    const updated = await updateHold(ctx.db, open.id, { released_at: new Date(), released_by: ctx.caller.subject, release_reason: reason })
    await afterHoldChange(ctx, open.recording_id, 'recording.hold_released', updated, 'releaseRecordingHold')
    released.push(updated.id)
  }
  return released
}
