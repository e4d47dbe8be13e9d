import { sql } from 'kysely'
import type { Db, Queryable } from './db.ts'
import { takeJobLock } from './job-lock.ts'

/**
 * The change feed's sequencer: gives committed changes their feed positions 1, 2, 3, …
 *
 * The problem. Changes are written by concurrent transactions. Their ids (an identity column)
 * and transaction ids are handed out when a transaction writes, not when it commits, so rows
 * become visible out of id order: a reader that remembered "everything up to id 120" would
 * silently skip id 118 committing a moment later. A composite position (txid, id) restricted to
 * finished transactions (txid below the snapshot's xmin) avoids the skip, but orders by when a
 * transaction *started writing*, which breaks a record's own history: if T2 wrote something
 * first (small txid), then waited for T1's lock on case X and wrote version 3 after T1's
 * version 2 committed, (txid, id) order puts version 3 before version 2. It also lets any long
 * transaction in the cluster hold the whole feed back.
 *
 * The design.
 * 1. Commit tickets. A deferred constraint trigger (migration 0005) draws one ticket per
 *    transaction from a sequence at COMMIT, after all of the transaction's writes. If T2 saw
 *    T1's effects in any way (waited for its row lock, read its committed row, bumped the
 *    version T1 wrote), T2 was still running after T1 committed, so T2's ticket is larger.
 * 2. Stored positions. The sequencer, one at a time across all instances (advisory lock),
 *    takes the committed changes that have no position yet, in (ticket, id) order, and numbers
 *    them from head + 1 in its own transaction. Only committed rows are ever numbered, numbers
 *    only grow, and each batch commits atomically, so the positions any reader can see are
 *    exactly 1..head: a change that commits late gets a later position, never one behind a
 *    reader. Nothing needs the "txid < xmin" test, which is what a composite position needs
 *    and what makes it wait on unrelated long transactions.
 * 3. A record's order. Two changes of one record made by different transactions are either
 *    made in sequence (the second transaction saw the first: larger ticket, and it cannot be
 *    visible before the first) or are concurrent (neither saw the other; any order is a valid
 *    history). Within one transaction, id order is the order in which its changes were
 *    published. So a consumer applying the feed in position order never sees version 3 before
 *    version 2.
 */

// Advisory lock key for the sequencer: one at a time, whichever instance it runs on.
const SEQUENCER_LOCK_KEY = 0x6d61_6402

/**
 * Numbers the committed changes that have no position yet, up to `batchSize`. Returns how many
 * were numbered; 0 also when another sequencer holds the lock (it is doing the same work).
 */
export async function sequencePendingChanges(db: Db, batchSize = 5000): Promise<number> {
  return db.transaction().execute(async (trx) => (await sequenceWithin(trx, { wait: false, batchSize })) ?? 0)
}

/**
 * Numbers everything committed so far inside the caller's transaction, waiting for a sequencer
 * at work elsewhere to finish first: afterwards the feed head covers every change committed
 * before the call (a new webhook starts from there). Holds the sequencer's lock until the
 * caller commits, so keep that transaction short. `trx` must be a transaction (a request's).
 */
export async function sequenceAllWithin(trx: Queryable): Promise<void> {
  while (((await sequenceWithin(trx, { wait: true, batchSize: 5000 })) ?? 0) > 0) {
    // a backlog larger than one batch
  }
}

async function sequenceWithin(trx: Queryable, options: { wait: boolean; batchSize: number }): Promise<number | null> {
  if (!(await takeJobLock(trx, SEQUENCER_LOCK_KEY, { wait: options.wait }))) return null
  // A statement after taking the lock: its snapshot sees the previous sequencer's commit.
  // Rows without a ticket can only come from writes made with triggers disabled; they go first
  // rather than never.
  const numbered = await sql<{ txid: string }>`
    with head as (select coalesce(max(position), 0) as p from changes),
    batch as (
      select c.id, k.ticket
        from changes c left join change_commits k on k.txid = c.txid
       where c.position is null
       order by k.ticket nulls first, c.id
       limit ${options.batchSize}
    ),
    numbered as (select id, row_number() over (order by ticket nulls first, id) as rn from batch)
    update changes c
       set position = head.p + numbered.rn
      from numbered, head
     where c.id = numbered.id
    returning c.txid`.execute(trx)
  if (numbered.rows.length === 0) return 0
  // Tickets of transactions whose changes all have positions are no longer needed.
  const txids = [...new Set(numbered.rows.map((r) => String(r.txid)))]
  await sql`
    delete from change_commits k
     where k.txid = any(${txids}::xid8[])
       and not exists (select 1 from changes c where c.txid = k.txid and c.position is null)`.execute(trx)
  return numbered.rows.length
}

/** Numbers everything committed now (tests, and readers catching up). */
export async function sequenceAllPendingChanges(db: Db): Promise<number> {
  let total = 0
  for (;;) {
    const numbered = await sequencePendingChanges(db)
    total += numbered
    if (numbered === 0) return total
  }
}
