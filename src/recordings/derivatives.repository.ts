import { type Insertable, type Selectable, sql } from 'kysely'
import type { Queryable } from '../kernel/db.ts'
import type { RecordingDerivativesTable } from './recordings.tables.ts'

export type DerivativeRow = Selectable<RecordingDerivativesTable>

export async function insertDerivative(q: Queryable, row: Insertable<RecordingDerivativesTable>): Promise<DerivativeRow> {
  return q.insertInto('recording_derivatives').values(row).returningAll().executeTakeFirstOrThrow()
}

/** A derivative of the recording, or undefined (a derivative of another recording is not found). */
export async function findDerivative(q: Queryable, recordingId: string, derivativeId: string): Promise<DerivativeRow | undefined> {
  return q.selectFrom('recording_derivatives').selectAll().where('id', '=', derivativeId).where('recording_id', '=', recordingId).executeTakeFirst()
}

export async function derivativesOf(q: Queryable, recordingId: string): Promise<DerivativeRow[]> {
  return q.selectFrom('recording_derivatives').selectAll().where('recording_id', '=', recordingId).orderBy('created_at').orderBy('id').execute()
}

/** Records the decision that a derivative outlives its original, through `until` (once). */
export async function keepDerivativeUntil(q: Queryable, id: string, decision: { until: string; reason: string; decidedBy: string }): Promise<DerivativeRow> {
  return q
    .updateTable('recording_derivatives')
    .set({ kept_until: decision.until, keep_reason: decision.reason, keep_decided_by: decision.decidedBy, keep_decided_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

/**
 * Disposes of the derivatives that go with their original's disposition (in its transaction):
 * every live one not kept past `today` by a decision. Returns those disposed of.
 */
export async function disposeDerivativesWith(q: Queryable, recordingId: string, dispositionId: string, today: string): Promise<DerivativeRow[]> {
  return q
    .updateTable('recording_derivatives')
    .set({ status: 'disposed', storage_uri: null, disposed_at: sql`now()`, disposition_id: dispositionId })
    .where('recording_id', '=', recordingId)
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('kept_until', 'is', null), eb('kept_until', '<', today)]))
    .returningAll()
    .execute()
}
