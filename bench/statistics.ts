/**
 * Benchmark: case statistics for a fiscal year grouped by month × category (issue 16).
 *
 *   npm run bench:statistics -- [--cases 100000] [--events-per-case 10] [--recordings 20000] [--requests 100] [--keep]
 *
 * Creates a database of its own (madoguchi_bench_statistics) on BENCH_DATABASE_URL, seeds the
 * cases and events with set-based SQL (the triggers of migrations/0016 and 0018 keep the summary
 * tables as they do for every write), closes the cases the seed marks closed with a closing event
 * 1 hour to 60 days after they occurred (so that days to close have values to sort), registers
 * recordings of a fifth of the cases, starts the service as a child process, and times sequential
 * GET /v1/statistics/cases?fiscal_year=…&group_by=month,category as the desk (exact figures) and
 * as an auditor (suppressed), after 10 requests of warm-up each. Target: p95 under 200 ms.
 * Prints one JSON object last. Drops the database at the end unless --keep; --reuse measures a
 * database a --keep run left (seeding 1,000,000 events takes minutes on a small machine).
 */
import crypto from 'node:crypto'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import { seedCases, seedRecordings } from '../src/cli/seed.ts'
import { connectPostgres, type DatabaseHandle } from '../src/kernel/db.ts'
import { fiscalYear, todayInTokyo } from '../src/kernel/time.ts'
import { databaseUrl, dropDatabase, freshDatabase, latencyStats, printTable } from './lib.ts'
import { benchService, startServer } from './service.ts'

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    'events-per-case': { type: 'string', default: '10' },
    recordings: { type: 'string', default: '20000' },
    requests: { type: 'string', default: '100' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  },
})

const name = 'madoguchi_bench_statistics'
let database: DatabaseHandle
let seed: { cases: number; events: number; seconds: number | null }

/** The closing event (status_changed to closed) of every seeded case the seed marked closed, which the seed itself leaves out. */
async function closeClosedCases(db: DatabaseHandle['db']): Promise<number> {
  const result = await sql`
    insert into case_events (id, case_id, seq, type, occurred_at, actor, description, details)
    select gen_random_uuid(), c.id, (select max(e.seq) from case_events e where e.case_id = c.id) + 1, 'status_changed',
           least(now(), c.occurred_at + make_interval(hours => 1 + abs(hashtext(c.id::text)) % (60 * 24))), 'seed', '終結',
           '{"from": "resolved", "to": "closed"}'::jsonb
      from cases c
     where c.status = 'closed'
       and not exists (select 1 from case_events e where e.case_id = c.id and e.type = 'status_changed' and e.details ->> 'to' = 'closed')`.execute(db)
  await sql`analyze`.execute(db)
  return Number(result.numAffectedRows ?? 0)
}

if (values.reuse) {
  database = connectPostgres(databaseUrl(name), 20)
  const count = async (table: 'cases' | 'case_events') =>
    Number(
      (
        await database.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )
  seed = { cases: await count('cases'), events: await count('case_events'), seconds: null }
} else {
  const started = Date.now()
  database = await freshDatabase(name)
  seed = await seedCases(database.db, { cases: Number(values.cases), eventsPerCase: Number(values['events-per-case']), units: 20, staff: 200 })
  seed.events += await closeClosedCases(database.db)
  await seedRecordings(database.db, Number(values.recordings))
  seed.seconds = (Date.now() - started) / 1000
  process.stderr.write(
    `seeded ${seed.cases} cases, ${seed.events} events and ${values.recordings} recordings in ${seed.seconds.toFixed(1)} s (summary tables kept by triggers)\n`,
  )
}
// The seed spreads cases over the two years before today: the last complete fiscal year.
const fy = fiscalYear(todayInTokyo()) - 1
const inYear = await database.db
  .selectFrom('case_statistics')
  .select((eb) => eb.fn.countAll<number>().as('n'))
  .where('fiscal_year', '=', fy)
  .executeTakeFirstOrThrow()

const { env, bearer } = benchService(
  {
    DATABASE_URL: databaseUrl(name),
    // Measured on a shared machine: load shedding would answer 503 instead of being measured.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '60000',
  },
  // Fixed for this throwaway database, so that --reuse opens the signing keys an earlier run made.
  crypto.createHash('sha256').update(`bench ${name}`).digest('hex'),
)

const service = await startServer('src/server.ts', env, '/readyz')
const requests = Number(values.requests)
const path = `/v1/statistics/cases?fiscal_year=${fy}&group_by=month,category`
const measured: Record<string, ReturnType<typeof latencyStats> & { rows: number }> = {}
try {
  for (const role of ['desk', 'auditor'] as const) {
    const authorization = await bearer([role])
    const samples: number[] = []
    let rows = 0
    for (let i = 0; i < requests + 10; i++) {
      const started = performance.now()
      const res = await fetch(`${service.baseUrl}${path}`, { headers: { authorization } })
      const body = (await res.json()) as { rows: unknown[] }
      // While warming up, a service that just started (generating its signing keys) may shed load.
      if (res.status === 503 && i < 10) {
        await new Promise((resolve) => setTimeout(resolve, 1000))
        continue
      }
      if (res.status !== 200) throw new Error(`${role}: HTTP ${res.status} ${JSON.stringify(body)}`)
      rows = body.rows.length
      if (i >= 10) samples.push(performance.now() - started)
    }
    measured[role] = { ...latencyStats(samples), rows }
  }
} finally {
  await service.stop()
  await database.close()
  if (!values.keep) await dropDatabase(name)
}

process.stderr.write(`\nGET ${path}: ${requests} sequential requests, ${Number(inYear.n)} cases in fiscal year ${fy}\n`)
printTable(Object.entries(measured).map(([role, m]) => ({ caller: role, rows: m.rows, p50_ms: m.p50_ms, p95_ms: m.p95_ms, p99_ms: m.p99_ms })))
const report = { cases: seed.cases, events: seed.events, seed_seconds: seed.seconds, fiscal_year: fy, cases_in_year: Number(inYear.n), path, measured }
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
