import crypto from 'node:crypto'
import { type RawBuilder, sql, type Selectable } from 'kysely'
import { canonicalJson } from './canonical-json.ts'
import type { Db, Queryable, Trx } from './db.ts'
import type { AuditEventsTable } from './audit.tables.ts'
import { TimeSlice } from './time-slice.ts'
import { takeJobLock } from './job-lock.ts'

/**
 * The audit hash chain (tamper evidence): the recipe and the linker, which is the only writer of
 * audit_chain (seq, entry_id, prev_hash, hash: one row per linked entry). Verification (a reader) is in src/audit/chain-verification.ts.
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

// The columns of the hashed content, in the order the export lists them (and the linker reads
// them: pendingAsText below).
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

/** Entries linked per transaction at most. */
const LINK_BATCH = 100_000
// Entries read per statement, and links inserted per statement (the values travel as arrays): the
// database reads the next chunk and inserts the last one's links while this process hashes.
const CHUNK = 5000

/**
 * Which entries are not linked yet, as a condition on audit_events. Entries are linked in (txid, id)
 * order, and only once their transaction has ended (txid below the snapshot's xmin): after a round
 * has linked everything up to the head's entry (txid h, id i) under a snapshot with xmin X, an
 * entry not linked then either was committed and visible (txid < X) and sorts after (h, i), since
 * the round took them in order, or has txid >= X > h. So every entry not linked sorts after the
 * head's entry, and every one after it is not linked: a range of the (txid, id) index, where an
 * anti-join with the chain would read every entry ever written.
 *
 * The head's entry can only be missing when someone deleted it with the guard switched off
 * (verification reports that); linking then goes on with the anti-join, slowly but in order.
 */
export async function unlinkedEntries(q: Queryable): Promise<RawBuilder<boolean>> {
  return notLinkedAfter(await headLink(q))
}

function notLinkedAfter(head: Awaited<ReturnType<typeof headLink>>): RawBuilder<boolean> {
  if (!head) return sql<boolean>`true`
  if (head.txid === null) return sql<boolean>`not exists (select 1 from audit_chain as c where c.entry_id = audit_events.id)`
  return sql<boolean>`(audit_events.txid, audit_events.id) > (${head.txid}::xid8, ${head.entry_id}::bigint)`
}

// The last link of the chain, with its entry's transaction (null when the entry is gone).
async function headLink(q: Queryable) {
  return q
    .selectFrom('audit_chain as c')
    .leftJoin('audit_events as e', 'e.id', 'c.entry_id')
    .select(['c.seq', 'c.hash', 'c.entry_id', 'e.txid'])
    .orderBy('c.seq', 'desc')
    .limit(1)
    .executeTakeFirst()
}

// Entries fetched as one JSON array each (chainedColumnsArray), with their transaction last: the
// next chunk is read after it without waiting for the links to be written.
async function pendingChunk(trx: Trx, unlinked: RawBuilder<boolean>, limit: number): Promise<PendingEntry[]> {
  const result = await sql<{ e: string }>`
    select json_build_array(${chainedColumnsArray('audit_events')}, audit_events.txid::text)::text as e
      from audit_events
     where ${unlinked} and txid < pg_snapshot_xmin(pg_current_snapshot())
     order by txid, id
     limit ${limit}`.execute(trx)
  return result.rows.map(({ e }) => {
    const v = JSON.parse(e) as unknown[]
    return { ...chainedColumnsFrom(v), txid: v[14] as string }
  })
}

type PendingEntry = ChainedColumns & { txid: string }

// The entries after one already taken (see notLinkedAfter): each read has a snapshot of its own,
// whose xmin is never below the previous one's.
const takenAfter = (entry: PendingEntry) => sql<boolean>`(audit_events.txid, audit_events.id) > (${entry.txid}::xid8, ${entry.id}::bigint)`

/**
 * An entry's hashed columns as the elements of a JSON array (`json_build_array(...)`), for readers
 * that fetch entries as one JSON text each (the linker, verification, the export): one JSON.parse per
 * entry costs a third of the CPU of fourteen columns through the driver's per-column parsers.
 * occurred_at goes as epoch milliseconds, which a timestamptz(3) holds exactly.
 */
export function chainedColumnsArray(table: string) {
  const column = (name: string) => sql.ref(`${table}.${name}`)
  return sql.join([column('id'), sql`(extract(epoch from ${column('occurred_at')}) * 1000)::int8`, ...CHAINED_COLUMNS.slice(2).map(column)])
}

/** The hashed columns from the parsed array `chainedColumnsArray` built (at index `at` onwards). */
export function chainedColumnsFrom(v: unknown[], at = 0): ChainedColumns {
  return {
    id: v[at] as number,
    occurred_at: new Date(v[at + 1] as number),
    subject: v[at + 2] as string | null,
    roles: v[at + 3] as string[],
    org_unit: v[at + 4] as string | null,
    action: v[at + 5] as string,
    route: v[at + 6] as string,
    resource_type: v[at + 7] as string | null,
    resource_id: v[at + 8] as string | null,
    outcome: v[at + 9] as ChainedColumns['outcome'],
    status: v[at + 10] as number,
    request_id: v[at + 11] as string,
    client_address: v[at + 12] as string | null,
    details: v[at + 13] as Record<string, unknown>,
  }
}

/**
 * Links entries whose transactions have ended into the chain, oldest transaction first.
 * Entries of transactions still running (txid at or above the snapshot's xmin) wait for the
 * next round, so the order never has to change once written. Returns how many were linked;
 * 0 also when another linker holds the lock. The links are inserted into audit_chain; entries
 * are never updated.
 */
export async function linkPendingEntries(db: Db, batchSize = LINK_BATCH, chunkSize = CHUNK): Promise<number> {
  return db.transaction().execute(async (trx) => {
    if (!(await takeJobLock(trx, CHAIN_LOCK_KEY, { wait: false }))) return 0

    // Read after taking the lock: the previous linker's links are committed and visible.
    const head = await headLink(trx)
    let seq = head ? Number(head.seq) : 0
    let prevHash = head?.hash ?? GENESIS_HASH

    // The connection runs its statements in order while this process hashes: the next chunk's
    // read and this chunk's insert are sent without waiting, so the database reads and writes
    // while the entries are hashed. Hashing is CPU work: in slices, so that requests are answered
    // meanwhile. A failed statement rolls the whole transaction back.
    const slice = new TimeSlice()
    const pending: Array<Promise<unknown>> = []
    const sent = <T>(statement: Promise<T>) => {
      statement.catch(() => {}) // settled below
      pending.push(statement)
      return statement
    }
    const perRead = Math.min(chunkSize, batchSize)
    let reading = sent(pendingChunk(trx, notLinkedAfter(head), perRead))
    let linked = 0
    try {
      for (;;) {
        const chunk = await reading
        if (chunk.length === 0) break
        linked += chunk.length
        const more = chunk.length === perRead && linked < batchSize
        if (more) reading = sent(pendingChunk(trx, takenAfter(chunk[chunk.length - 1]!), Math.min(perRead, batchSize - linked)))
        const ids: number[] = []
        const hashes: string[] = []
        const first = seq + 1
        const before = prevHash
        for (const row of chunk) {
          if (slice.due()) await slice.pause()
          seq += 1
          const hash = entryHash(prevHash, row, seq)
          ids.push(row.id)
          hashes.push(hash)
          prevHash = hash
        }
        // Each link's previous hash is the hash of the link before it (the chunk's first, the hash
        // before the chunk): filled in by the database rather than sent a second time.
        sent(
          sql`
            insert into audit_chain (seq, entry_id, prev_hash, hash)
            select ${first}::bigint + v.n - 1, v.entry_id, coalesce(lag(v.hash) over (order by v.n), ${before}::text), v.hash
              from unnest(${ids}::bigint[], ${hashes}::text[]) with ordinality as v(entry_id, hash, n)`.execute(trx),
        )
        if (!more) break
      }
    } finally {
      await Promise.allSettled(pending)
    }
    await Promise.all(pending)
    return linked
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
