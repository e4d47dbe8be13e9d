/**
 * Benchmark: verification of the audit hash chain over many entries.
 *
 *   npm run bench:audit-verify -- --entries 1000000
 *   BENCH_DATABASE_URL=postgres://user@host:5432/postgres npm run bench:audit-verify
 *
 * Creates a scratch database next to the one named by BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), migrates it, seeds N audit entries with one
 * set-based INSERT … SELECT generate_series, links them with the service's own linker
 * (linkPendingEntries), then times verifyChain — the function GET /v1/audit-events/verify runs —
 * over the whole chain. Prints one JSON object; drops the scratch database unless --keep.
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import pg from 'pg'
import { verifyChain } from '../src/audit/chain-verification.ts'
import { linkPendingEntries } from '../src/kernel/audit-chain.ts'
import { connectPostgres } from '../src/kernel/db.ts'
import { migrateToLatest } from '../src/kernel/migrations.ts'

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    // Entries per linker transaction; by default the service's own (LINK_BATCH).
    'link-batch': { type: 'string' },
    'verify-page': { type: 'string', default: '10000' },
    runs: { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
  },
})
const entries = Number(values.entries)
const linkBatch = values['link-batch'] === undefined ? undefined : Number(values['link-batch'])
const verifyPage = Number(values['verify-page'])
const base = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `madoguchi_bench_${process.pid}`

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: base })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

const url = new URL(base)
url.pathname = `/${name}`
await admin(`create database "${name}"`)
const handle = connectPostgres(url.toString(), 4)
// CPU seconds the server's backends of this database have used (PostgreSQL on this machine, as the
// benchmark assumes: /proc; 0 when it cannot be read). Independent of how busy the machine is.
async function databaseCpuMs(db: typeof handle.db): Promise<number> {
  const pids = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database()`.execute(db)
  let ticks = 0
  for (const { pid } of pids.rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {}
  }
  return ticks * 10
}
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6
try {
  await migrateToLatest(handle)
  const db = handle.db

  let started = process.hrtime.bigint()
  // Entries shaped like the service's: several subjects, actions and resources, small details.
  // One set-based statement; the rows share one transaction id, which the linker handles like any.
  await sql`
    insert into audit_events (subject, roles, org_unit, action, route, resource_type, resource_id, outcome, status, request_id, client_address, details)
    select 'staff-' || (g % 500), array['staff'], '00000000-0000-7000-8000-000000000001',
           (array['getCase','updateCase','listCases','getRecording'])[1 + g % 4], 'GET /v1/cases/:id',
           (array['case','recording'])[1 + g % 2], 'c-' || (g % 100000),
           case when g % 50 = 0 then 'denied' else 'allowed' end, case when g % 50 = 0 then 404 else 200 end,
           'req-' || g, '10.0.' || (g % 250) || '.' || (g % 200), jsonb_build_object('count', g % 17)
      from generate_series(1, ${entries}::int) as g`.execute(db)
  const seedMs = ms(started)

  // The linker takes entries of transactions below the cluster's snapshot xmin: a transaction of
  // another database on the same server that began before the seed committed holds them back.
  // Wait for that before timing, rather than timing the wait (or linking nothing).
  const waitStarted = process.hrtime.bigint()
  for (;;) {
    const linkable = await sql<{ ok: boolean }>`select max(txid) < pg_snapshot_xmin(pg_current_snapshot()) as ok from audit_events`.execute(db)
    if (linkable.rows[0]?.ok) break
    await new Promise((r) => setTimeout(r, 200))
  }
  const linkableWaitMs = ms(waitStarted)

  started = process.hrtime.bigint()
  const linkCpuBefore = process.cpuUsage()
  const linkDbCpuBefore = await databaseCpuMs(db)
  let linked = 0
  for (;;) {
    const n = await linkPendingEntries(db, linkBatch)
    if (n === 0) break
    linked += n
  }
  const linkMs = ms(started)
  const linkCpu = process.cpuUsage(linkCpuBefore)
  const linkDbCpuMs = (await databaseCpuMs(db)) - linkDbCpuBefore
  await handle.runScript(db, 'vacuum analyze audit_events, audit_chain')

  // The first run reads the table from disk or the OS cache; later runs show it warm.
  const runs: Array<{ ms: number; cpuMs: number }> = []
  const memoryBefore = process.memoryUsage().rss
  let result: Awaited<ReturnType<typeof verifyChain>> | null = null
  for (let run = 0; run < Math.max(1, Number(values.runs)); run++) {
    started = process.hrtime.bigint()
    const cpuBefore = process.cpuUsage()
    result = await verifyChain(db, {}, verifyPage)
    const cpu = process.cpuUsage(cpuBefore)
    runs.push({ ms: Math.round(ms(started)), cpuMs: Math.round((cpu.user + cpu.system) / 1000) })
    if (result.broken !== null || result.checked !== entries) break
  }
  const verifyMs = runs[0]!.ms
  const best = Math.min(...runs.map((r) => r.ms))
  const report = {
    benchmark: 'audit-verify',
    database: 'postgresql',
    entries,
    seed_ms: Math.round(seedMs),
    link_ms: Math.round(linkMs),
    linkable_wait_ms: Math.round(linkableWaitMs),
    // CPU time of this process while linking (reading, hashing, sending the links).
    link_cpu_ms: Math.round((linkCpu.user + linkCpu.system) / 1000),
    // CPU time of the database's backends while linking.
    link_db_cpu_ms: linkDbCpuMs,
    linked_per_second: Math.round(entries / (linkMs / 1000)),
    link_batch: linkBatch ?? "the service's",
    linked,
    verify_ms: verifyMs,
    verify_runs_ms: runs.map((r) => r.ms),
    // CPU time of this process while verifying: wall time above it is waiting (on the database, or
    // for a core on a busy machine).
    verify_cpu_ms: runs.map((r) => r.cpuMs),
    verify_page: verifyPage,
    verified_per_second: Math.round(entries / (best / 1000)),
    rss_growth_mb: Math.round((process.memoryUsage().rss - memoryBefore) / 1e6),
    checked: result!.checked,
    valid: result!.broken === null,
    target_ms: 10_000,
    within_target: best < 10_000,
    // Other work on the machine competes for the same cores (tests, other databases).
    cpus: os.cpus().length,
    load_average_1m: Number(os.loadavg()[0]!.toFixed(2)),
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
  if (!report.valid || report.checked !== entries) process.exitCode = 1
} finally {
  await handle.close()
  if (!values.keep) await admin(`drop database if exists "${name}" with (force)`)
  else process.stderr.write(`kept database ${name}\n`)
}
