import crypto from 'node:crypto'
import { sql, type Selectable } from 'kysely'
import { canonicalJson } from './canonical-json.js'
import type { Db } from './db.js'
import type { AuditEventsTable } from './audit.tables.js'
import { TimeSlice } from './time-slice.js'

/**
 * The audit hash chain (tamper evidence): the recipe and the linker, which is the only writer of
 * chain_seq, prev_hash and hash. Verification (a reader) is in src/audit/chain-verification.ts.
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

/** The columns the hashed content is made of. */
export type ChainedColumns = Pick<
  AuditRow,
  | 'id'
  | 'occurred_at'
  | 'subject'
  | 'roles'
  | 'org_unit'
  | 'action'
  | 'route'
  | 'resource_type'
  | 'resource_id'
  | 'outcome'
  | 'status'
  | 'request_id'
  | 'client_address'
  | 'details'
>

// Kept apart from the API's view of an entry (toAuditEvent) on purpose: the hashed content must
// never change because a response did.
export function chainContent(row: ChainedColumns, seq: number): Record<string, unknown> {
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

export function chainHash(prevHash: string, content: Record<string, unknown>): string {
  return hashLink(prevHash, canonicalJson(content))
}

// crypto.hash (Node 20.12+) hashes in one call, without a Hash object per entry.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash
function hashLink(prevHash: string, canonical: string): string {
  const data = `${prevHash}\n${canonical}`
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex')
}

const J = JSON.stringify

/**
 * canonicalJson(chainContent(row, seq)), written out directly with the keys already in sorted
 * order: the linker and verification do this for every entry, and building then sorting an
 * object per entry is half of what verifying a million entries costs. The same recipe, not a
 * second one: a test (test/audit/chain-recipe.test.ts) holds the two equal.
 */
export function canonicalContent(row: ChainedColumns, seq: number): string {
  return (
    `{"action":${J(row.action)},"client_address":${J(row.client_address)},"details":${canonicalJson(row.details)},"id":${J(row.id)},` +
    `"occurred_at":${J(row.occurred_at.toISOString())},"org_unit":${J(row.org_unit)},"outcome":${J(row.outcome)},` +
    `"request_id":${J(row.request_id)},"resource_id":${J(row.resource_id)},"resource_type":${J(row.resource_type)},` +
    `"roles":${J(row.roles)},"route":${J(row.route)},"seq":${J(seq)},"status":${J(row.status)},"subject":${J(row.subject)}}`
  )
}

/** The hash of an entry at position `seq` after `prevHash` (same as chainHash over chainContent). */
export function entryHash(prevHash: string, row: ChainedColumns, seq: number): string {
  return hashLink(prevHash, canonicalContent(row, seq))
}

// The columns the linker reads: the hashed content, nothing else (txid and the link columns
// would only be decoded to be thrown away). The export lists the same, in this order.
export const CHAINED_COLUMNS = [
  'id',
  'occurred_at',
  'subject',
  'roles',
  'org_unit',
  'action',
  'route',
  'resource_type',
  'resource_id',
  'outcome',
  'status',
  'request_id',
  'client_address',
  'details',
] as const satisfies ReadonlyArray<keyof ChainedColumns>

/** Entries read and linked per transaction. */
const LINK_BATCH = 20_000
// Entries written back per UPDATE: the join's sort of a bigger set spills to disk at the default work_mem.
const WRITE_CHUNK = 4000

/**
 * Links entries whose transactions have ended into the chain, oldest transaction first.
 * Entries of transactions still running (txid at or above the snapshot's xmin) wait for the
 * next round, so the order never has to change once written. Returns how many were linked;
 * 0 also when another linker holds the lock.
 */
export async function linkPendingEntries(db: Db, batchSize = LINK_BATCH): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const lock = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${CHAIN_LOCK_KEY}) as locked`.execute(trx)
    if (!lock.rows[0]?.locked) return 0

    const pending = await trx
      .selectFrom('audit_events')
      .select(CHAINED_COLUMNS)
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

    // Hashing a batch is CPU work: in slices, so that requests are answered meanwhile.
    const slice = new TimeSlice()
    for (let start = 0; start < pending.length; start += WRITE_CHUNK) {
      const ids: number[] = []
      const seqs: number[] = []
      const prevs: string[] = []
      const hashes: string[] = []
      for (const row of pending.slice(start, start + WRITE_CHUNK)) {
        if (slice.due()) await slice.pause()
        seq += 1
        const hash = entryHash(prevHash, row, seq)
        ids.push(row.id)
        seqs.push(seq)
        prevs.push(prevHash)
        hashes.push(hash)
        prevHash = hash
      }
      // One statement per chunk, the values as arrays: not a statement per entry.
      await sql`
        update audit_events as a
           set chain_seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
          from unnest(${ids}::bigint[], ${seqs}::bigint[], ${prevs}::text[], ${hashes}::text[]) as v(id, seq, prev_hash, hash)
         where a.id = v.id`.execute(trx)
    }
    return pending.length
  })
}

/**
 * One round of the background linker: batch after batch while batches come back full (more
 * is waiting), so the chain keeps up with writes faster than one batch per interval. Stops at
 * shutdown between batches (each batch is its own transaction).
 */
export async function linkEntriesRound(db: Db, options: { signal?: AbortSignal; batchSize?: number } = {}): Promise<number> {
  const batchSize = options.batchSize ?? LINK_BATCH
  let total = 0
  for (;;) {
    const linked = await linkPendingEntries(db, batchSize)
    total += linked
    if (linked < batchSize || options.signal?.aborted) return total
  }
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
