import { AsyncLocalStorage } from 'node:async_hooks'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { chainLinkingLag } from '../audit/audit.repository.ts'
import { feedLag } from '../changes/changes.repository.ts'
import type { DatabaseHandle } from '../kernel/db.ts'
import type { BackgroundJob } from '../kernel/background-jobs.ts'
import type { SweepResult } from '../recordings/retention-sweep.ts'
import { deliveryBacklog } from '../webhooks/webhooks.repository.ts'

/**
 * Prometheus metrics (prom-client), served on their own listener (METRICS_PORT), never on the
 * API. Each instance reports its own requests, statements, pool, sweeps and refusals; the lags
 * and the webhook queue are read from the database, which every instance shares. The metrics
 * are listed in docs/metrics.md.
 */
export interface Metrics {
  readonly registry: Registry
  /** A background job whose statements are counted under its name. */
  instrument(job: BackgroundJob): BackgroundJob
  /** What this instance's last retention sweep did. */
  recordSweep(result: SweepResult): void
  /** A request refused by load shedding (`reason`: what was over its limit). */
  recordShed(reason: string): void
  /** Where the statements being sent come from: a request's route, a job, a scrape. */
  readonly origin: AsyncLocalStorage<Origin>
  readonly requests: Histogram<'method' | 'route' | 'status_code'>
}

/** What a statement is counted under: the request's route, a job, or a scrape. */
interface Origin {
  method: string
  route: string
}
const NO_ORIGIN: Origin = { method: '', route: '' }

// The database-derived gauges are read at most this often, however many scrapers ask.
const DATABASE_READ_EVERY_MS = 10_000

export function createMetrics(database: DatabaseHandle, options: { databaseReadEveryMs?: number } = {}): Metrics {
  const readEveryMs = options.databaseReadEveryMs ?? DATABASE_READ_EVERY_MS
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const origin = new AsyncLocalStorage<Origin>()

  const statements = new Counter({
    name: 'madoguchi_db_statements_total',
    help: 'Statements sent to the database (round trips, BEGIN and COMMIT included), by the route or job that sent them',
    labelNames: ['method', 'route'] as const,
    registers: [registry],
  })
  database.observeStatements(() => statements.inc(origin.getStore() ?? NO_ORIGIN))

  new Gauge({
    name: 'madoguchi_db_pool_connections_in_use',
    help: 'Database connections checked out now',
    registers: [registry],
    collect() {
      this.set(database.connectionsInUse())
    },
  })
  new Gauge({
    name: 'madoguchi_db_pool_waiting',
    help: 'Queries waiting for a free database connection',
    registers: [registry],
    collect() {
      this.set(database.waitingQueries())
    },
  })

  // Read from the shared database: the same on every instance.
  let state: { at: number; reading: Promise<DatabaseState | null> } | null = null
  const databaseState = () => {
    if (!state || Date.now() - state.at >= readEveryMs) {
      state = { at: Date.now(), reading: origin.run({ method: 'METRICS', route: 'database' }, () => readDatabaseState(database)).catch(() => null) }
    }
    return state.reading
  }
  const fromDatabase = (name: string, help: string, pick: (s: DatabaseState) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await databaseState()
        // Unknown while the database is unreachable: no sample rather than a stale one.
        if (s) this.set(pick(s))
        else this.reset()
      },
    })
  fromDatabase('madoguchi_audit_chain_unlinked_entries', 'Audit entries not linked into the hash chain yet', (s) => s.chain.unlinked)
  fromDatabase('madoguchi_audit_chain_lag_seconds', 'Age of the oldest audit entry not linked yet (0: none waiting)', (s) => s.chain.oldestSeconds)
  fromDatabase('madoguchi_change_feed_unsequenced_changes', 'Committed changes without a feed position yet', (s) => s.feed.unsequenced)
  fromDatabase('madoguchi_change_feed_lag_seconds', 'Age of the oldest change without a feed position (0: none waiting)', (s) => s.feed.oldestSeconds)
  fromDatabase('madoguchi_webhook_deliveries_pending', 'Webhook deliveries waiting to be sent or retried (the backlog)', (s) => s.webhooks.pending)
  fromDatabase('madoguchi_webhook_deliveries_overdue_seconds', 'How late the most overdue pending webhook delivery is', (s) => s.webhooks.overdueSeconds)
  fromDatabase('madoguchi_webhook_deliveries_dead', 'Webhook deliveries out of attempts (dead letters), until redelivered', (s) => s.webhooks.dead)

  const sweepRun = new Gauge({
    name: 'madoguchi_retention_sweep_last_run_timestamp_seconds',
    help: "When this instance's last retention sweep ended (Unix time)",
    registers: [registry],
  })
  const sweepSkipped = new Gauge({
    name: 'madoguchi_retention_sweep_last_run_skipped',
    help: '1 when the last sweep found another instance sweeping and did nothing',
    registers: [registry],
  })
  const sweepDuration = new Gauge({ name: 'madoguchi_retention_sweep_last_run_duration_seconds', help: 'How long the last sweep took', registers: [registry] })
  const sweepLast = new Gauge({
    name: 'madoguchi_retention_sweep_last_run_recordings',
    help: 'Recordings the last sweep purged or marked due',
    labelNames: ['action'] as const,
    registers: [registry],
  })
  const sweepTotal = new Counter({
    name: 'madoguchi_retention_sweep_recordings_total',
    help: "Recordings this instance's sweeps purged or marked due",
    labelNames: ['action'] as const,
    registers: [registry],
  })
  const requests = new Histogram({
    name: 'madoguchi_http_request_duration_seconds',
    help: 'Requests (the _count) and how long they took, by method, route pattern and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })
  const shed = new Counter({
    name: 'madoguchi_load_shed_total',
    help: 'Requests refused with 503 by load shedding, by what was over its limit',
    labelNames: ['reason'] as const,
    registers: [registry],
  })

  return {
    registry,
    origin,
    requests,
    instrument: (job) => ({ ...job, run: (signal) => origin.run({ method: 'JOB', route: job.name }, () => job.run(signal)) }),
    recordSweep(result) {
      sweepRun.set(Date.now() / 1000)
      sweepSkipped.set(result.skipped ? 1 : 0)
      sweepDuration.set(result.elapsed_ms / 1000)
      sweepLast.set({ action: 'purged' }, result.purged)
      sweepLast.set({ action: 'marked_due' }, result.marked_due)
      sweepTotal.inc({ action: 'purged' }, result.purged)
      sweepTotal.inc({ action: 'marked_due' }, result.marked_due)
    },
    recordShed: (reason) => shed.inc({ reason }),
  }
}

interface DatabaseState {
  chain: Awaited<ReturnType<typeof chainLinkingLag>>
  feed: Awaited<ReturnType<typeof feedLag>>
  webhooks: Awaited<ReturnType<typeof deliveryBacklog>>
}

async function readDatabaseState(database: DatabaseHandle): Promise<DatabaseState> {
  const [chain, feed, webhooks] = await Promise.all([chainLinkingLag(database.db), feedLag(database.db), deliveryBacklog(database.db)])
  return { chain, feed, webhooks }
}

/** The route pattern, never the raw URL (ids would make a series per record). */
const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched'

/**
 * Requests: counted and timed by method, route pattern and status; the statements a request
 * sends are counted under its route.
 */
export const metricsPlugin = fp<{ metrics: Metrics }>(
  async function countRequests(app: FastifyInstance, { metrics }) {
    const { origin, requests } = metrics
    // Everything the request does after this hook (later hooks, the handler, the error
    // handler) runs inside this context, so its statements carry its route.
    app.addHook('onRequest', (request, _reply, done) => {
      origin.run({ method: request.method, route: routeOf(request) }, done)
    })
    app.addHook('onResponse', async (request, reply) => {
      requests.observe({ method: request.method, route: routeOf(request), status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    })
  },
  { name: 'metrics' },
)

/** The metrics listener: GET /metrics, on its own port. */
export async function serveMetrics(metrics: Metrics, port: number, host: string): Promise<{ url: string; close(): Promise<void> }> {
  const { origin } = metrics
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n')
      return
    }
    origin
      .run({ method: 'METRICS', route: '/metrics' }, () => metrics.registry.metrics())
      .then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (error: unknown) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
      )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const shown = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address
  return {
    url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
