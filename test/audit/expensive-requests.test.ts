import http from 'node:http'
import { sql } from 'kysely'
import t from 'tap'
import type { Db } from '../../src/kernel/db.ts'
import { startSecondInstance, startTestServer, tokenFor, type Identity } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/database.ts'
import { linkEverything } from './helpers.ts'

/**
 * Exports and verifications of the audit chain are expensive (issue 10 item 9): one subject runs
 * at most EXPENSIVE_REQUESTS_PER_SUBJECT (2) at once, across instances; one more is 429 with
 * Retry-After; the slot is free again once a stream has ended or its client has gone; and the rest
 * of the API answers while an export streams. Through a real port: a client that stops reading
 * keeps the export's stream open (it is pulled a few chunks at a time), as a slow auditor would.
 */

// Entries large enough that an export (~10 MB) cannot sit whole in the socket buffers and the
// stream's own: a client that stops reading holds it open. Written with an old transaction id, so
// that the linker need not wait for other test databases' transactions on the same server.
const ENTRIES = 2500
async function seedLargeEntries(db: Db): Promise<void> {
  await sql`
    insert into audit_events (txid, subject, roles, action, route, outcome, status, request_id, details)
    select '3'::xid8, 'staff-1', array['staff'], 'getCase', 'GET /v1/cases/:id', 'allowed', 200, 'seed-' || g,
           jsonb_build_object('padding', repeat('x', 4000), 'n', g)
      from generate_series(1, ${ENTRIES}::int) as g`.execute(db)
  await linkEverything(db)
}

interface OpenAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  /** The body so far (all of it when the answer was not a 200 stream). */
  text(): string
  /** Whether the whole body has arrived. */
  ended(): boolean
  /** Reads the rest of the body. */
  readRest(): Promise<string>
  /** The client goes away mid-stream. */
  abort(): void
}

/** A GET whose 200 body is read up to its first chunk, then left unread until asked. */
function openRequest(baseUrl: string, path: string, token: string): Promise<OpenAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}${path}`, { agent: false, headers: { authorization: `Bearer ${token}`, 'accept-language': 'ja' } }, (res) => {
      const chunks: Buffer[] = []
      let complete = false
      const ended = new Promise<void>((done, fail) => {
        res.once('end', () => {
          complete = true
          done()
        })
        res.once('error', fail)
      })
      ended.catch(() => {})
      const answer: OpenAnswer = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => Buffer.concat(chunks).toString('utf8'),
        ended: () => complete,
        readRest: async () => {
          res.resume()
          await ended
          return answer.text()
        },
        abort: () => req.destroy(),
      }
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      if (res.statusCode !== 200) {
        void ended.then(() => resolve(answer), reject)
        return
      }
      res.once('data', () => {
        res.pause()
        resolve(answer)
      })
    })
    req.on('error', reject)
  })
}

/** Asks until the answer is not 429 (a slot is freed once the server has seen the stream close), at most ~5 s. */
async function untilNotBusy(ask: () => Promise<OpenAnswer>): Promise<OpenAnswer> {
  for (let i = 0; ; i++) {
    const answer = await ask()
    if (answer.status !== 429 || i >= 100) return answer
    await new Promise((r) => setTimeout(r, 50))
  }
}

const auditor = (sub: string): Identity => ({ roles: ['auditor'], sub })

// One service and one seeded chain for the tests of one process (starting one takes seconds).
const server = await startTestServer(t)
await seedLargeEntries(server.db)

t.test('a third export or verification by one subject is 429 with Retry-After while two stream; others are not limited', async (t) => {
  const alice = await tokenFor(auditor('auditor-alice'))
  const bob = await tokenFor(auditor('auditor-bob'))
  const open = (path: string, token = alice) => openRequest(server.baseUrl, path, token)

  const first = await open('/v1/audit-events/export')
  const second = await open('/v1/audit-events/export')
  t.equal(first.status, 200)
  t.equal(second.status, 200)
  t.notOk(first.ended() || second.ended(), 'both stream, neither has ended')

  for (const path of ['/v1/audit-events/export', '/v1/audit-events/verify']) {
    const third = await open(path)
    t.equal(third.status, 429, `${path}: the third is refused`)
    t.match(third.headers['content-type'], /problem\+json/)
    t.match(third.headers['retry-after'], /^[1-9]\d*$/)
    const problem = JSON.parse(third.text()) as { code: string; detail: string }
    t.equal(problem.code, 'too-many-requests')
    t.match(problem.detail, /2件実行中/, 'the detail in the caller’s language, naming the limit')
  }

  const other = await open('/v1/audit-events/verify?to=10', bob)
  t.equal(other.status, 200, 'another subject is not limited')
  t.equal((JSON.parse(await other.readRest()) as { checked: number }).checked, 10)

  // A client that goes away mid-stream frees its slot.
  second.abort()
  const afterAbort = await untilNotBusy(() => open('/v1/audit-events/verify?to=10'))
  t.equal(afterAbort.status, 200, 'the slot of an aborted stream is free again')
  await afterAbort.readRest()

  // A stream that ends frees its slot: after a short export is read to its end, a long one may
  // start, and beside it and the first no other.
  const short = await untilNotBusy(() => open('/v1/audit-events/export?to=20'))
  t.equal(short.status, 200)
  t.equal((await short.readRest()).split('\n').filter(Boolean).length, 20)
  const long = await untilNotBusy(() => open('/v1/audit-events/export'))
  t.equal(long.status, 200, 'the slot of an ended stream is free again')
  t.equal((await open('/v1/audit-events/verify?to=10')).status, 429, 'two stream again')
  first.abort()
  long.abort()

  // The refusals are in the audit trail like any refused request.
  const refused = await server.db
    .selectFrom('audit_events')
    .select(['action', 'status', 'outcome'])
    .where('subject', '=', 'auditor-alice')
    .where('status', '=', 429)
    .execute()
  t.ok(refused.length >= 3, `${refused.length} refusals audited`)
  t.ok(
    refused.every((r) => r.outcome === 'failed'),
    'audited as failed',
  )
})

t.test('while an export streams, the rest of the API answers', async (t) => {
  const alice = await tokenFor(auditor('auditor-carol'))
  const exporting = await openRequest(server.baseUrl, '/v1/audit-events/export', alice)
  t.equal(exporting.status, 200)
  const lastSeq = Number(exporting.headers['madoguchi-chain-to'])

  // The export is under way (its first chunk arrived, the rest has not): other callers are served.
  const staff = await server.client({ roles: ['staff'], sub: 'staff-busy' })
  const me = await staff.GET('/v1/me')
  t.equal(me.response.status, 200)
  t.equal(me.data?.subject, 'staff-busy')
  const trail = await openRequest(server.baseUrl, '/v1/audit-events?limit=5', await tokenFor(auditor('auditor-bob')))
  t.equal(trail.status, 200)
  t.equal((JSON.parse(await trail.readRest()) as { items: unknown[] }).items.length, 5)
  t.notOk(exporting.ended(), 'they were answered while the export was under way')

  // Then the export goes on to its end, complete and in chain order.
  const lines = (await exporting.readRest()).split('\n').filter(Boolean)
  const seqs = lines.map((line) => (JSON.parse(line) as { seq: number }).seq)
  t.equal(seqs.length, lastSeq, 'every entry of the range')
  t.ok(
    seqs.every((seq, i) => seq === i + 1),
    'in chain order, without gaps',
  )
})

t.test('the limit holds across instances on one PostgreSQL', { skip: !testDatabaseUrl && 'the embedded database serves one process' }, async (t) => {
  const first = server
  const second = await startSecondInstance(t, first)
  const alice = await tokenFor(auditor('auditor-dave'))
  const one = await openRequest(first.baseUrl, '/v1/audit-events/export', alice)
  const two = await openRequest(second.baseUrl, '/v1/audit-events/export', alice)
  t.equal(one.status, 200)
  t.equal(two.status, 200)
  t.equal((await openRequest(first.baseUrl, '/v1/audit-events/verify', alice)).status, 429, 'on the first instance')
  t.equal((await openRequest(second.baseUrl, '/v1/audit-events/verify', alice)).status, 429, 'on the second instance')
  two.abort()
  const freed = await untilNotBusy(() => openRequest(first.baseUrl, '/v1/audit-events/verify', alice))
  t.equal(freed.status, 200, "the other instance's slot is free once its client went away")
  await freed.readRest()
  one.abort()
})
