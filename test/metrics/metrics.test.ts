import t from 'tap'
import { sequenceAllPendingChanges } from '../../src/kernel/sequencer.ts'
import { loadConfig } from '../../src/config.ts'
import type { Metrics } from '../../src/metrics/metrics.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { dispatchWebhookDeliveries, runWebhookRound } from '../../src/webhooks/worker.ts'
import { linkEverything } from '../audit/helpers.ts'
import { buildTestApp } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/database.ts'
import { LOOPBACK, startReceiver, workerOptions } from '../webhooks/helpers.ts'
import { expectStatus } from '../helpers/expect.ts'

/** The value of one sample (a metric's name, or its _count/_sum/_bucket, with labels); 0 when absent. */
async function sample(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    for (const value of metric.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
      if ((value.metricName ?? metric.name) !== name) continue
      if (Object.entries(labels).every(([k, v]) => String(value.labels[k]) === v)) return value.value
    }
  }
  return 0
}

const caseBody = {
  channel: 'phone',
  occurred_at: new Date(Date.now() - 3600_000).toISOString(),
  categories: ['verbal_abuse'],
  severity: 'low',
  summary: 'metrics',
}

t.test('requests and the statements they send, by route and status', async (t) => {
  const { injectAs, metrics } = await buildTestApp(t, { metrics: true })
  const m = metrics!
  const created = { method: 'POST', route: '/v1/cases', status_code: '201' }
  const before = await sample(m, 'madoguchi_http_request_duration_seconds_count', created)
  const statementsBefore = await sample(m, 'madoguchi_db_statements_total', { method: 'POST', route: '/v1/cases' })

  const res = await injectAs('desk', { method: 'POST', url: '/v1/cases', payload: caseBody })
  expectStatus(t, res, 201)
  t.equal(await sample(m, 'madoguchi_http_request_duration_seconds_count', created), before + 1, 'the request is counted')
  const sent = (await sample(m, 'madoguchi_db_statements_total', { method: 'POST', route: '/v1/cases' })) - statementsBefore
  t.ok(sent >= 1, `its statements are counted under its route (${sent}: a creation is one statement)`)

  const id = res.json().id as string
  await injectAs('desk', { method: 'GET', url: `/v1/cases/${id}` })
  t.equal(
    await sample(m, 'madoguchi_http_request_duration_seconds_count', { method: 'GET', route: '/v1/cases/:id', status_code: '200' }),
    1,
    'by route pattern, not URL',
  )
  t.ok((await sample(m, 'madoguchi_db_statements_total', { method: 'GET', route: '/v1/cases/:id' })) >= 1)
  await injectAs('staff', { method: 'GET', url: `/v1/cases/${id}` })
  t.equal(await sample(m, 'madoguchi_http_request_duration_seconds_count', { method: 'GET', route: '/v1/cases/:id', status_code: '404' }), 1, 'and by status')
  await injectAs('desk', { method: 'GET', url: '/v1/no-such-thing' })
  t.equal(await sample(m, 'madoguchi_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' }), 1, 'unknown URLs share one series')

  const text = await m.registry.metrics()
  t.match(text, /^madoguchi_db_pool_connections_in_use \d+$/m)
  t.match(text, /^madoguchi_db_pool_waiting 0$/m)
  t.match(text, /^process_cpu_seconds_total /m, 'and the process metrics')
  t.notMatch(text, new RegExp(id), 'no record ids in any label')
})

t.test('audit-chain and change-feed lag, the webhook backlog and dead letters', async (t) => {
  const test = await buildTestApp(t, { metrics: true, config: { webhooks: { privateNetworks: LOOPBACK } } })
  const m = test.metrics!
  const receiver = await startReceiver(t, () => 500)
  const hook = await test.injectAs('admin', { method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url, kinds: ['case.*'] } })
  expectStatus(t, hook, 201)
  await test.injectAs('desk', { method: 'POST', url: '/v1/cases', payload: caseBody })

  t.ok((await sample(m, 'madoguchi_audit_chain_unlinked_entries')) >= 2, 'entries wait for the linker')
  t.ok((await sample(m, 'madoguchi_audit_chain_lag_seconds')) >= 0)
  t.ok((await sample(m, 'madoguchi_change_feed_unsequenced_changes')) >= 1, 'the case waits for its feed position')
  await linkEverything(test.db)
  await sequenceAllPendingChanges(test.db)
  t.equal(await sample(m, 'madoguchi_change_feed_unsequenced_changes'), 0)
  t.equal(await sample(m, 'madoguchi_change_feed_lag_seconds'), 0)

  // The worker queues a delivery, the receiver refuses it, and with one attempt allowed it is dead.
  await dispatchWebhookDeliveries(test.db)
  t.equal(await sample(m, 'madoguchi_webhook_deliveries_pending'), 1, 'the backlog')
  t.equal(await sample(m, 'madoguchi_webhook_deliveries_dead'), 0)
  await runWebhookRound(test.db, workerOptions({ maxAttempts: 1 }))
  t.equal(receiver.received.length, 1)
  t.equal(await sample(m, 'madoguchi_webhook_deliveries_pending'), 0)
  t.equal(await sample(m, 'madoguchi_webhook_deliveries_dead'), 1, 'a dead letter')
})

t.test('the last sweep and what it did', async (t) => {
  const { db, metrics } = await buildTestApp(t, { metrics: true })
  const m = metrics!
  t.equal(await sample(m, 'madoguchi_retention_sweep_last_run_timestamp_seconds'), 0, 'no sweep yet')
  const before = Date.now() / 1000
  m.recordSweep(await sweepRetention(db))
  t.ok((await sample(m, 'madoguchi_retention_sweep_last_run_timestamp_seconds')) >= before - 1)
  t.equal(await sample(m, 'madoguchi_retention_sweep_last_run_skipped'), 0)
  t.equal(await sample(m, 'madoguchi_retention_sweep_last_run_recordings', { action: 'purged' }), 0)
})

t.test('load shedding refusals', { skip: !testDatabaseUrl && 'the embedded database sheds on nothing' }, async (t) => {
  const { app, injectAs, metrics } = await buildTestApp(t, { metrics: true, config: { overload: { maxEventLoopDelayMs: 200, maxWaitingQueries: 2 } } })
  const underPressure = () => (app as unknown as { isUnderPressure(): boolean }).isUnderPressure()
  let shed = 0
  // Stick the event loop, as CPU overload does, until the service measures the lag.
  for (let i = 0; i < 20 && shed === 0; i++) {
    const until = Date.now() + 400
    while (Date.now() < until) {
      // busy
    }
    await new Promise((r) => setImmediate(r))
    if (!underPressure()) continue
    if ((await injectAs('staff', { method: 'GET', url: '/v1/me' })).statusCode === 503) shed += 1
  }
  t.ok(shed > 0, 'a request was shed')
  t.equal(await sample(metrics!, 'madoguchi_load_shed_total', { reason: 'eventLoopDelay' }), shed, 'and counted')
})

t.test('METRICS_PORT: off by default, never the API port', async (t) => {
  t.equal(loadConfig({}).metricsPort, null)
  t.equal(loadConfig({ METRICS_PORT: '9464' }).metricsPort, 9464)
  t.equal(loadConfig({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' }).overload?.maxEventLoopDelayMs, 0, 'event-loop shedding can be turned off')
  t.throws(() => loadConfig({ PORT: '3000', METRICS_PORT: '3000' }), { name: 'ConfigError', message: /^METRICS_PORT: must differ from PORT/ })
  t.throws(() => loadConfig({ METRICS_PORT: '70000' }), { name: 'ConfigError', message: /^METRICS_PORT: / })
})
