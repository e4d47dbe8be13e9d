import type { ServiceContext } from '../kernel/context.ts'
import { conflict, forbidden, notFound } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import { addDays, todayInTokyo } from '../kernel/time.ts'
import type { RetentionRule } from '../policies/policies.schemas.ts'
import { staffRefs } from '../staff/staff.repository.ts'
import { disposeDerivativesWith } from './derivatives.repository.ts'
import { keepingHolds } from './holds.service.ts'
import {
  type DispositionFilters,
  type DispositionRow,
  type DueRow,
  decideDisposition,
  dueRecordings,
  findClassification,
  findDisposition,
  holdsOf,
  insertDisposition,
  type LoadedRecording,
  listDispositions,
  updateRecording,
} from './recordings.repository.ts'
import type { DispositionView, DueRecordingView } from './recordings.schemas.ts'
import { isTerminal, loadRecording, nameMode, recordingChange, settle } from './recordings.service.ts'
import type { Message } from '../kernel/messages/index.ts'

/**
 * Disposition (廃棄・移管) of recordings whose retention has ended: one records manager
 * proposes, a different one approves (二人の文書管理者). Approval removes the media address and
 * the personal fields; the disposition record stays for good, with the media's sha256 and the
 * rule that made the recording due. Nothing is proposed or approved before the effective end of
 * retention or while a hold keeps the recording.
 */

/** Refuses while the recording's retention runs or a hold keeps it (409, naming the holds). */
async function requireDisposable(ctx: ServiceContext, row: LoadedRecording, today: string): Promise<void> {
  const holds = keepingHolds(await holdsOf(ctx.db, row.id), today)
  if (holds.length > 0) {
    throw conflict(
      {
        id: 'dispositions.held',
        params: {
          holds: {
            texts: holds.map(
              (h): Message =>
                h.until
                  ? { id: 'holds.item_until', params: { type: h.type, reference: h.reference, until: h.until } }
                  : { id: 'holds.item', params: { type: h.type, reference: h.reference } },
            ),
          },
        },
      },
      {
        holds,
      },
    )
  }
  if (row.effective_end >= today) {
    throw conflict(
      { id: 'dispositions.retention_runs', params: { end: row.effective_end, from: addDays(row.effective_end, 1) } },
      {
        effective_end: row.effective_end,
      },
    )
  }
}

export async function proposeDisposition(
  ctx: ServiceContext,
  recordingId: string,
  input: { action: 'dispose' | 'transfer'; reason: string },
): Promise<DispositionView> {
  const row = await loadRecording(ctx, recordingId, { lock: true })
  if (isTerminal(row.status)) throw conflict({ id: 'recordings.already_terminal', params: { status: row.status } })
  if (row.pending_disposition_id) {
    throw conflict({ id: 'dispositions.already_proposed', params: { id: row.pending_disposition_id } }, { disposition_id: row.pending_disposition_id })
  }
  const today = todayInTokyo()
  await requireDisposable(ctx, row, today)
  // 廃棄 or 移管 is fixed in advance by the schedule (レコードスケジュール); 'review' leaves it to the proposer.
  if (row.retention_action !== 'review' && row.retention_action !== input.action) {
    throw conflict({ id: 'dispositions.schedule_says', params: { action: row.retention_action } }, { allowed: [row.retention_action] })
  }
  const classification = await findClassification(ctx.db, row.classification_id)
  const disposition = await insertDisposition(ctx.db, {
    id: newId(),
    recording_id: row.id,
    action: input.action,
    status: 'proposed',
    reason: input.reason,
    proposed_by: ctx.caller.subject,
    decided_by: null,
    decided_at: null,
    decision_reason: null,
    org_unit_id: row.org_unit_id,
    case_id: row.case_id,
    media_kind: row.media_kind,
    media_type: row.media_type,
    sha256: row.sha256,
    size_bytes: row.size_bytes,
    started_at: row.started_at,
    record_category: row.record_category,
    classification: row.classification,
    retention_policy_id: row.retention_policy_id,
    retention_rule: JSON.stringify(classification.retention_rule),
    retention_start: row.retention_start,
    retention_end: row.retention_end,
    effective_end: row.effective_end,
  })
  const updated = await updateRecording(ctx.db, row.id, { pending_disposition_id: disposition.id })
  ctx.publish(recordingChange('recording.disposition_proposed', updated, { disposition_id: disposition.id, action: input.action }))
  ctx.audit.details = { disposition_id: disposition.id, action: input.action }
  return presentDisposition(ctx, disposition)
}

/** The proposal and its recording, locked in that order (recording first, as every recording change does). */
async function loadProposal(ctx: ServiceContext, dispositionId: string): Promise<{ disposition: DispositionRow; recording: LoadedRecording }> {
  const found = await findDisposition(ctx.db, dispositionId)
  if (!found) throw notFound('not_found.disposition')
  const recording = await loadRecording(ctx, found.recording_id, { lock: true })
  const disposition = (await findDisposition(ctx.db, dispositionId, { lock: true }))!
  ctx.audit.details = { recording_id: recording.id, action: disposition.action }
  if (disposition.status !== 'proposed') throw conflict({ id: 'dispositions.already_decided', params: { status: disposition.status } })
  return { disposition, recording }
}

export async function approveDisposition(ctx: ServiceContext, dispositionId: string, reason: string | null): Promise<DispositionView> {
  const { caller } = ctx
  const { disposition, recording } = await loadProposal(ctx, dispositionId)
  if (disposition.proposed_by === caller.subject) {
    throw forbidden('dispositions.two_managers')
  }
  await requireDisposable(ctx, recording, todayInTokyo())
  const decided = await decideDisposition(ctx.db, dispositionId, { status: 'executed', decidedBy: caller.subject, reason })
  const updated = await updateRecording(ctx.db, recording.id, {
    status: disposition.action === 'transfer' ? 'transferred' : 'disposed',
    storage_uri: null,
    description: null,
    participants: null,
    caller_number: null,
    pending_disposition_id: null,
    disposition_id: dispositionId,
  })
  // Redacted copies go with their original, but for those a decision keeps longer.
  const derivatives = await disposeDerivativesWith(ctx.db, recording.id, dispositionId, todayInTokyo())
  ctx.publish(
    recordingChange(disposition.action === 'transfer' ? 'recording.transferred' : 'recording.disposed', updated, {
      disposition_id: dispositionId,
      action: disposition.action,
      sha256: disposition.sha256,
    }),
    ...derivatives.map((d) =>
      recordingChange('recording.derivative_disposed', updated, { derivative_id: d.id, disposition_id: dispositionId, sha256: d.sha256 }),
    ),
  )
  if (derivatives.length > 0) ctx.audit.details = { ...ctx.audit.details, derivatives_disposed: derivatives.map((d) => d.id) }
  return presentDisposition(ctx, decided)
}

export async function cancelDisposition(ctx: ServiceContext, dispositionId: string, reason: string): Promise<DispositionView> {
  const { disposition, recording } = await loadProposal(ctx, dispositionId)
  const decided = await decideDisposition(ctx.db, dispositionId, { status: 'cancelled', decidedBy: ctx.caller.subject, reason })
  const updated = await updateRecording(ctx.db, recording.id, { pending_disposition_id: null })
  const { row, changes } = await settle(ctx.db, updated, todayInTokyo())
  ctx.publish(recordingChange('recording.disposition_cancelled', row, { disposition_id: disposition.id }), ...changes)
  return presentDisposition(ctx, decided)
}

/** A page of disposition records, newest first. */
export async function dispositionRecords(ctx: ServiceContext, filters: DispositionFilters, limit: number, cursor: string | undefined) {
  const rows = await listDispositions(ctx.db, filters, limit + 1, cursor ? decodeCursor(cursor, 2) : null)
  const { page, nextCursor } = paginate(rows, limit, (d) => [d.proposed_at.toISOString(), d.id])
  ctx.audit.details = { count: page.length }
  return { items: await presentDispositions(ctx, page), next_cursor: nextCursor }
}

/** One disposition record, or 404. */
export async function dispositionRecord(ctx: ServiceContext, id: string): Promise<DispositionView> {
  const row = await findDisposition(ctx.db, id)
  if (!row) throw notFound('not_found.disposition')
  return presentDisposition(ctx, row)
}

/** Recordings whose retention has ended and that no hold keeps, longest overdue first. */
export async function dueForDisposition(
  ctx: ServiceContext,
  filters: { orgUnitId?: string; action?: DueRow['action_due'] },
  limit: number,
  cursor: string | undefined,
) {
  const rows = await dueRecordings(ctx.db, todayInTokyo(), filters, limit + 1, cursor ? decodeCursor(cursor, 2) : null)
  const { page, nextCursor } = paginate(rows, limit, (r) => [r.effective_end, r.id])
  ctx.audit.details = { count: page.length }
  return { items: page.map(dueView), next_cursor: nextCursor }
}

async function presentDisposition(ctx: ServiceContext, row: DispositionRow): Promise<DispositionView> {
  return (await presentDispositions(ctx, [row]))[0]!
}

async function presentDispositions(ctx: ServiceContext, rows: readonly DispositionRow[]): Promise<DispositionView[]> {
  const refs = await staffRefs(
    ctx.db,
    rows.flatMap((d) => [d.proposed_by, ...(d.decided_by ? [d.decided_by] : [])]),
    await nameMode(ctx),
  )
  const ref = (s: string) => refs.get(s) ?? { id: s, display_name: s }
  return rows.map((d) => ({
    id: d.id,
    recording_id: d.recording_id,
    action: d.action,
    status: d.status,
    reason: d.reason,
    proposed_by: ref(d.proposed_by),
    proposed_at: d.proposed_at.toISOString(),
    decided_by: d.decided_by ? ref(d.decided_by) : null,
    decided_at: d.decided_at?.toISOString() ?? null,
    decision_reason: d.decision_reason,
    recording: {
      org_unit_id: d.org_unit_id,
      case_id: d.case_id,
      media_kind: d.media_kind,
      media_type: d.media_type,
      sha256: d.sha256,
      size_bytes: d.size_bytes,
      started_at: d.started_at.toISOString(),
      record_category: d.record_category,
      classification: d.classification,
    },
    due_under: {
      policy_version_id: d.retention_policy_id,
      rule: d.retention_rule as RetentionRule,
      start: d.retention_start,
      schedule_end: d.retention_end,
      effective_end: d.effective_end,
    },
  }))
}

function dueView(row: DueRow): DueRecordingView {
  return {
    recording_id: row.id,
    case_id: row.case_id,
    org_unit_id: row.org_unit_id,
    media_kind: row.media_kind,
    record_category: row.record_category,
    classification: row.classification,
    sha256: row.sha256,
    started_at: row.started_at.toISOString(),
    status: row.status as 'active' | 'due',
    schedule_end: row.retention_end,
    review_until: row.review_until,
    effective_end: row.effective_end,
    due_since: addDays(row.effective_end, 1),
    action_due: row.action_due,
    retention_policy_version_id: row.retention_policy_id,
    pending_disposition_id: row.pending_disposition_id,
  }
}
