import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/database.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'

t.test('security headers on every response; no stack traces or SQL in errors', async (t) => {
  const { app, injectAs } = await buildTestApp(t)
  for (const res of [await injectAs('staff', { method: 'GET', url: '/v1/me' }), await app.inject({ method: 'GET', url: '/v1/cases/x' })]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.match(res.headers['content-security-policy'], /default-src 'none'/)
    t.match(res.headers['strict-transport-security'], /max-age=/)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
  }
  const docs = await app.inject({ method: 'GET', url: '/docs/' })
  t.notMatch(String(docs.headers['content-security-policy'] ?? ''), /default-src 'none'/, 'the docs page keeps its own policy')
  const bad = await injectAs('supervisor', { method: 'GET', url: '/v1/cases?q=%27%3B%20drop%20table%20cases%3B--&occurred_from=9999-99-99' })
  expectStatus(t, bad, 400)
  t.notMatch(bad.body, /select |insert |at \/|node_modules|\.ts:\d+/i)
})

t.test('CORS is closed by default and open only to configured origins', async (t) => {
  const closed = await buildTestApp(t)
  const preflight = { method: 'OPTIONS' as const, url: '/v1/cases', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } }
  const refused = await closed.app.inject(preflight)
  t.equal(refused.headers['access-control-allow-origin'], undefined)

  const open = await buildTestApp(t, { config: { corsOrigins: ['https://madoguchi.city.example.lg.jp'] } })
  const allowed = await open.app.inject({
    ...preflight,
    headers: { ...preflight.headers, origin: 'https://madoguchi.city.example.lg.jp', 'access-control-request-headers': 'authorization,if-match' },
  })
  expectStatus(t, allowed, 204)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://madoguchi.city.example.lg.jp')
  t.match(allowed.headers['access-control-allow-headers'], /if-match/)
  const other = await open.app.inject(preflight)
  t.equal(other.headers['access-control-allow-origin'], undefined, 'other origins stay out')
})

t.test('per-subject rate limits answer 429 problem+json with Retry-After', async (t) => {
  const { app, injectAs } = await buildTestApp(t, { config: { rateLimitPerMinute: 3 } })
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await injectAs({ roles: ['staff'], sub: 'busy' }, { method: 'GET', url: '/v1/me' })).statusCode)
  t.same(statuses, [200, 200, 200, 429, 429])
  const limited = await injectAs({ roles: ['staff'], sub: 'busy' }, { method: 'GET', url: '/v1/me' })
  t.match(limited.headers['content-type'], /problem\+json/)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.equal(limited.json().code, 'too-many-requests')
  expectStatus(t, await injectAs({ roles: ['staff'], sub: 'calm' }, { method: 'GET', url: '/v1/me' }), 200, 'another subject is not limited')
  expectStatus(t, await app.inject({ method: 'GET', url: '/healthz' }), 200, 'probes are not limited')
})

t.test(
  'overload: requests are shed with 503 instead of queueing without bound',
  { skip: !testDatabaseUrl && 'the embedded database has no connection queue' },
  async (t) => {
    const { app, injectAs } = await buildTestApp(t, { config: { overload: { maxEventLoopDelayMs: 200, maxWaitingQueries: 2 } } })
    // Stick the event loop, as CPU overload does, until the service measures the lag; requests
    // that arrive then are shed.
    const underPressure = () => (app as unknown as { isUnderPressure(): boolean }).isUnderPressure()
    const during: number[] = []
    let shed: Awaited<ReturnType<typeof injectAs>> | undefined
    let liveness = 0
    for (let i = 0; i < 20 && !shed; i++) {
      const until = Date.now() + 400
      while (Date.now() < until) {
        // busy
      }
      await new Promise((r) => setImmediate(r)) // the sampler runs first
      if (!underPressure()) continue
      liveness = (await app.inject({ method: 'GET', url: '/healthz' })).statusCode
      const res = await injectAs('staff', { method: 'GET', url: '/v1/me' })
      during.push(res.statusCode)
      if (res.statusCode === 503) shed = res
    }
    t.ok(during.includes(503), `some requests were shed (${during.join(' ')})`)
    expectEvery(t, during, (s) => s === 200 || s === 503, 'nothing else')
    t.equal(liveness, 200, 'liveness is never shed')
    if (shed) {
      t.equal(shed.json().code, 'service-unavailable')
      t.match(shed.headers['retry-after'], /^\d+$/)
    }
    let recovered = 0
    for (let i = 0; i < 30 && recovered !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200))
      recovered = (await injectAs('staff', { method: 'GET', url: '/v1/me' })).statusCode
    }
    t.equal(recovered, 200, 'recovers when the pressure is gone')

    // Many concurrent requests on a pool of 10 with at most 2 waiting: some are shed, none fail.
    const results = await Promise.all(Array.from({ length: 200 }, () => injectAs('desk', { method: 'GET', url: '/v1/cases' })))
    const statuses = new Set(results.map((r) => r.statusCode))
    expectEvery(t, [...statuses], (s) => s === 200 || s === 503, `only 200 and 503 (${[...statuses].join(', ')})`)
  },
)

t.test(
  'a stall shorter than OVERLOAD_MAX_EVENT_LOOP_DELAY_MS sheds nothing (issue 10 item 9)',
  { skip: !testDatabaseUrl && 'the embedded database does not shed on event-loop delay' },
  async (t) => {
    // Stalls of 300 ms, as a long slice of work or a busy machine's scheduler makes them, with a
    // limit of 1 s: under-pressure's own measure counted a window without a turn of the loop as an
    // infinite delay and shed every request after such a stall.
    const { injectAs } = await buildTestApp(t, { config: { overload: { maxEventLoopDelayMs: 1000, maxWaitingQueries: 200 } } })
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) {
      const until = Date.now() + 300
      while (Date.now() < until) {
        // busy
      }
      await new Promise((r) => setTimeout(r, 0)) // the health check runs first when it is due
      statuses.push((await injectAs('staff', { method: 'GET', url: '/v1/me' })).statusCode)
    }
    // The first check after building the service (which holds the loop for long) may rightly shed.
    expectEvery(t, statuses.slice(1), (s) => s === 200, `every request after the first answered (${statuses.join(' ')})`)
  },
)
