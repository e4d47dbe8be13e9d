import { sql } from 'kysely'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config.ts'
import type { Db } from '../kernel/db.ts'
import { dataFolderProblem } from '../kernel/data-folder.ts'
import { openDatabase } from '../kernel/db.ts'
import { migrateToLatest } from '../kernel/migrations.ts'
import { fiscalYear, todayInTokyo } from '../kernel/time.ts'

export interface SeedOptions {
  cases: number
  eventsPerCase: number
  units: number
  staff: number
}

export interface SeedResult {
  units: string[]
  cases: number
  events: number
  seconds: number
}

/**
 * Fills a database with realistic-looking cases for measurement: `units` org units under the
 * root, cases spread over two years across them, 1–3 responders each out of `staff` people,
 * customers, external refs for a third, and `eventsPerCase` events per case. Set-based SQL,
 * so 10,000 cases and 100,000 events take seconds. Case numbers continue from the counters.
 */
export async function seedCases(db: Db, options: SeedOptions): Promise<SeedResult> {
  const started = Date.now()
  const runId = Math.random().toString(36).slice(2, 8)
  const fy = fiscalYear(todayInTokyo())

  const units = await sql<{ id: string }>`
    insert into org_units (id, parent_id, code, name, path, created_by)
    select u.id, '00000000-0000-7000-8000-000000000001', 'seed-' || ${runId} || '-' || u.g, '課 ' || u.g,
           '00000000-0000-7000-8000-000000000001/' || u.id || '/', 'seed'
      from (select gen_random_uuid() as id, g from generate_series(1, ${options.units}) g) u
    returning id`.execute(db)
  const unitIds = units.rows.map((r) => r.id)

  const start = await db
    .insertInto('case_number_counters')
    .values({ fiscal_year: fy, last_number: options.cases })
    .onConflict((oc) => oc.column('fiscal_year').doUpdateSet({ last_number: sql`case_number_counters.last_number + ${options.cases}` }))
    .returning('last_number')
    .executeTakeFirstOrThrow()
  const firstNumber = start.last_number - options.cases + 1

  await sql`
    insert into cases (id, number, org_unit_id, channel, occurred_at, location, categories, severity, status,
                       summary, external_system, external_ref, handled_alone_forbidden, escalation_policy_id, created_by)
    select gen_random_uuid(),
           ${fy}::text || '-' || lpad((${firstNumber}::int + g - 1)::text, 6, '0'),
           (${unitIds}::uuid[])[1 + (g % ${unitIds.length})],
           (array['counter','phone','email','letter','visit','online'])[1 + (g % 6)],
           now() - make_interval(mins => (g * 97) % (2 * 365 * 24 * 60)),
           case when g % 3 = 0 then '本庁舎1階 窓口' end,
           case when g % 50 = 0 then array['violence','verbal_abuse']
                when g % 7 = 0 then array['prolonged_detention','excessive_demand']
                else array[(array['verbal_abuse','intimidation','excessive_demand','online_exposure','other'])[1 + (g % 5)]] end,
           (array['low','medium','high','critical'])[1 + (g % 4)],
           (array['open','escalated','in_review','resolved','closed'])[1 + ((g / 3) % 5)],
           (array['窓口で大声を出し職員を威圧','電話で長時間にわたり同じ要求を繰り返した','SNSに職員の氏名と写真を投稿すると発言',
                  '土下座を要求','担当者の交代を執拗に要求'])[1 + (g % 5)] || ' (事案 ' || g || ')',
           case when g % 3 = 0 then 'kikan' end,
           case when g % 3 = 0 then 'SEED-' || ${runId} || '-' || g end,
           g % 50 = 0,
           null,
           'staff-' || (g % ${options.staff})
      from generate_series(1, ${options.cases}) g`.execute(db)

  // The cases just written are those with the new numbers.
  const seeded = sql`select id, number, created_by, occurred_at, (split_part(number, '-', 2))::int as n from cases
                      where number between ${`${fy}-${String(firstNumber).padStart(6, '0')}`} and ${`${fy}-${String(start.last_number).padStart(6, '0')}`}`

  await sql`
    insert into case_responders (case_id, subject, added_by)
    select s.id, 'staff-' || ((s.n + k * 37) % ${options.staff}), s.created_by
      from (${seeded}) s cross join generate_series(0, 2) k
     where k <= s.n % 3
    on conflict do nothing`.execute(db)
  await sql`
    insert into case_responders (case_id, subject, added_by)
    select s.id, s.created_by, s.created_by from (${seeded}) s
    on conflict do nothing`.execute(db)

  await sql`
    insert into case_customers (case_id, name, phone, email)
    select s.id, '顧客 ' || s.n, '03-0000-' || lpad((s.n % 10000)::text, 4, '0'), 'customer' || s.n || '@example.jp'
      from (${seeded}) s`.execute(db)

  await sql`
    insert into case_events (id, case_id, seq, type, occurred_at, actor, description, quote)
    select gen_random_uuid(), s.id, e,
           (array['intake','contact','customer_statement','limited_apology','stop_request',
                  'report_to_supervisor','fact_check','note','exit_order','contact'])[1 + ((e - 1) % 10)],
           s.occurred_at + make_interval(mins => e * 3),
           s.created_by,
           '記録 ' || e,
           case when e % 3 = 0 then '責任者を出せ' end
      from (${seeded}) s cross join generate_series(1, ${options.eventsPerCase}) e`.execute(db)

  await sql`analyze`.execute(db)
  return { units: unitIds, cases: options.cases, events: options.cases * options.eventsPerCase, seconds: (Date.now() - started) / 1000 }
}

/**
 * Recordings of the seeded cases' calls (録音): `count` live recordings attached to cases, each
 * classified as the default schedule presumes (case_recording: administrative document and
 * personal information, 5 years from the next fiscal year), with their classification history.
 */
export async function seedRecordings(db: Db, count: number): Promise<{ recordings: number; seconds: number }> {
  const started = Date.now()
  const rule = { record_category: 'case_recording', classification: 'both', period: { unit: 'years', value: 5 }, start: 'next_fiscal_year', action: 'dispose' }
  await db.transaction().execute(async (trx) => {
    await sql`
      insert into recordings (id, case_id, org_unit_id, media_kind, source, recorded_by, started_at, ended_at, document_date,
        storage_uri, sha256, size_bytes, media_type, title, description, participants, caller_number, notice_given, notice_method,
        notice_at, recording_policy_id, classification_id, record_category, administrative_document, personal_information,
        classification, retention_policy_id, retention_start, retention_end, retention_action, registered_by)
      select madoguchi_uuidv7(), c.id, c.org_unit_id, 'audio', 'phone_system', 'organisation', c.occurred_at, c.occurred_at + interval '10 minutes', d.doc,
             's3://seed-media/' || g || '.m4a', encode(sha256(convert_to('seed media ' || g || ' ' || c.id, 'UTF8')), 'hex'), 1000000 + g, 'audio/mp4',
             '電話応対 録音', '通話記録 ' || g, array['来庁者 ' || g], '03-0000-' || lpad((g % 10000)::text, 4, '0'), true, 'automated_message',
             c.occurred_at, '00000000-0000-7000-8000-0000000000a1', madoguchi_uuidv7(), 'case_recording', true, true, 'both',
             '00000000-0000-7000-8000-0000000000a4', make_date(d.fy + 1, 4, 1), make_date(d.fy + 6, 3, 31), 'dispose', 'seed'
        from generate_series(1, ${count}) g
        join (select id, org_unit_id, occurred_at, row_number() over (order by id) - 1 as k from cases) c
          on c.k = g % (select greatest(count(*), 1) from cases)
        cross join lateral (select (c.occurred_at at time zone 'Asia/Tokyo')::date as doc,
                                   extract(year from (c.occurred_at at time zone 'Asia/Tokyo')::date - interval '3 months')::int as fy) d`.execute(trx)
    await sql`
      insert into recording_classifications (id, recording_id, administrative_document, personal_information, classification,
        record_category, reason, provisional, classified_by, retention_policy_id, retention_rule, rule_match, document_date,
        retention_start, retention_end, retention_action)
      select r.classification_id, r.id, r.administrative_document, r.personal_information, r.classification, r.record_category,
             'seed', true, 'system', r.retention_policy_id, ${JSON.stringify(rule)}::jsonb, 'exact', r.document_date,
             r.retention_start, r.retention_end, r.retention_action
        from recordings r where r.registered_by = 'seed'
      -- Not an anti-join: planned on the statistics of an empty table it scanned the rows this
      -- very statement inserts for every recording (minutes for 100,000).
      on conflict (id) do nothing`.execute(trx)
  })
  await sql`analyze`.execute(db)
  return { recordings: count, seconds: (Date.now() - started) / 1000 }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '10000' },
      'events-per-case': { type: 'string', default: '10' },
      units: { type: 'string', default: '20' },
      recordings: { type: 'string', default: '0' },
    },
  })
  const options = { cases: Number(values.cases), eventsPerCase: Number(values['events-per-case']), units: Number(values.units), staff: 200 }
  const recordings = Number(values.recordings)
  if (![options.cases, options.eventsPerCase, options.units].every((n) => Number.isInteger(n) && n > 0))
    throw new ConfigError('--cases, --events-per-case and --units take positive whole numbers')
  const database = await openDatabase(loadConfig(), 'npm run seed')
  try {
    await migrateToLatest(database)
    const result = await seedCases(database.db, options)
    process.stdout.write(`seeded ${result.cases} cases and ${result.events} events in ${result.units.length} org units (${result.seconds.toFixed(1)} s)\n`)
    if (recordings > 0) {
      const seeded = await seedRecordings(database.db, recordings)
      process.stdout.write(`seeded ${seeded.recordings} recordings (${seeded.seconds.toFixed(1)} s)\n`)
    }
  } finally {
    await database.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`seed: ${dataFolderProblem(error, 'command') ?? (error instanceof Error ? error.message : String(error))}\n`)
    process.exit(1)
  })
}
