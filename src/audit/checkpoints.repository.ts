import type { Selectable } from 'kysely'
import type { Queryable, Trx } from '../kernel/db.ts'
import type { AuditCheckpointsTable } from './checkpoints.tables.ts'
import { takeJobLock } from '../kernel/job-lock.ts'

export type CheckpointRow = Selectable<AuditCheckpointsTable>

// Advisory lock key for checkpoint signing: one signer at a time, whichever instance it runs on.
const CHECKPOINT_LOCK_KEY = 0x6d61_6404

/** Takes the signing lock for the transaction: waits for it, or gives up at once when `wait` is false. */
export async function takeCheckpointLock(trx: Trx, wait: boolean): Promise<boolean> {
  return takeJobLock(trx, CHECKPOINT_LOCK_KEY, { wait })
}

/** The last linked entry of the chain: its position and hash. */
export async function linkedHead(q: Queryable): Promise<{ chain_seq: number; hash: string } | undefined> {
  const row = await q.selectFrom('audit_chain').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return row ? { chain_seq: Number(row.seq), hash: row.hash } : undefined
}

/** The hash the chain holds at a position now; undefined when there is no entry there. */
export async function hashAt(q: Queryable, chainSeq: number): Promise<string | undefined> {
  const row = await q.selectFrom('audit_chain').select('hash').where('seq', '=', chainSeq).executeTakeFirst()
  return row?.hash
}

export async function lastCheckpoint(q: Queryable): Promise<CheckpointRow | undefined> {
  return q.selectFrom('audit_checkpoints').selectAll().orderBy('number', 'desc').limit(1).executeTakeFirst()
}

export async function insertCheckpoint(q: Queryable, row: CheckpointRow): Promise<void> {
  await q.insertInto('audit_checkpoints').values(row).execute()
}

/** A page of checkpoints by number, after the cursor's number. */
export async function listCheckpoints(q: Queryable, page: { order: 'oldest' | 'newest'; afterNumber: number | null; limit: number }): Promise<CheckpointRow[]> {
  const newest = page.order === 'newest'
  let query = q.selectFrom('audit_checkpoints').selectAll()
  if (page.afterNumber !== null) query = query.where('number', newest ? '<' : '>', page.afterNumber)
  return query
    .orderBy('number', newest ? 'desc' : 'asc')
    .limit(page.limit)
    .execute()
}
