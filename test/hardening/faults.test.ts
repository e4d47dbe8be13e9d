import net from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { createTokenVerifier } from '../../src/kernel/auth.ts'
import { connectPostgres } from '../../src/kernel/db.ts'
import { testAuth, tokenFor } from '../helpers/app.ts'
import { createTestDatabase, testDatabaseUrl } from '../helpers/database.ts'
import { expectEvery, expectSome, expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

/**
 * PostgreSQL going away while requests are in flight. The service reaches the database through
 * a TCP proxy that the test cuts (every connection dropped, new ones refused) and restores, as
 * a stopped or unreachable server looks to the service.
 */
class CuttableProxy {
  private server: net.Server | null = null
  private readonly sockets = new Set<net.Socket>()
  port = 0

  private readonly target: { host: string; port: number }
  constructor(target: { host: string; port: number }) {
    this.target = target
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => s.destroy())
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }

  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = null
  }
}

t.test(
  'database down: 503 with Retry-After, /readyz fails, no partial writes; back up: recovery',
  { skip: !testDatabaseUrl && 'needs TEST_DATABASE_URL' },
  async (t) => {
    const database = await createTestDatabase()
    const url = new URL(database.url!)
    const proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) })
    await proxy.start()
    const viaProxy = new URL(database.url!)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    const handle = connectPostgres(viaProxy.toString(), 5)
    const app = await buildApp({
      config: { logLevel: 'silent', logPretty: false, trustProxy: false },
      database: handle,
      verifyToken: await createTokenVerifier(testAuth),
    })
    t.teardown(async () => {
      await app.close()
      await handle.close().catch(() => {})
      await proxy.cut()
      await database.drop()
    })
    const token = await tokenFor({ roles: ['supervisor'], sub: 'sup-fault' })
    const create = (n: number) =>
      app.inject({
        method: 'POST',
        url: '/v1/cases',
        headers: { authorization: `Bearer ${token}` },
        payload: caseBody({ occurred_at: new Date().toISOString(), categories: ['other'], severity: 'low', summary: `fault ${n}` }),
      })

    // Writes acknowledged before the fault.
    const acknowledged: string[] = []
    for (let i = 0; i < 5; i++) acknowledged.push((await create(i)).json().id)

    // Requests in flight when the database goes away, and requests after.
    const inFlight = Array.from({ length: 20 }, (_, i) => create(100 + i))
    await new Promise((r) => setTimeout(r, 5))
    await proxy.cut()
    const during = await Promise.all([...inFlight, create(200), create(201)])
    for (const res of during) {
      t.ok(res.statusCode === 201 || res.statusCode === 503, `201 or 503, never a 500 (got ${res.statusCode})`)
      if (res.statusCode === 503) {
        t.match(res.headers['content-type'], /problem\+json/)
        t.match(res.headers['retry-after'], /^\d+$/)
      } else acknowledged.push(res.json().id)
    }
    expectSome(t, during, (r) => r.statusCode === 503, 'requests after the cut are refused with 503')
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    expectStatus(t, ready, 503)
    expectStatus(t, await app.inject({ method: 'GET', url: '/healthz' }), 200, 'the process itself is alive')

    // The database comes back on the same address: the service recovers without a restart.
    await proxy.start()
    let recovered = false
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200
      if (!recovered) await new Promise((r) => setTimeout(r, 100))
    }
    t.ok(recovered, '/readyz answers again')
    const after = await create(300)
    expectStatus(t, after, 201, 'writes work again')

    // Every acknowledged write is there; nothing refused was half written.
    const rows = await database.handle.db.selectFrom('cases').select(['id', 'summary']).execute()
    const ids = new Set(rows.map((r) => r.id))
    expectEvery(t, acknowledged, (id) => ids.has(id), `all ${acknowledged.length} acknowledged writes survived`)
    // A commit whose reply was lost with the connection may exist without having been
    // acknowledged; what must never exist is half of a request: every case has its responder
    // and its audit entry, and nothing hangs without its case.
    const db = database.handle.db
    const withoutResponder = await db
      .selectFrom('cases')
      .select('id')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('case_responders').select('case_id').whereRef('case_responders.case_id', '=', 'cases.id'))))
      .execute()
    t.same(withoutResponder, [], 'no case without its responder row')
    const audited = await db.selectFrom('audit_events').select('resource_id').where('action', '=', 'createCase').where('outcome', '=', 'allowed').execute()
    const auditedIds = new Set(audited.map((r) => r.resource_id))
    expectEvery(t, rows, (r) => auditedIds.has(r.id), 'every case that exists has its audit entry')
    const orphans = await db
      .selectFrom('case_responders')
      .select('case_id')
      .where('case_id', 'not in', [...ids])
      .execute()
    t.same(orphans, [], 'no responder rows without their case')
    const refused = during.filter((r) => r.statusCode === 503).length
    t.ok(rows.length <= acknowledged.length + 1 + refused, 'no more cases than requests')
  },
)
