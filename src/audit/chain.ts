import crypto from 'node:crypto'
import { sql, type Selectable } from 'kysely'
import type { Db } from '../core/db.js'
import type { AuditEventsTable } from './audit.tables.js'

/**
 * The audit hash chain (tamper evidence).
 *
 * Recipe, for entry number `seq` (1, 2, 3, … without gaps):
 *   hash(seq) = hex(sha256(prev_hash + "\n" + canonical_json(content)))
 * where prev_hash is hash(seq - 1), or 64 zeros for seq 1, and content is the object built by
 * `chainContent` below. canonical_json is JSON with object keys sorted at every level and no
 * whitespace (JSON.stringify of the sorted object; Python: json.dumps(obj, sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False)).
 *
 * A changed entry no longer matches its hash; a removed one leaves a gap in seq and breaks the
 * next entry's prev_hash.
 */
export const GENESIS_HASH = '0'.repeat(64)

// Advisory lock key for the chainer: one linker at a time, whichever instance it runs on.
const CHAIN_LOCK_KEY = 0x6d61_6401

type AuditRow = Selectable<AuditEventsTable>

export function chainContent(row: AuditRow, seq: number): Record<string, unknown> {
  return {
    seq,
    id: row.id,
    occurred_at: row.occurred_at.toISOString(),
    subject: row.subject,
    roles: row.roles,
    org_unit: row.org_unit,
    action: row.action,
    route: row.route,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    outcome: row.outcome,
    status: row.status,
    request_id: row.request_id,
    client_address: row.client_address,
    details: row.details,
  }
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const object = value as Record<string, unknown>
    return Object.fromEntries(
      Object.keys(object)
        .sort()
        .map((k) => [k, sortKeys(object[k])]),
    )
  }
  return value
}

export function chainHash(prevHash: string, content: Record<string, unknown>): string {
  return crypto.createHash('sha256').update(`${prevHash}\n${canonicalJson(content)}`).digest('hex')
}

/**
 * Links entries whose transactions have ended into the chain, oldest transaction first.
 * Entries of transactions still running (txid at or above the snapshot's xmin) wait for the
 * next round, so the order never has to change once written. Returns how many were linked;
 * 0 also when another linker holds the lock.
 */
export async function linkPendingEntries(db: Db, batchSize = 5000): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const lock = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${CHAIN_LOCK_KEY}) as locked`.execute(trx)
    if (!lock.rows[0]?.locked) return 0

    const pending = await trx
      .selectFrom('audit_events')
      .selectAll()
      .where('chain_seq', 'is', null)
      .where(sql<boolean>`txid < pg_snapshot_xmin(pg_current_snapshot())`)
      .orderBy('txid')
      .orderBy('id')
      .limit(batchSize)
      .execute()
    if (pending.length === 0) return 0

    const head = await trx
      .selectFrom('audit_events')
      .select(['chain_seq', 'hash'])
      .where('chain_seq', 'is not', null)
      .orderBy('chain_seq', 'desc')
      .limit(1)
      .executeTakeFirst()
    let seq = head?.chain_seq ?? 0
    let prevHash = head?.hash ?? GENESIS_HASH

    const ids: number[] = []
    const seqs: number[] = []
    const prevs: string[] = []
    const hashes: string[] = []
    for (const row of pending) {
      seq += 1
      const hash = chainHash(prevHash, chainContent(row, seq))
      ids.push(row.id)
      seqs.push(seq)
      prevs.push(prevHash)
      hashes.push(hash)
      prevHash = hash
    }
    await sql`
      update audit_events as a
         set chain_seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
        from (select unnest(${ids}::bigint[]) as id, unnest(${seqs}::bigint[]) as seq,
                     unnest(${prevs}::text[]) as prev_hash, unnest(${hashes}::text[]) as hash) as v
       where a.id = v.id`.execute(trx)
    return pending.length
  })
}

/** Links everything linkable now (used before verification and by tests). */
export async function linkAllPendingEntries(db: Db): Promise<number> {
  let total = 0
  for (;;) {
    const linked = await linkPendingEntries(db)
    total += linked
    if (linked === 0) return total
  }
}

export interface ChainBreak {
  chain_seq: number
  id: number | null
  reason: 'hash-mismatch' | 'prev-hash-mismatch' | 'missing-entry'
}

export interface ChainVerification {
  checked: number
  first_seq: number | null
  last_seq: number | null
  /** The hash at last_seq, to compare with a later export or verification. */
  last_hash: string | null
  broken: ChainBreak | null
}

/**
 * Walks the chain between two positions (inclusive), in pages through the database, so memory
 * stays flat whatever the range. Stops at the first broken link.
 */
export async function verifyChain(db: Db, range: { fromSeq?: number; toSeq?: number } = {}, pageSize = 10000): Promise<ChainVerification> {
  const fromSeq = Math.max(1, range.fromSeq ?? 1)
  let expectedSeq = fromSeq
  let prevHash = GENESIS_HASH
  if (fromSeq > 1) {
    const before = await db.selectFrom('audit_events').select('hash').where('chain_seq', '=', fromSeq - 1).executeTakeFirst()
    if (!before?.hash) return { checked: 0, first_seq: null, last_seq: null, last_hash: null, broken: { chain_seq: fromSeq - 1, id: null, reason: 'missing-entry' } }
    prevHash = before.hash
  }
  let checked = 0
  let lastSeq: number | null = null
  for (;;) {
    let page = db.selectFrom('audit_events').selectAll().where('chain_seq', '>=', expectedSeq)
    if (range.toSeq !== undefined) page = page.where('chain_seq', '<=', range.toSeq)
    const rows = await page.orderBy('chain_seq').limit(pageSize).execute()
    for (const row of rows) {
      const seq = row.chain_seq!
      const result = { checked, first_seq: checked > 0 ? fromSeq : null, last_seq: lastSeq, last_hash: checked > 0 ? prevHash : null }
      if (seq !== expectedSeq) return { ...result, broken: { chain_seq: expectedSeq, id: null, reason: 'missing-entry' } }
      if (row.prev_hash !== prevHash) return { ...result, broken: { chain_seq: seq, id: row.id, reason: 'prev-hash-mismatch' } }
      if (chainHash(prevHash, chainContent(row, seq)) !== row.hash) return { ...result, broken: { chain_seq: seq, id: row.id, reason: 'hash-mismatch' } }
      prevHash = row.hash!
      expectedSeq = seq + 1
      lastSeq = seq
      checked += 1
    }
    if (rows.length < pageSize) break
  }
  // Entries missing at the end of an explicit range are gaps too.
  if (range.toSeq !== undefined && expectedSeq <= range.toSeq) {
    return { checked, first_seq: checked > 0 ? fromSeq : null, last_seq: lastSeq, last_hash: checked > 0 ? prevHash : null, broken: { chain_seq: expectedSeq, id: null, reason: 'missing-entry' } }
  }
  return { checked, first_seq: checked > 0 ? fromSeq : null, last_seq: lastSeq, last_hash: checked > 0 ? prevHash : null, broken: null }
}
