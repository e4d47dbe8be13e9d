import type { ServiceContext } from '../kernel/context.ts'
import { conflict, conflictOnUnique, type FieldError, notFound, unprocessable } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { addYears, todayInTokyo } from '../kernel/time.ts'
import { staffRefs } from '../staff/staff.repository.ts'
import { type DerivativeRow, derivativesOf, findDerivative, insertDerivative, keepDerivativeUntil } from './derivatives.repository.ts'
import type { CreateDerivative, DerivativeView, KeepDerivative } from './derivatives.schemas.ts'
import type { LoadedRecording } from './recordings.repository.ts'
import { isTerminal, loadRecording, nameMode, recordingChange } from './recordings.service.ts'

/**
 * Redaction derivatives (部分開示): a redacted copy of a recording, produced by the municipality's
 * tools. This service records what was done to which time ranges, on which ground, by whom and
 * checked by whom; the original's row and hash never change. A derivative follows its original:
 * the original's holds keep it (it has no retention of its own), and it is disposed of with the
 * original unless a records manager decided to keep it past that (keepDerivative).
 */

/** Why the body does not describe a derivative of this recording (422), every field at once. */
function derivativeErrors(input: CreateDerivative, original: LoadedRecording): FieldError[] {
  const errors: FieldError[] = []
  const seconds = (original.ended_at.getTime() - original.started_at.getTime()) / 1000
  input.redactions.forEach((r, i) => {
    if (r.end_seconds <= r.start_seconds) errors.push({ pointer: `body/redactions/${i}/end_seconds`, message: 'derivatives.end_after_start' })
    else if (r.end_seconds > seconds) errors.push({ pointer: `body/redactions/${i}/end_seconds`, message: { id: 'derivatives.past_end', params: { seconds } } })
  })
  if (input.made_by === input.checked_by) errors.push({ pointer: 'body/checked_by', message: 'derivatives.checker_differs' })
  if (input.sha256.toLowerCase() === original.sha256) errors.push({ pointer: 'body/sha256', message: 'derivatives.same_as_original' })
  if (input.storage_uri === original.storage_uri) errors.push({ pointer: 'body/storage_uri', message: 'derivatives.same_as_original' })
  return errors
}

export async function registerDerivative(ctx: ServiceContext, recordingId: string, input: CreateDerivative): Promise<DerivativeView> {
  // The original is locked (not changed) so that its disposal and this registration do not cross.
  const original = await loadRecording(ctx, recordingId, { lock: true })
  if (isTerminal(original.status)) throw conflict({ id: 'derivatives.original_gone', params: { status: original.status } })
  if (input.original_sha256.toLowerCase() !== original.sha256) {
    throw conflict('derivatives.sha256_mismatch', { sha256: original.sha256 })
  }
  const errors = derivativeErrors(input, original)
  if (errors.length > 0) {
    throw unprocessable({ id: 'problem.inconsistent_values', params: { count: errors.length, fields: { fields: errors } } }, errors)
  }
  const row = await insertDerivative(ctx.db, {
    id: newId(),
    recording_id: recordingId,
    storage_uri: input.storage_uri,
    sha256: input.sha256.toLowerCase(),
    size_bytes: input.size_bytes,
    media_type: input.media_type,
    original_sha256: input.original_sha256.toLowerCase(),
    redactions: JSON.stringify(input.redactions),
    made_by: input.made_by,
    checked_by: input.checked_by,
    note: input.note ?? null,
    kept_until: null,
    keep_reason: null,
    keep_decided_by: null,
    keep_decided_at: null,
    disposed_at: null,
    disposition_id: null,
    registered_by: ctx.caller.subject,
  }).catch(conflictOnUnique('body/storage_uri', 'recordings.storage_uri_taken'))
  const grounds = [...new Set(input.redactions.map((r) => r.ground))]
  ctx.publish(recordingChange('recording.derivative_registered', original, { derivative_id: row.id, sha256: row.sha256, grounds }))
  ctx.audit.details = { derivative_id: row.id, redactions: input.redactions.length, grounds }
  return (await presentDerivatives(ctx, original, [row]))[0]!
}

export async function listDerivatives(ctx: ServiceContext, recordingId: string): Promise<DerivativeView[]> {
  const original = await loadRecording(ctx, recordingId)
  const rows = await derivativesOf(ctx.db, original.id)
  ctx.audit.details = { count: rows.length }
  return presentDerivatives(ctx, original, rows)
}

export async function getDerivative(ctx: ServiceContext, recordingId: string, derivativeId: string): Promise<DerivativeView> {
  const original = await loadRecording(ctx, recordingId)
  const row = await findDerivative(ctx.db, original.id, derivativeId)
  if (!row) throw notFound('not_found.derivative')
  ctx.audit.details = { derivative_id: row.id }
  return (await presentDerivatives(ctx, original, [row]))[0]!
}

/**
 * A records manager's decision that a derivative outlives its original's disposal, through
 * `until` (e.g. the copy disclosed is kept with the disclosure file). Once; the retention sweep
 * disposes of it after that day if the original is gone by then.
 */
export async function keepDerivative(ctx: ServiceContext, recordingId: string, derivativeId: string, input: KeepDerivative): Promise<DerivativeView> {
  const original = await loadRecording(ctx, recordingId, { lock: true })
  const row = await findDerivative(ctx.db, original.id, derivativeId)
  if (!row) throw notFound('not_found.derivative')
  if (row.status === 'disposed') throw conflict('derivatives.disposed_with_original')
  if (row.kept_until) throw conflict({ id: 'derivatives.already_kept', params: { until: row.kept_until } })
  const today = todayInTokyo()
  if (input.until < today) throw unprocessable('derivatives.until_past', [{ pointer: 'body/until', message: 'field.before_today' }])
  if (input.until > addYears(today, 30)) throw unprocessable('derivatives.until_too_far', [{ pointer: 'body/until', message: 'derivatives.at_most_30_years' }])
  const kept = await keepDerivativeUntil(ctx.db, row.id, { until: input.until, reason: input.reason, decidedBy: ctx.caller.subject })
  ctx.publish(recordingChange('recording.derivative_kept', original, { derivative_id: row.id, kept_until: input.until }))
  ctx.audit.details = { derivative_id: row.id, kept_until: input.until }
  return (await presentDerivatives(ctx, original, [kept]))[0]!
}

async function presentDerivatives(ctx: ServiceContext, original: LoadedRecording, rows: readonly DerivativeRow[]): Promise<DerivativeView[]> {
  const subjects = rows.flatMap((d) => [d.made_by, d.checked_by, d.registered_by, ...(d.keep_decided_by ? [d.keep_decided_by] : [])])
  const refs = await staffRefs(ctx.db, subjects, await nameMode(ctx))
  const ref = (s: string) => refs.get(s) ?? { id: s, display_name: s }
  // The media address is shown as the original's is: to callers with media access on it.
  const visible = original.media_visible
  return rows.map((d) => ({
    id: d.id,
    recording_id: d.recording_id,
    storage_uri: visible ? d.storage_uri : null,
    redacted: !visible,
    sha256: d.sha256,
    size_bytes: d.size_bytes,
    media_type: d.media_type,
    original_sha256: d.original_sha256,
    redactions: d.redactions,
    made_by: ref(d.made_by),
    checked_by: ref(d.checked_by),
    note: d.note,
    status: d.status,
    kept_beyond_original:
      d.kept_until && d.keep_reason && d.keep_decided_by && d.keep_decided_at
        ? { until: d.kept_until, reason: d.keep_reason, decided_by: ref(d.keep_decided_by), decided_at: d.keep_decided_at.toISOString() }
        : null,
    disposed_at: d.disposed_at?.toISOString() ?? null,
    disposition_id: d.disposition_id,
    registered_by: ref(d.registered_by),
    created_at: d.created_at.toISOString(),
  }))
}
