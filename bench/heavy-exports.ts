import os from 'node:os'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { sql } from 'kysely'
import type { Role } from '../src/kernel/access.ts'
import { linkPendingEntries } from '../src/kernel/audit-chain.ts'
import { databaseUrl, dropDatabase, freshDatabase, latencyStats, printTable } from './lib.ts'
import { benchService, startServer } from './service.ts'

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    keep: { type: 'boolean', default: false },
  },
})
const entries = Number(values.entries)
const name = 'madoguchi_bench_heavy'
const database = await freshDatabase(name, 4)
const seedStarted = performance.now()
// Shaped like the service's entries, as in bench/audit-verify.ts. The transaction id is an old one
// on purpose: the linker waits for every transaction older than an entry's to end, cluster-wide,
// and on a shared machine another database's long seed would hold these back.
await sql`
  insert into audit_events (txid, subject, roles, org_unit, action, route, resource_type, resource_id, outcome, status, request_id, client_address, details)
  select '3'::xid8, 'staff-' || (g % 500), array['staff'], '00000000-0000-7000-8000-000000000001',
         (array['getCase','updateCase','listCases','getRecording'])[1 + g % 4], 'GET /v1/cases/:id',
         (array['case','recording'])[1 + g % 2], 'c-' || (g % 100000),
         case when g % 50 = 0 then 'denied' else 'allowed' end, case when g % 50 = 0 then 404 else 200 end,
         'req-' || g, '10.0.' || (g % 250) || '.' || (g % 200), jsonb_build_object('count', g % 17)
    from generate_series(1, ${entries}::int) as g`.execute(database.db)
while ((await linkPendingEntries(database.db, 20000)) > 0) {}
await database.runScript(database.db, 'vacuum analyze audit_events')
const seedSeconds = (performance.now() - seedStarted) / 1000
process.stderr.write(`seeded and linked ${entries} audit entries in ${seedSeconds.toFixed(1)} s\n`)

// The prober alone asks ~100 times a second; load shedding keeps its production settings.
const { env, bearer } = benchService({ DATABASE_URL: databaseUrl(name) })
const token = (subject: string, role: Role) => bearer([role], subject)

interface HeavyResult {
  status: number
  ms: number
  bytes: number
}

// The heavy requests read their bodies in a thread of their own: reading three streams of 60 MB
// would otherwise delay this thread's prober and count as the service's latency.
const CONSUMER = `
const { parentPort, workerData } = require('node:worker_threads')
async function heavy({ path, authorization, delayMs }) {
  await new Promise((resolve) => setTimeout(resolve, delayMs))
  const started = performance.now()
  const res = await fetch(workerData.baseUrl + path, { headers: { authorization } })
  let bytes = 0
  for await (const chunk of res.body ?? []) bytes += chunk.byteLength
  return { status: res.status, ms: Math.round(performance.now() - started), bytes }
}
Promise.all(workerData.requests.map(heavy)).then((results) => parentPort.postMessage(results))
`

function heavyRequests(baseUrl: string, requests: Array<{ path: string; authorization: string; delayMs: number }>): Promise<HeavyResult[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(CONSUMER, { eval: true, workerData: { baseUrl, requests } })
    worker.once('message', (results: HeavyResult[]) => {
      resolve(results)
      void worker.terminate()
    })
    worker.once('error', reject)
  })
}

interface Phase {
  heavy: HeavyResult[]
  /** The first auditor's third request while its two run: 429 beyond the per-subject limit. */
  extra_attempt: HeavyResult
  me: ReturnType<typeof latencyStats> & { statuses: Record<string, number> }
}

async function phase(baseUrl: string, path: string, auditors: string[], me: string): Promise<Phase> {
  let running = true
  const samples: number[] = []
  const statuses: Record<string, number> = {}
  const prober = (async () => {
    while (running) {
      const started = performance.now()
      const res = await fetch(`${baseUrl}/v1/me`, { headers: { authorization: me } })
      await res.arrayBuffer()
      samples.push(performance.now() - started)
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  const results = await heavyRequests(baseUrl, [
    ...auditors.map((authorization) => ({ path, authorization, delayMs: 0 })),
    // While the three run, the first auditor asks for one more.
    { path, authorization: auditors[0]!, delayMs: 300 },
  ])
  running = false
  await prober
  return { heavy: results.slice(0, -1), extra_attempt: results[results.length - 1]!, me: { ...latencyStats(samples), statuses } }
}

const service = await startServer('src/server.ts', env, '/readyz')
const report: Record<string, unknown> = { benchmark: 'heavy-exports', entries, seed_seconds: Number(seedSeconds.toFixed(1)) }
try {
  const me = await token('bench-staff', 'staff')
  // Two auditors: the first runs two at once, so the extra attempt is its third.
  const a = await token('bench-auditor-1', 'auditor')
  const b = await token('bench-auditor-2', 'auditor')
  const auditors = [a, a, b]
  // Warm up: the service's first requests compile schemas and open connections.
  for (let i = 0; i < 20; i++) await (await fetch(`${service.baseUrl}/v1/me`, { headers: { authorization: me } })).arrayBuffer()
  report.exports = await phase(service.baseUrl, '/v1/audit-events/export', auditors, me)
  report.verifications = await phase(service.baseUrl, '/v1/audit-events/verify', auditors, me)
} finally {
  await service.stop()
  await database.close()
  if (!values.keep) await dropDatabase(name)
}

const rows = (['exports', 'verifications'] as const).map((kind) => {
  const p = report[kind] as Phase
  return {
    phase: `3 × ${kind}`,
    me_requests: p.me.requests,
    me_p50_ms: p.me.p50_ms,
    me_p99_ms: p.me.p99_ms,
    me_max_ms: p.me.max_ms,
    me_503: p.me.statuses['503'] ?? 0,
    heavy_ms: p.heavy.map((h) => `${h.status}:${h.ms}`).join(' '),
    extra_attempt: p.extra_attempt.status,
  }
})
process.stderr.write('\n')
printTable(rows)
report.target = { me_p99_ms_under: 100, me_503: 0 }
report.cpus = os.cpus().length
report.load_average_1m = Number(os.loadavg()[0]!.toFixed(2))
process.stdout.write(`${JSON.stringify(report)}\n`)
