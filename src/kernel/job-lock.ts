import { sql } from 'kysely'
import type { Queryable } from './db.ts'

/**
 * A background job's turn (the chain linker, the feed sequencer, webhook dispatch, the retention
 * sweep, deadline notices, audit checkpoints): a transaction-scoped advisory lock on the job's key,
 * so that one instance at a time does the job's work. `wait: false` gives up at once when another
 * instance holds it (it is doing the same work) and returns false.
 *
 * The same statement makes the rest of the transaction plan each statement for the tables as they
 * are now (plan_cache_mode = force_custom_plan). Statements sent often are prepared (db.ts,
 * StatementNames), and PostgreSQL then keeps a generic plan, made once, until the next ANALYZE:
 * one made while a table was nearly empty (a new database; the feed and the chain fill up from
 * nothing) scans the whole table when it has grown. The benchmark caught the sequencer's plan
 * taking 0.3–4 s per round that way, and the linker's head lookup up to 19 s. A job sends a few
 * statements per round, each over many rows, so planning them every time costs nothing that
 * matters; requests keep their cached plans.
 */
export async function takeJobLock(trx: Queryable, key: number, options: { wait: boolean }): Promise<boolean> {
  const customPlans = sql`set_config('plan_cache_mode', 'force_custom_plan', true)`
  if (options.wait) {
    await sql`select pg_advisory_xact_lock(${key}), ${customPlans}`.execute(trx)
    return true
  }
  const lock = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${key}) as locked, ${customPlans}`.execute(trx)
  return lock.rows[0]?.locked === true
}
