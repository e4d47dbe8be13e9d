import { sql } from 'kysely'
import { appendAuditEntries } from '../kernel/audit.ts'
import type { Db, Trx } from '../kernel/db.ts'
import { newId } from '../kernel/ids.ts'
import { insertChangesFrom } from '../kernel/outbox.ts'
import { todayInTokyo } from '../kernel/time.ts'
import { SYSTEM_ACTOR } from '../staff/staff.repository.ts'
import { takeJobLock } from '../kernel/job-lock.ts'

/**
 * The retention sweep. Two set-based statements, each one SQL statement over every recording
 * it concerns (no loop over rows in JavaScript):
 *
 * 1. Purge (保有の制限): live recordings that are personal information but no administrative
 *    document, whose rule says dispose, whose effective end has passed, that no hold keeps and
 *    no proposal concerns, become tombstones: storage_uri and personal fields removed, status
 *    purged. Each gets a permanent disposition record (action purge, by the system) and a
 *    `recording.purged` change, in the same statement.
 * 2. Mark due: every other live recording whose effective end has passed and that no hold
 *    keeps becomes `due` (awaiting a two-person disposition), with a `recording.due` change.
 * 3. Redaction derivatives go with their original (in the purge statement, and on approval of a
 *    disposition); those a decision kept longer are disposed of once that day has passed.
 *
 * Safe on every instance at once: a batch runs only under a transaction-scoped advisory lock
 * (another sweeper finds it taken and stops: no double work), skips rows that requests hold
 * locked (FOR UPDATE SKIP LOCKED: a hold being placed wins, the next sweep looks again), and
 * the unique index on executed dispositions per recording makes a second purge impossible.
 * Idempotent: a purged or due recording no longer matches either statement.
 *
 * The change feed rows are written by the same statement, through the kernel's outbox insert
 * (insertChangesFrom: the changes are computed in SQL from the rows swept, not one by one in
 * JavaScript), so a tombstone and its change commit together.
 *
 * Work is done in batches of `batchSize` recordings per transaction, so locks are short and
 * a sweep over a large backlog does not hold one huge transaction.
 */
const SWEEP_LOCK_KEY = 0x6d61_6405

export interface SweepResult {
  today: string
  purged: number
  marked_due: number
  /** Derivatives kept past their original's disposal whose day has passed. */
  derivatives_disposed: number
  batches: number
  /** true when another instance was sweeping: this one did nothing. */
  skipped: boolean
  elapsed_ms: number
}

export interface SweepOptions {
  /** The day retention is judged on (tests and benchmarks); default today in Tokyo. */
  today?: string
  batchSize?: number
}

const PURGE_REASON = 'Retention of personal information that is no administrative document ended (保有の制限): purged automatically'

async function purgeBatch(trx: Trx, today: string, limit: number): Promise<number> {
  const result = await sql<{ n: number }>`
    with candidates as (
      select id from recordings
      where status = 'active' and not hold_open and effective_end < ${today}::date
        and not administrative_document and retention_action = 'dispose' and pending_disposition_id is null
      order by effective_end, id
      limit ${limit}
      for update skip locked
    ), purged as (
      update recordings r
      set status = 'purged', storage_uri = null, description = null, participants = null, caller_number = null,
          disposition_id = madoguchi_uuidv7(), due_since = r.effective_end + 1,
          version = r.version + 1, updated_at = now()
      from candidates c
      where r.id = c.id
      returning r.*
    ), records as (
      insert into dispositions (id, recording_id, action, status, reason, proposed_by, decided_by, decided_at,
        org_unit_id, case_id, media_kind, media_type, sha256, size_bytes, started_at, record_category, classification,
        retention_policy_id, retention_rule, retention_start, retention_end, effective_end)
      select p.disposition_id, p.id, 'purge', 'executed', ${PURGE_REASON}, 'system', 'system', now(),
        p.org_unit_id, p.case_id, p.media_kind, p.media_type, p.sha256, p.size_bytes, p.started_at, p.record_category, p.classification,
        p.retention_policy_id, k.retention_rule, p.retention_start, p.retention_end, p.effective_end
      from purged p join recording_classifications k on k.id = p.classification_id
    ), derivatives as (
      -- Redacted copies go with their original, but for those a decision keeps longer.
      update recording_derivatives d
      set status = 'disposed', storage_uri = null, disposed_at = now(), disposition_id = p.disposition_id
      from purged p
      where d.recording_id = p.id and d.status = 'active' and (d.kept_until is null or d.kept_until < ${today}::date)
      returning d.id, d.sha256, p.id as recording_id, p.org_unit_id, p.status, p.version, p.disposition_id
    ), feed as (
      ${insertChangesFrom(sql`
        select 'recording.purged', 'recording', p.id::text, p.org_unit_id,
          jsonb_build_object('status', p.status, 'version', p.version, 'disposition_id', p.disposition_id, 'sha256', p.sha256)
        from purged p
        union all
        select 'recording.derivative_disposed', 'recording', d.recording_id::text, d.org_unit_id,
          jsonb_build_object('status', d.status, 'version', d.version, 'derivative_id', d.id, 'disposition_id', d.disposition_id, 'sha256', d.sha256)
        from derivatives d`)}
    )
    select count(*)::int as n from purged`.execute(trx)
  return Number(result.rows[0]?.n ?? 0)
}

/**
 * Derivatives a decision kept past their original's disposal, once that day has passed: their
 * media address goes too. The original's disposition record stays the record of both.
 */
async function disposeKeptDerivatives(trx: Trx, today: string, limit: number): Promise<number> {
  const result = await sql<{ n: number }>`
    with candidates as (
      select d.id from recording_derivatives d join recordings r on r.id = d.recording_id
      where d.status = 'active' and d.kept_until < ${today}::date and r.status in ('disposed', 'transferred', 'purged')
      order by d.kept_until, d.id
      limit ${limit}
      for update of d skip locked
    ), disposed as (
      update recording_derivatives d
      set status = 'disposed', storage_uri = null, disposed_at = now(), disposition_id = r.disposition_id
      from candidates c, recordings r
      where d.id = c.id and r.id = d.recording_id
      returning d.id, d.sha256, d.disposition_id, r.id as recording_id, r.org_unit_id, r.status, r.version
    ), feed as (
      ${insertChangesFrom(sql`
        select 'recording.derivative_disposed', 'recording', d.recording_id::text, d.org_unit_id,
          jsonb_build_object('status', d.status, 'version', d.version, 'derivative_id', d.id, 'disposition_id', d.disposition_id, 'sha256', d.sha256)
        from disposed d`)}
    )
    select count(*)::int as n from disposed`.execute(trx)
  return Number(result.rows[0]?.n ?? 0)
}

async function markDueBatch(trx: Trx, today: string, limit: number): Promise<number> {
  const result = await sql<{ n: number }>`
    with candidates as (
      select id from recordings
      where status = 'active' and not hold_open and effective_end < ${today}::date
        and (administrative_document or retention_action <> 'dispose')
      order by effective_end, id
      limit ${limit}
      for update skip locked
    ), marked as (
      update recordings r
      set status = 'due', due_since = r.effective_end + 1, version = r.version + 1, updated_at = now()
      from candidates c
      where r.id = c.id
      returning r.id, r.org_unit_id, r.status, r.version, r.effective_end
    ), feed as (
      ${insertChangesFrom(sql`
        select 'recording.due', 'recording', m.id::text, m.org_unit_id,
          jsonb_build_object('status', m.status, 'version', m.version, 'effective_end', m.effective_end)
        from marked m`)}
    )
    select count(*)::int as n from marked`.execute(trx)
  return Number(result.rows[0]?.n ?? 0)
}

/** One batch under the sweep lock; null when another sweeper holds it. */
async function sweepBatch(
  db: Db,
  today: string,
  limit: number,
  runId: string,
): Promise<{ purged: number; markedDue: number; derivativesDisposed: number } | null> {
  return db.transaction().execute(async (trx) => {
    if (!(await takeJobLock(trx, SWEEP_LOCK_KEY, { wait: false }))) return null
    // Compiling these statements (JIT) costs more than running them on a batch.
    await sql`set local jit = off`.execute(trx)
    const purged = await purgeBatch(trx, today, limit)
    const markedDue = await markDueBatch(trx, today, limit)
    const derivativesDisposed = await disposeKeptDerivatives(trx, today, limit)
    if (purged + markedDue + derivativesDisposed > 0) {
      // One entry per batch in the audit trail; the disposition records name every recording.
      await appendAuditEntries(trx, [
        {
          subject: SYSTEM_ACTOR,
          roles: [],
          orgUnit: null,
          action: 'sweepRetention',
          route: 'JOB retention-sweep',
          resourceType: 'recording',
          resourceId: null,
          outcome: 'allowed',
          status: 200,
          requestId: runId,
          clientAddress: null,
          details: { today, purged, marked_due: markedDue, derivatives_disposed: derivativesDisposed },
        },
      ])
    }
    return { purged, markedDue, derivativesDisposed }
  })
}

export async function sweepRetention(db: Db, options: SweepOptions = {}): Promise<SweepResult> {
  const started = performance.now()
  const today = options.today ?? todayInTokyo()
  const batchSize = options.batchSize ?? 10_000
  const runId = newId()
  const result: SweepResult = { today, purged: 0, marked_due: 0, derivatives_disposed: 0, batches: 0, skipped: false, elapsed_ms: 0 }
  for (;;) {
    const batch = await sweepBatch(db, today, batchSize, runId)
    if (batch === null) {
      result.skipped = result.batches === 0
      break
    }
    result.batches += 1
    result.purged += batch.purged
    result.marked_due += batch.markedDue
    result.derivatives_disposed += batch.derivativesDisposed
    if (batch.purged < batchSize && batch.markedDue < batchSize && batch.derivativesDisposed < batchSize) break
  }
  result.elapsed_ms = Math.round(performance.now() - started)
  return result
}
