import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import { seedCases, seedRecordings } from '../src/cli/seed.ts'
import { embeddedFolder, openEmbedded } from '../src/kernel/db.ts'
import { migrateToLatest } from '../src/kernel/migrations.ts'
import { benchCaseList } from './cases-list.ts'
import { readCounters } from './counters.ts'
import { databaseUrl, freshDatabase } from './lib.ts'
import { benchService, freePort, startServer } from './service.ts'
import { runThroughput, type Scenario } from './throughput.ts'

/**
 * `npm run bench`: measurements against a real PostgreSQL (BENCH_DATABASE_URL, default the
 * local one), never timing assertions in tests. Seeds a database, starts the service (a child
 * process, as in production) and the ceiling server on it, and measures. Prints tables and
 * writes JSON under bench/results/.
 *
 *   npm run bench                                   every scenario with the default sizes
 *   npm run bench -- --only cases-list --only throughput
 *   npm run bench -- --only throughput --scenario 'append event'
 *   npm run bench -- --cases 10000 --events-per-case 10 --seed-recordings 100000 --seconds 10 --connections 20
 *   npm run bench -- --only retention-sweep --recordings 1000000
 *   npm run bench -- --only audit-verify --audit-entries 1000000
 *   npm run bench -- --only statistics --statistics-cases 100000   (10 events per case)
 *   npm run bench -- --only embedded --embedded-cases 2000        (the service on PGlite, no ceiling)
 *   npm run bench -- --only heavy-exports --heavy-entries 100000      (GET /v1/me while 3 full exports / verifications run)
 */
const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    // Throughput scenarios to drive, by name (default all; the ceilings always): e.g. --scenario 'get case' (to profile one).
    scenario: { type: 'string', multiple: true },
    cases: { type: 'string', default: '10000' },
    'events-per-case': { type: 'string', default: '10' },
    requests: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    'seed-recordings': { type: 'string', default: '100000' },
    recordings: { type: 'string', default: '1000000' },
    'audit-entries': { type: 'string', default: '1000000' },
    'statistics-cases': { type: 'string', default: '100000' },
    'embedded-cases': { type: 'string', default: '2000' },
    'heavy-entries': { type: 'string', default: '100000' },
  },
})

/** Runs a bench script in its own process and returns the JSON report it prints last. */
async function runScript(script: string, args: string[]): Promise<unknown> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  const start = stdout.startsWith('{') ? 0 : stdout.lastIndexOf('\n{') + 1
  try {
    return { exit_code: code, ...(JSON.parse(stdout.slice(start)) as object) }
  } catch {
    return { exit_code: code, output: stdout.slice(-2000) }
  }
}
const wanted = (name: string) => !values.only || values.only.includes(name)
const results: Record<string, unknown> = {
  started_at: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  },
}

if (wanted('cases-list') || wanted('throughput')) {
  const name = process.env.BENCH_DATABASE_NAME ?? 'madoguchi_bench'
  const database = await freshDatabase(name)
  const seed = await seedCases(database.db, { cases: Number(values.cases), eventsPerCase: Number(values['events-per-case']), units: 20, staff: 200 })
  const seededRecordings = await seedRecordings(database.db, Number(values['seed-recordings']))
  await sql`create table bench_ceiling (id bigint generated always as identity primary key, payload jsonb not null)`.execute(database.db)
  await sql`insert into bench_ceiling (payload) select jsonb_build_object('n', g) from generate_series(1, 10000) g`.execute(database.db)
  await sql`analyze`.execute(database.db)
  // Seeding wrote a lot of WAL: a checkpoint now rather than in the middle of a scenario (where it
  // also makes each page's first change after it log a full page). Needs the pg_checkpoint role.
  await sql`checkpoint`.execute(database.db).catch(() => {})
  results.seed = { cases: seed.cases, events: seed.events, recordings: seededRecordings.recordings, seconds: seed.seconds + seededRecordings.seconds }
  process.stdout.write(
    `seeded ${seed.cases} cases, ${seed.events} events and ${seededRecordings.recordings} recordings ` +
      `in ${(seed.seconds + seededRecordings.seconds).toFixed(1)} s\n`,
  )

  // The service's own counters give the statements per request of each scenario.
  const { env, bearer } = benchService({ DATABASE_URL: databaseUrl(name), METRICS_PORT: String(await freePort()) })
  const service = await startServer('src/server.ts', env, '/readyz')
  const desk = { authorization: await bearer(['desk']) }
  try {
    if (wanted('cases-list'))
      results['cases-list'] = await benchCaseList(database.db, service.baseUrl, desk.authorization.slice(7), seed.units, Number(values.requests))

    if (wanted('throughput')) {
      const ceiling = await startServer('bench/ceiling-server.ts', { DATABASE_URL: databaseUrl(name), DATABASE_POOL_SIZE: '10' }, '/select/1')
      const caseIds = (await database.db.selectFrom('cases').select('id').limit(2000).execute()).map((r) => r.id)
      const anyCase = () => caseIds[Math.floor(Math.random() * caseIds.length)]!
      const supervisor = { authorization: await bearer(['supervisor']) }
      const scenarios = (
        [
          { name: 'ceiling: INSERT', baseUrl: ceiling.baseUrl, method: 'POST', path: () => '/insert', body: () => '{"n":1}' },
          { name: 'ceiling: SELECT by id', baseUrl: ceiling.baseUrl, method: 'GET', path: () => `/select/${1 + Math.floor(Math.random() * 10000)}` },
          ...serviceScenarios(service.baseUrl, { desk, supervisor }, anyCase),
        ] satisfies Scenario[]
      ).filter((s) => !values.scenario || s.name.startsWith('ceiling:') || values.scenario.includes(s.name))
      try {
        const metricsUrl = `http://127.0.0.1:${env.METRICS_PORT}/metrics`
        const probe = () => readCounters(metricsUrl, service.process.pid!, name)
        results.throughput = await runThroughput(scenarios, { connections: Number(values.connections), seconds: Number(values.seconds) }, probe)
      } finally {
        await ceiling.stop()
      }
    }
  } finally {
    await service.stop()
    await database.close()
  }
}

// The embedded database (PGlite, what a new user runs): the same scenarios, one process, one
// connection. No ceiling server (it needs PostgreSQL); PostgreSQL's CPU is inside the service's.
if (wanted('embedded')) {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-bench-embedded-'))
  try {
    const handle = await openEmbedded(embeddedFolder(dataDir), { holder: 'bench' })
    await migrateToLatest(handle)
    const seed = await seedCases(handle.db, {
      cases: Number(values['embedded-cases']),
      eventsPerCase: Number(values['events-per-case']),
      units: 20,
      staff: 200,
    })
    const caseIds = (await handle.db.selectFrom('cases').select('id').limit(2000).execute()).map((r) => r.id)
    await handle.close()
    process.stdout.write(`\nembedded: seeded ${seed.cases} cases and ${seed.events} events in ${seed.seconds.toFixed(1)} s\n`)
    const { env, bearer } = benchService({ DATA_DIR: dataDir, METRICS_PORT: String(await freePort()) })
    const { DATABASE_URL: _notPostgres, ...withoutPostgres } = process.env
    const service = await startServer('src/server.ts', env, '/readyz', withoutPostgres)
    try {
      const anyCase = () => caseIds[Math.floor(Math.random() * caseIds.length)]!
      const headers = { desk: { authorization: await bearer(['desk']) }, supervisor: { authorization: await bearer(['supervisor']) } }
      const scenarios = serviceScenarios(service.baseUrl, headers, anyCase)
      // No PostgreSQL backends to read: the name matches none, so all CPU shows as the service's.
      const probe = () => readCounters(`http://127.0.0.1:${env.METRICS_PORT}/metrics`, service.process.pid!, 'embedded: none')
      results.embedded = {
        seed: { cases: seed.cases, events: seed.events },
        throughput: await runThroughput(scenarios, { connections: Number(values.connections), seconds: Number(values.seconds) }, probe),
      }
    } finally {
      await service.stop()
    }
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true })
  }
}

// The sweep over 1,000,000 recordings and verification of 1,000,000 audit entries seed their own
// databases; they run as their own processes (bench/retention-sweep.ts, bench/audit-verify.ts).
for (const [name, script, args] of [
  ['retention-sweep', 'bench/retention-sweep.ts', ['--recordings', values.recordings!]],
  ['audit-verify', 'bench/audit-verify.ts', ['--entries', values['audit-entries']!]],
  ['statistics', 'bench/statistics.ts', ['--cases', values['statistics-cases']!, '--events-per-case', '10']],
  ['heavy-exports', 'bench/heavy-exports.ts', ['--entries', values['heavy-entries']!]],
] as const) {
  if (!wanted(name)) continue
  process.stdout.write(`\n${name}: running ${script} ${args.join(' ')} …\n`)
  const report = await runScript(script, [...args])
  results[name] = report
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
}

await fs.mkdir(new URL('./results/', import.meta.url), { recursive: true })
const file = new URL(`./results/bench-${(results.started_at as string).replace(/[:.]/g, '-')}.json`, import.meta.url)
await fs.writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
process.stdout.write(`\nresults: ${file.pathname}\n`)

/** The service's scenarios: the same requests on PostgreSQL and on the embedded database. */
function serviceScenarios(baseUrl: string, headers: { desk: Record<string, string>; supervisor: Record<string, string> }, anyCase: () => string): Scenario[] {
  const { desk, supervisor } = headers
  const now = () => new Date().toISOString()
  return [
    {
      name: 'append event',
      baseUrl: baseUrl,
      method: 'POST',
      headers: desk,
      path: () => `/v1/cases/${anyCase()}/events`,
      route: '/v1/cases/:id/events',
      body: () => JSON.stringify({ type: 'note', occurred_at: now(), description: '負荷試験のメモ' }),
      ceiling: 'insert',
    },
    {
      name: 'get case',
      baseUrl: baseUrl,
      method: 'GET',
      headers: desk,
      path: () => `/v1/cases/${anyCase()}`,
      route: '/v1/cases/:id',
      ceiling: 'select',
    },
    {
      name: 'create case',
      baseUrl: baseUrl,
      method: 'POST',
      headers: supervisor,
      path: () => '/v1/cases',
      route: '/v1/cases',
      body: () => JSON.stringify({ channel: 'phone', occurred_at: now(), categories: ['verbal_abuse'], severity: 'low', summary: '負荷試験の案件' }),
      ceiling: 'insert',
    },
    {
      name: 'list cases (severity)',
      baseUrl: baseUrl,
      method: 'GET',
      headers: desk,
      path: () => '/v1/cases?severity=high&limit=20',
      route: '/v1/cases',
      ceiling: 'select',
    },
    {
      name: 'timeline',
      baseUrl: baseUrl,
      method: 'GET',
      headers: desk,
      path: () => `/v1/cases/${anyCase()}/timeline`,
      route: '/v1/cases/:id/timeline',
      ceiling: 'select',
    },
    {
      name: 'register recording',
      baseUrl: baseUrl,
      method: 'POST',
      headers: desk,
      path: () => '/v1/recordings',
      route: '/v1/recordings',
      body: () => {
        const id = crypto.randomUUID()
        const startedAt = new Date(Date.now() - 600_000).toISOString()
        return JSON.stringify({
          case_id: anyCase(),
          media_kind: 'audio',
          source: 'phone_system',
          recorded_by: 'organisation',
          started_at: startedAt,
          ended_at: now(),
          storage_uri: `s3://bench-media/${id}.m4a`,
          sha256: crypto.createHash('sha256').update(id).digest('hex'),
          size_bytes: 1_234_567,
          media_type: 'audio/mp4',
          notice: { given: true, method: 'automated_message', at: startedAt },
          title: '負荷試験の録音',
        })
      },
      ceiling: 'insert',
    },
  ]
}
