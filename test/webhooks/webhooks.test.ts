import { sql } from 'kysely'
import t from 'tap'
import { startBackgroundJobs } from '../../src/kernel/background-jobs.ts'
import { render } from '../../src/kernel/messages/index.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { verifyDeliverySignature } from '../../src/webhooks/signature.ts'
import { TargetPolicy } from '../../src/webhooks/targets.ts'
import { deliverDueWebhooks, dispatchWebhookDeliveries, retryDelayMs, runWebhookRound } from '../../src/webhooks/worker.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { eventually, sleep, startInstance, startReceiver, workerOptions, type ServiceInstance } from './helpers.ts'
import { expectStatus } from '../helpers/expect.ts'

async function setup(t: Tap) {
  const database = await createTestDatabase()
  const instances: ServiceInstance[] = []
  t.teardown(async () => {
    for (const i of instances) await i.stop()
    await database.drop()
  })
  const start = async () => {
    const instance = await startInstance(t, database)
    instances.push(instance)
    return instance
  }
  return { database, db: database.handle.db, start }
}
type Tap = { teardown(fn: () => unknown): void }

const createUnit = (svc: ServiceInstance, code: string, parent = ROOT_ORG_UNIT_ID) =>
  svc.injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: { parent_id: parent, code, name: `${code}課` } })

async function register(svc: ServiceInstance, body: Record<string, unknown>) {
  const res = await svc.injectAs({ roles: ['admin'], sub: 'admin-1' }, { method: 'POST', url: '/v1/webhooks', payload: body })
  if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string; secret: string; start_position: number }
}

t.test('admins register webhooks; the secret is shown once; URLs and kinds are checked', async (t) => {
  const { db, start } = await setup(t)
  const svc = await start()

  const created = await svc.injectAs('admin', {
    method: 'POST',
    url: '/v1/webhooks',
    payload: { url: 'http://127.0.0.1:9/hook', kinds: ['org_unit.*', 'case.created'], description: '基幹システム' },
  })
  expectStatus(t, created, 201)
  const hook = created.json()
  t.match(hook, {
    url: 'http://127.0.0.1:9/hook',
    kinds: ['org_unit.*', 'case.created'],
    org_unit_id: null,
    active: true,
    start_position: 0,
    secret: /^whsec_[A-Za-z0-9_-]{43}$/,
  })
  t.equal(created.headers.location, `/v1/webhooks/${hook.id}`)

  const given = 's'.repeat(40)
  t.equal((await register(svc, { url: 'http://127.0.0.1:9/other', kinds: ['*'], secret: given })).secret, given, 'a given secret is echoed once')

  const one = await svc.injectAs('admin', { method: 'GET', url: `/v1/webhooks/${hook.id}` })
  expectStatus(t, one, 200)
  t.notOk('secret' in one.json(), 'never returned after creation')
  const list = (await svc.injectAs('admin', { method: 'GET', url: '/v1/webhooks' })).json()
  t.equal(list.items.length, 2)
  t.notMatch(JSON.stringify(list), /whsec_|ssssssss/, 'not in the list either')

  const rotated = 'r'.repeat(48)
  const patched = await svc.injectAs('admin', {
    method: 'PATCH',
    url: `/v1/webhooks/${hook.id}`,
    payload: { active: false, secret: rotated, kinds: ['case.*'] },
  })
  expectStatus(t, patched, 200)
  t.match(patched.json(), { active: false, kinds: ['case.*'] })
  t.notOk('secret' in patched.json())
  const trail = JSON.stringify(await db.selectFrom('audit_events').select(['details', 'resource_id']).where('resource_type', '=', 'webhook').execute())
  t.notMatch(trail, new RegExp(`${hook.secret}|${given}|${rotated}`), 'secrets never reach the audit trail')
  t.match(trail, /"fields":\["active","kinds","secret"\]/, 'which fields changed is recorded')

  const refuse = async (payload: Record<string, unknown>, pointer: RegExp) => {
    const res = await svc.injectAs('admin', { method: 'POST', url: '/v1/webhooks', payload })
    expectStatus(t, res, 422, JSON.stringify(payload))
    t.match(JSON.stringify(res.json().errors), pointer)
  }
  await refuse({ url: 'https://10.1.2.3/hook', kinds: ['*'] }, /body\/url/)
  await refuse({ url: 'https://169.254.169.254/latest/meta-data', kinds: ['*'] }, /body\/url/)
  await refuse({ url: 'https://[::1]/hook', kinds: ['*'] }, /body\/url/)
  await refuse({ url: 'http://93.184.215.14/hook', kinds: ['*'] }, /public targets need https/)
  await refuse({ url: 'https://user:pw@example.com/hook', kinds: ['*'] }, /credentials/)
  await refuse({ url: 'ftp://example.com/hook', kinds: ['*'] }, /body\/url/)
  await refuse({ url: 'https://example.com/hook', kinds: ['Case.Created'] }, /body\/kinds/)
  await refuse({ url: 'https://example.com/hook', kinds: [] }, /body\/kinds/)
  await refuse({ url: 'https://example.com/hook', kinds: ['*'], secret: 'short' }, /body\/secret/)
  await refuse({ url: 'https://example.com/hook', kinds: ['*'], org_unit_id: '0190f3c4-1111-7000-8000-000000000000' }, /body\/org_unit_id/)
  expectStatus(
    t,
    await svc.injectAs('admin', { method: 'POST', url: '/v1/webhooks', payload: { url: 'https://hooks.example.lg.jp/madoguchi', kinds: ['*'] } }),
    201,
    'public https is fine',
  )
  for (const role of ['auditor', 'integration', 'supervisor'] as const) {
    expectStatus(t, await svc.injectAs(role, { method: 'GET', url: '/v1/webhooks' }), 403, `${role}: 403`)
  }

  expectStatus(t, await svc.injectAs('admin', { method: 'DELETE', url: `/v1/webhooks/${hook.id}` }), 204)
  expectStatus(t, await svc.injectAs('admin', { method: 'GET', url: `/v1/webhooks/${hook.id}` }), 404)
  expectStatus(t, await svc.injectAs('admin', { method: 'DELETE', url: `/v1/webhooks/${hook.id}` }), 404)
})

t.test('without WEBHOOK_PRIVATE_NETWORKS, loopback and private targets are refused, at registration and at delivery', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  for (const url of [
    'http://127.0.0.1:8080/hook',
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'https://192.168.1.10/hook',
    'https://[::ffff:10.0.0.1]/hook',
  ]) {
    const res = await injectAs('admin', { method: 'POST', url: '/v1/webhooks', payload: { url, kinds: ['*'] } })
    expectStatus(t, res, 422, url)
    t.match(res.json().detail, /WEBHOOK_PRIVATE_NETWORKS/)
  }

  // A name is checked on the address it resolves to, when connecting: one that points inside
  // (here: localhost) gets no request, whatever it resolved to at registration.
  const receiver = await startReceiver(t)
  await db
    .insertInto('webhooks')
    .values({
      id: '0190f3c4-2222-7000-8000-000000000000',
      url: `http://localhost:${receiver.port}/hook`,
      kinds: ['*'],
      org_unit_id: null,
      description: '',
      secret: 'x'.repeat(32),
      active: true,
      start_position: 0,
      created_by: 'test',
    })
    .execute()
  await injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'x', name: 'x' } })
  await runWebhookRound(db, workerOptions({ targets: new TargetPolicy([]) }))
  t.equal(receiver.received.length, 0, 'nothing was sent')
  t.match(await db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow(), {
    status: 'pending',
    attempts: 1,
    last_status: null,
    last_error: /not listed in WEBHOOK_PRIVATE_NETWORKS/,
  })
  const publicHttp = new TargetPolicy([])
  // Refusals are messages (in the caller's language); their English is what these check.
  const why = (policy: TargetPolicy, address: string, protocol: string) => {
    const refused = policy.refusal(address, protocol)
    return refused === null ? null : render(refused, 'en')
  }
  t.match(why(publicHttp, '93.184.215.14', 'http:'), /https/, 'public addresses need https')
  t.equal(why(publicHttp, '93.184.215.14', 'https:'), null)
  t.match(why(publicHttp, '169.254.169.254', 'https:'), /private/)
  t.match(why(publicHttp, '::ffff:127.0.0.1', 'https:'), /private/, 'IPv4-mapped addresses are unwrapped')
  t.equal(why(new TargetPolicy(['10.20.0.0/16']), '10.20.3.4', 'http:'), null, 'a listed private network, over http too')
  t.match(why(new TargetPolicy(['10.20.0.0/16']), '10.21.0.1', 'http:'), /private/)
})

t.test('deliveries are signed, carry ids not personal data, and a receiver error is retried with backoff', async (t) => {
  const { db, start } = await setup(t)
  const svc = await start()
  const receiver = await startReceiver(t, (_r, i) => (i === 0 ? 500 : 200))
  const hook = await register(svc, { url: receiver.url, kinds: ['org_unit.created'] })
  const unrelated = await register(svc, { url: receiver.url, kinds: ['case.*'] })

  const unit = (await createUnit(svc, 'fukushi')).json()
  const options = workerOptions()
  t.equal(await runWebhookRound(db, options), 1, 'one attempt')
  t.equal(receiver.received.length, 1)
  const afterFailure = await db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', hook.id).executeTakeFirstOrThrow()
  t.match(afterFailure, { status: 'pending', attempts: 1, last_status: 500, last_error: 'HTTP 500' })
  t.ok(afterFailure.next_attempt_at.getTime() > Date.now(), 'retried later, not at once')
  t.equal(await runWebhookRound(db, options), 0, 'nothing due before the backoff is over')

  await sleep(300)
  t.equal(await runWebhookRound(db, options), 1, 'the retry')
  t.equal(receiver.received.length, 2)
  const [first, second] = receiver.received
  t.equal(first!.headers['madoguchi-delivery'], second!.headers['madoguchi-delivery'], 'the same delivery id on every attempt')
  t.same([first!.headers['madoguchi-attempt'], second!.headers['madoguchi-attempt']], ['1', '2'])
  t.equal(second!.headers['madoguchi-event'], 'org_unit.created')
  t.equal(second!.headers['content-type'], 'application/json')
  t.ok(second!.at - first!.at >= 150, `backoff between attempts (${second!.at - first!.at} ms)`)

  const signature = String(second!.headers['madoguchi-signature'])
  t.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/)
  t.ok(verifyDeliverySignature(hook.secret, second!.body, signature, Math.floor(Date.now() / 1000)), 'the signature verifies with the secret')
  t.notOk(verifyDeliverySignature(hook.secret, second!.body.replace('fukushi', 'fukushO'), signature, Math.floor(Date.now() / 1000)), 'not over another body')
  t.notOk(verifyDeliverySignature(unrelated.secret, second!.body, signature, Math.floor(Date.now() / 1000)), 'not with another secret')
  t.notOk(verifyDeliverySignature(hook.secret, second!.body, signature, Math.floor(Date.now() / 1000) + 600), 'not long after')
  // The README's verification snippet, as a receiver would paste it.
  const { createHmac, timingSafeEqual } = await import('node:crypto')
  const { t: ts, v1 } = Object.fromEntries(signature.split(',').map((part) => part.split('=', 2))) as { t: string; v1: string }
  t.ok(timingSafeEqual(createHmac('sha256', hook.secret).update(`${ts}.${second!.body}`).digest(), Buffer.from(v1, 'hex')))

  const payload = JSON.parse(second!.body)
  t.match(payload, {
    delivery_id: second!.headers['madoguchi-delivery'],
    webhook_id: hook.id,
    change: { position: 1, kind: 'org_unit.created', resource_type: 'org_unit', resource_id: unit.id, data: { code: 'fukushi' } },
  })
  t.notMatch(second!.body, /福祉|fukushi課/, 'ids and kinds, not names')

  const deliveries = (await svc.injectAs('admin', { method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries` })).json()
  t.match(deliveries.items, [{ status: 'delivered', attempts: 2, last_status: 200, last_error: null, change_position: 1, next_attempt_at: null }])
  const detail = (await svc.injectAs('admin', { method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries/${deliveries.items[0].id}` })).json()
  t.match(detail.attempt_log, [
    { attempt: 1, http_status: 500, error: 'HTTP 500' },
    { attempt: 2, http_status: 200, error: null },
  ])
  t.same(
    (await svc.injectAs('admin', { method: 'GET', url: `/v1/webhooks/${unrelated.id}/deliveries` })).json().items,
    [],
    'a webhook gets only the kinds it asked for',
  )
})

t.test('unit-scoped webhooks, and webhooks start at the feed head', async (t) => {
  const { db, start } = await setup(t)
  const svc = await start()
  const receiver = await startReceiver(t)
  const fukushi = (await createUnit(svc, 'fukushi')).json().id as string
  const all = await register(svc, { url: receiver.url, kinds: ['*'] })
  t.equal(all.start_position, 1, 'the change before it is not for it')
  const scoped = await register(svc, { url: receiver.url, kinds: ['org_unit.*'], org_unit_id: fukushi })
  // A name, resolved when connecting and checked on the address it resolved to.
  const byName = await register(svc, { url: `http://localhost:${receiver.port}/by-name`, kinds: ['org_unit.created'] })
  await createUnit(svc, 'fukushi-1', fukushi)
  await createUnit(svc, 'zeimu')
  await runWebhookRound(db, workerOptions())
  const codes = (id: string) =>
    receiver.received
      .filter((r) => JSON.parse(r.body).webhook_id === id)
      .map((r) => JSON.parse(r.body).change.data.code as string)
      .sort()
  t.same(codes(all.id), ['fukushi-1', 'zeimu'])
  t.same(codes(scoped.id), ['fukushi-1'], 'only its unit and below')
  t.same(codes(byName.id), ['fukushi-1', 'zeimu'], 'a host name that resolves to an allowed address is delivered to')
})

t.test('a delivery that keeps failing is dead after the last attempt; timeouts count; an admin can redeliver', async (t) => {
  const { db, start } = await setup(t)
  const svc = await start()
  let mode: 'fail' | 'hang' | 'ok' = 'hang'
  const receiver = await startReceiver(t, () => (mode === 'fail' ? 503 : mode === 'hang' ? null : 204))
  const hook = await register(svc, { url: receiver.url, kinds: ['*'] })
  await createUnit(svc, 'a')
  const options = workerOptions({ maxAttempts: 2, retryBaseMs: 50, retryMaxMs: 50, timeoutMs: 300 })

  await runWebhookRound(db, options)
  const timedOut = await db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow()
  t.match(timedOut, { status: 'pending', attempts: 1, last_status: null, last_error: /timed out/ })
  mode = 'fail'
  await sleep(100)
  await runWebhookRound(db, options)
  const dead = await db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow()
  t.match(dead, { status: 'dead', attempts: 2, last_status: 503 })
  await sleep(100)
  t.equal(await runWebhookRound(db, options), 0, 'dead stays dead')

  mode = 'ok'
  const again = await svc.injectAs('admin', { method: 'POST', url: `/v1/webhooks/${hook.id}/deliveries/${dead.id}/redeliver` })
  expectStatus(t, again, 202)
  t.match(again.json(), { status: 'pending' })
  t.equal(await runWebhookRound(db, options), 1)
  t.match(await db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow(), { status: 'delivered', attempts: 3, last_status: 204 })
  t.equal(receiver.received.length, 3)

  const delays = [1, 2, 3, 4, 10].map((n) => retryDelayMs(n, { retryBaseMs: 1000, retryMaxMs: 6000 }))
  t.ok(delays[0]! >= 800 && delays[0]! <= 1200 && delays[1]! >= 1600 && delays[2]! >= 3200, `exponential (${delays.join(', ')})`)
  t.ok(delays[3]! <= 6000 && delays[4] === 6000, 'capped')
})

t.test('deliveries survive a restart of the service', async (t) => {
  const { start } = await setup(t)
  const first = await start()
  // The receiver is down while the first instance runs.
  const probe = await startReceiver(t)
  await probe.close()
  const hook = await register(first, { url: probe.url, kinds: ['org_unit.created'] })
  const stopJobs = startBackgroundJobs(
    [{ name: 'webhooks', intervalMs: 50, run: () => runWebhookRound(first.handle.db, workerOptions({ retryBaseMs: 300 })) }],
    first.app.log,
  )
  await createUnit(first, 'before-restart')
  t.ok(await eventually(async () => (await first.handle.db.selectFrom('webhook_attempts').select('id').execute()).length >= 1), 'a first attempt failed')
  const failed = await first.handle.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow()
  t.match(failed, { status: 'pending', attempts: 1, last_status: null, last_error: /ECONNREFUSED/ })
  await stopJobs()
  // A change committed after the worker stopped: queued in nothing but the database.
  await createUnit(first, 'while-down')
  await first.stop()

  const receiver = await startReceiver(t, () => 200, probe.port)
  const second = await start()
  const stopSecond = startBackgroundJobs([{ name: 'webhooks', intervalMs: 50, run: () => runWebhookRound(second.handle.db, workerOptions()) }], second.app.log)
  t.teardown(stopSecond)
  t.ok(await eventually(() => receiver.received.length >= 2), 'both delivered by the new instance')
  await stopSecond()
  const codes = receiver.received.map((r) => JSON.parse(r.body).change.data.code).sort()
  t.same(codes, ['before-restart', 'while-down'])
  const rows = await second.handle.db
    .selectFrom('webhook_deliveries')
    .select(['status', 'attempts'])
    .where('webhook_id', '=', hook.id)
    .orderBy('change_position')
    .execute()
  t.same(rows, [
    { status: 'delivered', attempts: 2 },
    { status: 'delivered', attempts: 1 },
  ])
})

t.test('several workers share the queue (SKIP LOCKED) without delivering anything twice or out of order', async (t) => {
  const { db, start } = await setup(t)
  const svc = await start()
  const receiver = await startReceiver(t, () => 200)
  await register(svc, { url: receiver.url, kinds: ['*'] })
  for (let i = 0; i < 40; i++) await createUnit(svc, `u${i}`)
  // Two dispatchers at once: the advisory lock lets one queue each change.
  await Promise.all([dispatchWebhookDeliveries(db, 7), dispatchWebhookDeliveries(db, 7)])
  while ((await dispatchWebhookDeliveries(db, 7)) > 0) {
    // until caught up
  }
  const queued = await db.selectFrom('webhook_deliveries').select('id').execute()
  t.equal(queued.length, 40, 'one delivery per change')

  const options = workerOptions({ batchSize: 3, concurrency: 2 })
  const worker = async () => {
    let attempts = 0
    for (;;) {
      const n = await deliverDueWebhooks(db, options)
      if (n === 0) return attempts
      attempts += n
    }
  }
  const perWorker = await Promise.all([worker(), worker(), worker(), worker()])
  t.comment(`attempts per worker: ${perWorker.join(', ')}`)
  t.equal(
    perWorker.reduce((a, b) => a + b, 0),
    40,
    '40 attempts in all',
  )
  const ids = receiver.received.map((r) => String(r.headers['madoguchi-delivery']))
  t.equal(ids.length, 40)
  t.equal(new Set(ids).size, 40, 'each delivery sent once')
  const positions = receiver.received.map((r) => JSON.parse(r.body).change.position as number)
  t.same(
    positions,
    [...positions].sort((a, b) => a - b),
    'in feed order, though four workers took turns',
  )
  const states = await sql<{ status: string; n: number }>`select status, count(*)::int as n from webhook_deliveries group by status`.execute(db)
  t.same(states.rows, [{ status: 'delivered', n: 40 }])
})

t.test('WEBHOOK_PRIVATE_NETWORKS is validated at start', async (t) => {
  const { loadConfig } = await import('../../src/config.ts')
  t.same(loadConfig({ WEBHOOK_PRIVATE_NETWORKS: '10.20.0.0/16,127.0.0.1,fd00::/8' }).webhooks.privateNetworks, ['10.20.0.0/16', '127.0.0.1', 'fd00::/8'])
  t.same(loadConfig({}).webhooks, {
    intervalMs: 1000,
    timeoutMs: 10000,
    maxAttempts: 12,
    retryBaseMs: 10000,
    retryMaxMs: 3600000,
    parallelPerWebhook: 1,
    privateNetworks: [],
  })
  t.equal(loadConfig({ WEBHOOK_PARALLEL_PER_WEBHOOK: '4' }).webhooks.parallelPerWebhook, 4)
  t.throws(() => loadConfig({ WEBHOOK_PARALLEL_PER_WEBHOOK: '0' }), { name: 'ConfigError', message: /^WEBHOOK_PARALLEL_PER_WEBHOOK: / })
  t.throws(() => loadConfig({ WEBHOOK_PRIVATE_NETWORKS: '10.0.0.0/33' }), { name: 'ConfigError', message: /^WEBHOOK_PRIVATE_NETWORKS: / })
  t.throws(() => loadConfig({ WEBHOOK_PRIVATE_NETWORKS: 'intranet' }), { name: 'ConfigError', message: /^WEBHOOK_PRIVATE_NETWORKS: / })
  t.throws(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '0' }), { name: 'ConfigError', message: /^WEBHOOK_MAX_ATTEMPTS: / })
})
