/**
 * Benchmark: one retention sweep over a large PostgreSQL database of recordings.
 *
 *   npm run bench:retention-sweep -- --recordings 1000000 [--purge 10 --due 5 --held 1 --purged 20]
 *                                    [--batch-size 10000] [--url postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 *
 * Creates a database of its own (madoguchi_bench_<pid>) on the server the URL names, applies
 * the migrations, seeds the recordings with set-based SQL (with their classification history,
 * holds and earlier purge records), then times one sweep (`sweepRetention`, as the background
 * job and `npm run retention:sweep` run it) and a second one that finds nothing left. The mix,
 * in percent of all recordings:
 *   --purge   non-document personal information past its 90 days: purged by the sweep
 *   --due     case recordings (documents) past their 5 years: marked due
 *   --held    past their period but kept by a litigation hold: untouched
 *   --purged  tombstones purged by earlier sweeps
 *   the rest  live recordings still within their period
 * Prints one JSON object. Drops the database at the end unless --keep (--seed-only: seed, keep,
 * and stop before sweeping, to profile the statements by hand).
 */
import { parseArgs } from 'node:util'
import pg from 'pg'
import { sql } from 'kysely'
import { connectPostgres } from '../src/kernel/db.ts'
import { migrateToLatest } from '../src/kernel/migrations.ts'
import { addDays, todayInTokyo } from '../src/kernel/time.ts'
import { sweepRetention } from '../src/recordings/retention-sweep.ts'

const { values } = parseArgs({
  options: {
    recordings: { type: 'string', default: '1000000' },
    purge: { type: 'string', default: '10' },
    due: { type: 'string', default: '5' },
    held: { type: 'string', default: '1' },
    purged: { type: 'string', default: '20' },
    'batch-size': { type: 'string', default: '10000' },
    url: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    keep: { type: 'boolean', default: false },
    'seed-only': { type: 'boolean', default: false },
  },
})

const n = Number(values.recordings)
const pct = { purge: Number(values.purge), due: Number(values.due), held: Number(values.held), purged: Number(values.purged) }
const batchSize = Number(values['batch-size'])
if (!Number.isInteger(n) || n < 1) throw new Error('--recordings must be a positive integer')
if (Object.values(pct).some((p) => !Number.isInteger(p) || p < 0) || pct.purge + pct.due + pct.held + pct.purged > 100) {
  throw new Error('--purge, --due, --held, --purged are whole percentages adding up to at most 100')
}

const PERSONAL_RULE = {
  record_category: '*',
  classification: 'personal_information',
  period: { unit: 'days', value: 90 },
  start: 'creation_date',
  action: 'dispose',
}
const CASE_RULE = {
  record_category: 'case_recording',
  classification: 'both',
  period: { unit: 'years', value: 5 },
  start: 'next_fiscal_year',
  action: 'dispose',
}
const RETENTION_POLICY = '00000000-0000-7000-8000-0000000000a4'
const RECORDING_POLICY = '00000000-0000-7000-8000-0000000000a1'
const ROOT_UNIT = '00000000-0000-7000-8000-000000000001'

async function admin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function main(): Promise<void> {
  const name = `madoguchi_bench_${process.pid}`
  await admin(values.url!, `create database "${name}"`)
  const handle = connectPostgres(withDatabase(values.url!, name), 4)
  const today = todayInTokyo()
  try {
    await migrateToLatest(handle)
    const db = handle.db
    const seedStarted = performance.now()
    const cut = { purge: pct.purge, due: pct.purge + pct.due, held: pct.purge + pct.due + pct.held, purged: pct.purge + pct.due + pct.held + pct.purged }

    await db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit = off`.execute(trx)
      // Every recording in one statement: its kind decides its dates, classification and state.
      await sql`
        insert into recordings (id, case_id, org_unit_id, media_kind, source, recorded_by, started_at, ended_at, document_date,
          storage_uri, sha256, size_bytes, media_type, title, description, participants, caller_number,
          notice_given, notice_method, notice_at, recording_policy_id, classification_id, record_category,
          administrative_document, personal_information, classification, retention_policy_id, retention_start, retention_end,
          retention_action, hold_open, status, due_since, disposition_id, registered_by)
        select madoguchi_uuidv7(), null, ${ROOT_UNIT}::uuid, 'audio', case when document then 'staff_device' else 'phone_system' end, 'organisation',
          started, started + interval '7 minutes', doc_date,
          case when kind = 'purged' then null else 's3://bench-media/' || i || '.m4a' end,
          encode(sha256(convert_to('media ' || i, 'UTF8')), 'hex'), 1000000 + i % 5000000, 'audio/mp4', '窓口対応',
          case when kind = 'purged' then null else '来庁者との通話 ' || i end,
          case when kind = 'purged' then null else array['来庁者 ' || i] end,
          case when kind = 'purged' then null else '03-0000-' || lpad((i % 10000)::text, 4, '0') end,
          true, 'automated_message', started, ${RECORDING_POLICY}::uuid, madoguchi_uuidv7(),
          case when document then 'case_recording' else 'interaction_recording' end,
          document, true, case when document then 'both' else 'personal_information' end, ${RETENTION_POLICY}::uuid,
          case when document then make_date(fy + 1, 4, 1) else doc_date end,
          case when document then make_date(fy + 6, 3, 31) else doc_date + 89 end,
          'dispose', kind = 'held', case when kind = 'purged' then 'purged' else 'active' end,
          case when kind = 'purged' then doc_date + 90 end,
          case when kind = 'purged' then madoguchi_uuidv7() end,
          'bench'
        from (
          select i, kind, document, started, (started at time zone 'Asia/Tokyo')::date as doc_date,
                 extract(year from (started at time zone 'Asia/Tokyo')::date - interval '3 months')::int as fy
          from (
            select i, kind, kind in ('due', 'live_document') as document,
              (case kind
                when 'purge' then ${today}::date - (91 + i % 600)
                when 'held' then ${today}::date - (91 + i % 600)
                when 'purged' then ${today}::date - (200 + i % 2000)
                when 'due' then date '2012-04-01' + i % 2500
                when 'live_document' then ${today}::date - i % 1400
                else ${today}::date - i % 90
              end + time '10:00' + make_interval(secs => i % 28800)) at time zone 'Asia/Tokyo' as started
            from (
              select i, case
                when i % 100 < ${cut.purge} then 'purge'
                when i % 100 < ${cut.due} then 'due'
                when i % 100 < ${cut.held} then 'held'
                when i % 100 < ${cut.purged} then 'purged'
                when i % 2 = 0 then 'live_document'
                else 'live_personal' end as kind
              from generate_series(1, ${n}::int) as i
            ) k
          ) s
        ) r
        -- In the order recordings arrive, the oldest first, as a real service's table and its
        -- UUIDv7 ids hold them (the ids are made after the sort).
        order by started`.execute(trx)
      // Their classification history (the presumption at registration).
      await sql`
        insert into recording_classifications (id, recording_id, administrative_document, personal_information, classification,
          record_category, reason, provisional, classified_by, retention_policy_id, retention_rule, rule_match, document_date,
          retention_start, retention_end, retention_action)
        select classification_id, id, administrative_document, personal_information, classification, record_category,
          'bench', true, 'system', retention_policy_id,
          case when administrative_document then ${JSON.stringify(CASE_RULE)}::jsonb else ${JSON.stringify(PERSONAL_RULE)}::jsonb end,
          case when administrative_document then 'exact' else 'wildcard' end, document_date, retention_start, retention_end, retention_action
        from recordings`.execute(trx)
      await sql`
        insert into recording_holds (id, recording_id, type, reference, placed_by)
        select madoguchi_uuidv7(), id, 'litigation', 'bench', 'bench' from recordings where hold_open`.execute(trx)
      // Earlier sweeps' purge records and change-feed rows for the tombstones.
      await sql`
        insert into dispositions (id, recording_id, action, status, reason, proposed_by, decided_by, decided_at, org_unit_id, case_id,
          media_kind, media_type, sha256, size_bytes, started_at, record_category, classification, retention_policy_id, retention_rule,
          retention_start, retention_end, effective_end)
        select r.disposition_id, r.id, 'purge', 'executed', 'bench', 'system', 'system', now(), r.org_unit_id, null, r.media_kind,
          r.media_type, r.sha256, r.size_bytes, r.started_at, r.record_category, r.classification, r.retention_policy_id,
          ${JSON.stringify(PERSONAL_RULE)}::jsonb, r.retention_start, r.retention_end, r.effective_end
        from recordings r where r.status = 'purged'`.execute(trx)
      await sql`
        insert into changes (kind, resource_type, resource_id, org_unit_id, data)
        select 'recording.purged', 'recording', id::text, org_unit_id, '{}'::jsonb from recordings where status = 'purged'`.execute(trx)
    })
    await sql`vacuum analyze`.execute(db)
    // Settle the bulk load's writes first, so the sweep is not timed against the seeding's checkpoint.
    await sql`checkpoint`.execute(db).catch(() => undefined)
    const seedMs = Math.round(performance.now() - seedStarted)

    const counts = await sql<{ status: string; n: number }>`select status, count(*)::int as n from recordings group by status order by status`.execute(db)
    const before = Object.fromEntries(counts.rows.map((r) => [r.status, r.n]))
    const expected = await sql<{ purge: number; due: number }>`
      select count(*) filter (where not administrative_document)::int as purge, count(*) filter (where administrative_document)::int as due
      from recordings where status = 'active' and not hold_open and effective_end < ${today}::date`.execute(db)

    if (values['seed-only']) {
      process.stdout.write(`${JSON.stringify({ database: name, recordings: n, before, expected: expected.rows[0], seed_ms: seedMs })}\n`)
      return
    }
    const sweep = await sweepRetention(db, { batchSize })
    const second = await sweepRetention(db, { batchSize })
    // The sweep as a later day's run sees it: what became due since yesterday, over the same million.
    const tomorrow = await sweepRetention(db, { batchSize, today: addDays(today, 1) })
    const version = await sql<{ v: string }>`select current_setting('server_version') as v`.execute(db)

    const ok = sweep.purged === expected.rows[0]!.purge && sweep.marked_due === expected.rows[0]!.due && second.purged + second.marked_due === 0
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'retention-sweep',
          postgres: version.rows[0]!.v,
          recordings: n,
          mix_percent: pct,
          before,
          expected: expected.rows[0],
          seed_ms: seedMs,
          batch_size: batchSize,
          sweep,
          second_sweep: second,
          next_day_sweep: tomorrow,
          correct: ok,
          target_ms: 10_000,
          within_target: sweep.elapsed_ms < 10_000,
        },
        null,
        2,
      )}\n`,
    )
    if (!ok) process.exitCode = 1
  } finally {
    await handle.close()
    if (!values.keep && !values['seed-only']) await admin(values.url!, `drop database if exists "${name}" with (force)`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
