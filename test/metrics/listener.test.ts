import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { signHs256Token } from '../../src/kernel/auth.ts'
import { createTestDatabase, testDatabaseUrl } from '../helpers/database.ts'
import { expectStatus } from '../helpers/expect.ts'
import { startServiceProcess } from '../helpers/process.ts'

/**
 * The service as deployed (`src/server.ts`) with METRICS_PORT: Prometheus metrics answer on that
 * port and not on the API's, and they move with requests, background jobs and sweeps.
 */
t.test('/metrics on METRICS_PORT, never on the API port', async (t) => {
  const secret = crypto.randomBytes(32).toString('hex')
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-metrics-'))
  const database = testDatabaseUrl ? await createTestDatabase() : null
  t.teardown(async () => {
    await fs.rm(dataDir, { recursive: true, force: true })
    await database?.drop()
  })
  const env = {
    ...process.env,
    PORT: '0',
    METRICS_PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: database?.url ?? '',
    AUTH_HS256_SECRET: secret,
    AUTH_ISSUER: 'metrics-test',
    AUTH_AUDIENCE: 'madoguchi',
    LOG_LEVEL: 'warn',
    RETENTION_SWEEP_INTERVAL_MS: '1000',
    // Several test files share two cores: a slow event loop here is the machine, not overload.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
  }
  const server = await startServiceProcess(t, env)
  const api = server.base
  const metricsUrl = /Metrics: +(http:\/\/\S+\/metrics)/.exec(server.stderr())?.[1]
  t.ok(metricsUrl, 'the banner names the metrics address')
  t.not(new URL(metricsUrl!).port, new URL(api).port, 'a port of its own')

  const scrape = async () => {
    const res = await fetch(metricsUrl!)
    expectStatus(t, res, 200)
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    return res.text()
  }
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `))
    return line ? Number(line.slice(series.length + 1)) : 0
  }

  const onApi = await fetch(`${api}/metrics`)
  expectStatus(t, onApi, 404, 'the API does not serve metrics')
  expectStatus(t, await fetch(`${new URL(metricsUrl!).origin}/v1/me`), 404, 'and the metrics port serves nothing else')

  const created = 'madoguchi_http_request_duration_seconds_count{method="POST",route="/v1/cases",status_code="201"}'
  const statements = 'madoguchi_db_statements_total{method="POST",route="/v1/cases"}'
  const first = await scrape()
  const token = await signHs256Token(new TextEncoder().encode(secret), 'metrics-test', 'madoguchi', {
    subject: 'desk-1',
    roles: ['desk'],
    orgUnit: '00000000-0000-7000-8000-000000000001',
  })
  const res = await fetch(`${api}/v1/cases`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'phone', occurred_at: new Date().toISOString(), categories: ['other'], severity: 'low', summary: 'metrics' }),
  })
  expectStatus(t, res, 201)
  const second = await scrape()
  t.equal(value(second, created), value(first, created) + 1, 'the request counter moved')
  t.ok(value(second, statements) > value(first, statements), 'and the statements of its route')

  // Background work is counted too, and the sweep reports its last run.
  let text = second
  for (let i = 0; i < 100 && value(text, 'madoguchi_retention_sweep_last_run_timestamp_seconds') === 0; i++) {
    await new Promise((r) => setTimeout(r, 100))
    text = await scrape()
  }
  t.ok(value(text, 'madoguchi_retention_sweep_last_run_timestamp_seconds') > 0, 'a sweep ran and reported')
  t.match(text, /^madoguchi_retention_sweep_last_run_recordings\{action="purged"\} \d+$/m)
  t.ok(value(text, 'madoguchi_db_statements_total{method="JOB",route="audit-chain"}') > 0, "the audit linker's statements")
  t.match(text, /^madoguchi_audit_chain_unlinked_entries \d+$/m)
  t.match(text, /^madoguchi_change_feed_lag_seconds [\d.e+-]+$/m)
  t.match(text, /^madoguchi_webhook_deliveries_dead 0$/m)

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'stops cleanly, the metrics listener with it')
})
