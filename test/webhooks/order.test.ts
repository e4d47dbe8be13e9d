import t from 'tap'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { runWebhookRound } from '../../src/webhooks/worker.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { sleep, startInstance, startReceiver, workerOptions, type Received, type ServiceInstance } from './helpers.ts'

/**
 * Order of deliveries: each webhook gets its deliveries one at a time in feed order (a failed
 * one holds back the later ones until it is delivered), several webhooks are served at once, and
 * WEBHOOK_PARALLEL_PER_WEBHOOK lets a webhook have several in flight (then unordered).
 */

type Tap = { teardown(fn: () => unknown): void }

async function setup(t: Tap) {
  const database = await createTestDatabase()
  t.teardown(() => database.drop())
  const svc = await startInstance(t, database)
  return { db: database.handle.db, svc }
}

async function register(svc: ServiceInstance, url: string): Promise<string> {
  const res = await svc.injectAs('admin', { method: 'POST', url: '/v1/webhooks', payload: { url, kinds: ['*'] } })
  if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`)
  return res.json().id
}

async function createUnits(svc: ServiceInstance, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await svc.injectAs('admin', {
      method: 'POST',
      url: '/v1/org-units',
      payload: { parent_id: ROOT_ORG_UNIT_ID, code: `${prefix}${i}`, name: `${prefix}${i}課` },
    })
    if (res.statusCode !== 201) throw new Error(`org unit: ${res.statusCode} ${res.body}`)
  }
}

/** Counts what each webhook has in flight at the receiver, and the most ever at once. */
function inFlightMeter() {
  const now = new Map<string, number>()
  const most = new Map<string, number>()
  let total = 0
  let mostTotal = 0
  return {
    arrive(hook: string) {
      now.set(hook, (now.get(hook) ?? 0) + 1)
      most.set(hook, Math.max(most.get(hook) ?? 0, now.get(hook)!))
      mostTotal = Math.max(mostTotal, ++total)
    },
    leave(hook: string) {
      now.set(hook, now.get(hook)! - 1)
      total--
    },
    most: (hook: string) => most.get(hook) ?? 0,
    mostTotal: () => mostTotal,
  }
}

const positionsOf = (received: Received[], hook: string) =>
  received
    .map((r) => JSON.parse(r.body) as { webhook_id: string; change: { position: number } })
    .filter((p) => p.webhook_id === hook)
    .map((p) => p.change.position)

async function deliverAll(db: Parameters<typeof runWebhookRound>[0], options: Parameters<typeof runWebhookRound>[1], done: () => boolean) {
  for (let round = 0; round < 200 && !done(); round++) {
    if ((await runWebhookRound(db, options)) === 0) await sleep(50)
  }
}

t.test('50 deliveries of a webhook arrive one at a time in feed order, while two webhooks are served at once', async (t) => {
  const { db, svc } = await setup(t)
  const meter = inFlightMeter()
  // Answers take 0–15 ms at random: anything sent in parallel to one webhook would overtake.
  const receiver = await startReceiver(t, async (request) => {
    const hook = JSON.parse(request.body).webhook_id as string
    meter.arrive(hook)
    await sleep(Math.random() * 15)
    meter.leave(hook)
    return 200
  })
  const first = await register(svc, receiver.url)
  const second = await register(svc, `${receiver.url}?second`)
  await createUnits(svc, 50, 'order')

  await deliverAll(db, workerOptions(), () => receiver.received.length >= 100)
  for (const hook of [first, second]) {
    const positions = positionsOf(receiver.received, hook)
    t.same(
      positions,
      Array.from({ length: 50 }, (_, i) => i + 1),
      'every position once, in feed order',
    )
    t.equal(meter.most(hook), 1, 'never two of one webhook in flight at once')
  }
  t.equal(meter.mostTotal(), 2, 'the two webhooks were served at the same time')
  const states = await db.selectFrom('webhook_deliveries').select(['status', 'attempts']).distinct().execute()
  t.same(states, [{ status: 'delivered', attempts: 1 }], 'all delivered at the first attempt')
})

t.test('a failing delivery holds back the later ones of its webhook until its retry succeeds; other webhooks go on', async (t) => {
  const { db, svc } = await setup(t)
  let failures = 0
  // The first webhook's first delivery fails once.
  const receiver = await startReceiver(t, (request) => {
    const { webhook_id, change } = JSON.parse(request.body) as { webhook_id: string; change: { position: number } }
    return webhook_id === failing && change.position === 1 && failures++ === 0 ? 503 : 200
  })
  const failing = await register(svc, receiver.url)
  const healthy = await register(svc, `${receiver.url}?healthy`)
  await createUnits(svc, 3, 'hold')

  const options = workerOptions({ retryBaseMs: 300, retryMaxMs: 300 })
  await deliverAll(db, options, () => receiver.received.length >= 7)
  const arrivals = receiver.received.map((r) => JSON.parse(r.body) as { webhook_id: string; change: { position: number } })
  t.same(positionsOf(receiver.received, failing), [1, 1, 2, 3], 'the failed one is retried before the next is sent')
  t.same(positionsOf(receiver.received, healthy), [1, 2, 3])
  const retry = arrivals.findIndex((a, i) => i > 0 && a.webhook_id === failing && a.change.position === 1)
  t.ok(arrivals.slice(0, retry).filter((a) => a.webhook_id === healthy).length === 3, 'the healthy webhook did not wait for the failing one')
  const log = await db
    .selectFrom('webhook_deliveries')
    .select(['change_position', 'status', 'attempts'])
    .where('webhook_id', '=', failing)
    .orderBy('change_position')
    .execute()
  t.same(log, [
    { change_position: 1, status: 'delivered', attempts: 2 },
    { change_position: 2, status: 'delivered', attempts: 1 },
    { change_position: 3, status: 'delivered', attempts: 1 },
  ])
})

t.test('WEBHOOK_PARALLEL_PER_WEBHOOK lets a webhook have several deliveries in flight', async (t) => {
  const { db, svc } = await setup(t)
  const meter = inFlightMeter()
  const receiver = await startReceiver(t, async (request) => {
    const hook = JSON.parse(request.body).webhook_id as string
    meter.arrive(hook)
    await sleep(100)
    meter.leave(hook)
    return 200
  })
  const hook = await register(svc, receiver.url)
  await createUnits(svc, 12, 'parallel')

  await deliverAll(db, workerOptions({ parallelPerWebhook: 4 }), () => receiver.received.length >= 12)
  t.same(
    positionsOf(receiver.received, hook).sort((a, b) => a - b),
    Array.from({ length: 12 }, (_, i) => i + 1),
    'each once',
  )
  t.ok(meter.most(hook) > 1 && meter.most(hook) <= 4, `several at once, at most 4 (${meter.most(hook)})`)
})
