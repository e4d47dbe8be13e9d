import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMadoguchiClient, MadoguchiProblem, type ProblemOf, type Schema } from '@madoguchi/sdk'
import t from 'tap'
import { startTestServer, tokenFor, type Identity } from '../helpers/app.ts'
import { validRecording } from '../helpers/fixtures.ts'
import { expectStatus } from '../helpers/expect.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * The SDK package against the service on a real port: what it adds to openapi-fetch (tokens per
 * request, Idempotency-Key, If-Match from the last read, cursor pages, typed problems), and its
 * retries against a stand-in server that answers 429 and 503 on cue.
 */
const newCase = (summary: string): Schema<'CreateCase'> => ({
  channel: 'counter',
  occurred_at: new Date(Date.now() - 30 * 60_000).toISOString(),
  categories: ['verbal_abuse'],
  severity: 'medium',
  summary,
})

/** The requests a client sent, as the network saw them. */
function recordingFetch() {
  const sent: Request[] = []
  return {
    sent,
    fetch: (request: Request) => {
      sent.push(request.clone())
      return fetch(request)
    },
  }
}

t.test('against the service', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const unit = await server.orgUnit('sdk-ka')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-sdk', name: '山田 太郎' }
  const supervisor: Identity = { roles: ['supervisor'], unit, sub: 'sup-sdk', name: '鈴木 一郎' }

  t.test('the token provider is called before every request, and may be async', async (t) => {
    let calls = 0
    const api = createMadoguchiClient({
      baseUrl: server.baseUrl,
      token: async () => {
        calls += 1
        return tokenFor(staff)
      },
    })
    t.equal((await api.GET('/v1/me')).data?.subject, 'staff-sdk')
    t.equal((await api.GET('/v1/me')).data?.subject, 'staff-sdk')
    t.equal(calls, 2)
    const fixed = createMadoguchiClient({ baseUrl: server.baseUrl, token: await tokenFor(supervisor) })
    t.equal((await fixed.GET('/v1/me')).data?.subject, 'sup-sdk', 'or a plain string')
    const anonymous = createMadoguchiClient({ baseUrl: server.baseUrl })
    const refused = await anonymous.GET('/v1/me')
    t.equal(refused.error?.status, 401)
    t.equal(refused.error?.code, 'unauthorized')
  })

  t.test('an Idempotency-Key goes with the operations whose contract accepts one', async (t) => {
    const wire = recordingFetch()
    const api = await server.client(staff, { fetch: wire.fetch })
    const body = newCase('Idempotency-Key')
    const created = await api.POST('/v1/cases', { body })
    expectStatus(t, created, 201)
    const key = wire.sent[0]!.headers.get('idempotency-key')
    t.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a random UUID')

    // The service knows the key: the same request with it answers the first response again.
    const replay = await api.POST('/v1/cases', { body, headers: { 'idempotency-key': key! } })
    t.equal(replay.response.headers.get('idempotent-replayed'), 'true')
    t.equal(replay.data?.id, created.data?.id, 'the same case, not a second one')

    await api.POST('/v1/cases/{id}/events', {
      params: { path: { id: created.data!.id } },
      body: { type: 'note', occurred_at: new Date().toISOString(), description: 'メモ' },
    })
    t.ok(wire.sent.at(-1)!.headers.get('idempotency-key'), 'appending an event has one')
    t.not(wire.sent.at(-1)!.headers.get('idempotency-key'), key, 'a new key for a new request')

    await api.POST('/v1/cases/{id}/transitions', { params: { path: { id: created.data!.id } }, body: { to: 'escalated', reason: '引継ぎ' } })
    t.equal(wire.sent.at(-1)!.headers.get('idempotency-key'), null, 'a transition declares none, so none is sent')

    const off = await server.client(staff, { fetch: wire.fetch, idempotencyKeys: false })
    await off.POST('/v1/cases', { body: newCase('no key') })
    t.equal(wire.sent.at(-1)!.headers.get('idempotency-key'), null, 'switched off')
  })

  t.test('If-Match comes from the ETag of the last read of the record', async (t) => {
    const wire = recordingFetch()
    const api = await server.client(staff, { fetch: wire.fetch })
    const other = await server.client(supervisor)
    const { data: kase } = await api.POST('/v1/cases', { body: newCase('If-Match') })
    const id = kase!.id

    const unread = await (await server.client(staff)).PATCH('/v1/cases/{id}', { params: { path: { id } }, body: { summary: 'x' } })
    t.equal(unread.error?.status, 428, 'a client that never read the case sends none: 428')

    const read = await api.GET('/v1/cases/{id}', { params: { path: { id } } })
    const patched = await api.PATCH('/v1/cases/{id}', { params: { path: { id } }, body: { summary: '読んだ版に対する変更' } })
    expectStatus(t, patched, 200)
    t.equal(wire.sent.at(-1)!.headers.get('if-match'), read.response.headers.get('etag'), 'the ETag of the read')
    const again = await api.PATCH('/v1/cases/{id}', { params: { path: { id } }, body: { severity: 'high' } })
    expectStatus(t, again, 200, "a change's own answer carries the next ETag")

    await other.GET('/v1/cases/{id}', { params: { path: { id } } })
    await other.PATCH('/v1/cases/{id}', { params: { path: { id } }, body: { summary: '別の職員が変更' } })
    const stale = await api.PATCH('/v1/cases/{id}', { params: { path: { id } }, body: { summary: '古い版に対する変更' } })
    t.equal(stale.error?.status, 412, 'changed by someone else since: 412')
    if (stale.error?.status === 412) t.equal(stale.error.code, 'precondition-failed', 'the problem is narrowed by its status')

    // A recording is classified against the ETag of its registration (201 with Location) or its last read.
    const manager = await server.client({ roles: ['records_manager'], sub: 'rm-sdk' }, { fetch: wire.fetch })
    const registered = await manager.POST('/v1/recordings', { body: validRecording({ case_id: id }) })
    const classified = await manager.PUT('/v1/recordings/{id}/classification', {
      params: { path: { id: registered.data!.id } },
      body: { administrative_document: true, personal_information: true, record_category: 'case_recording', reason: '事案の録音' },
    })
    expectStatus(t, classified, 200)
    t.equal(wire.sent.at(-1)!.headers.get('if-match'), registered.response.headers.get('etag'), 'the registration gave the ETag')
  })

  t.test('pages() follows next_cursor to the end', async (t) => {
    const api = await server.client(supervisor)
    const mine = new Set<string>()
    for (let i = 0; i < 5; i++) mine.add((await api.POST('/v1/cases', { body: newCase(`page ${i}`) })).data!.id)
    const seen: string[] = []
    let pages = 0
    for await (const page of api.pages('/v1/cases', { params: { query: { limit: 2 } } })) {
      pages += 1
      seen.push(...page.items.map((c) => c.id))
    }
    t.ok(pages >= 3, `${pages} pages of two`)
    t.equal(new Set(seen).size, seen.length, 'no case twice')
    t.ok(
      [...mine].every((id) => seen.includes(id)),
      'every case once',
    )

    const broken = api.pages('/v1/cases', { params: { query: { cursor: 'not-a-cursor' } } })
    const error = await broken.next().then(
      () => null,
      (e: unknown) => e,
    )
    t.type(error, MadoguchiProblem, 'a page that fails throws the problem')
    t.match((error as MadoguchiProblem).problem, { status: 400, code: 'bad-request' })
  })

  t.test('problems are typed per status', async (t) => {
    const api = await server.client(staff)
    const res = await api.GET('/v1/cases/{id}', { params: { path: { id: '0190f3c4-1111-7000-8000-000000000000' } } })
    expectStatus(t, res, 404)
    if (res.error) {
      // @ts-expect-error: a problem never has a success status
      t.not(res.error.status === 200, true)
      t.equal(res.error.code, 'not-found')
    } else t.fail('a problem')
  })
})

t.test('problem types follow the contract: per-status responses and code enums narrow by themselves', { skip: databaseIndependent }, async (t) => {
  // An operation as the contract will declare it once errors are listed per status, with codes.
  type Body<Code extends string> = { content: { 'application/problem+json': { type: string; title: string; status: number; code: Code } } }
  type Declared = {
    responses: {
      200: { content: { 'application/json': { id: string } } }
      404: Body<'not-found'>
      409: Body<'conflict' | 'version-conflict'>
      '4XX': Body<string>
    }
  }
  const problems: Array<ProblemOf<Declared>> = [
    { type: 'urn:madoguchi:problem:conflict', title: 'Conflict', status: 409, code: 'version-conflict' },
    { type: 'urn:madoguchi:problem:bad-request', title: 'Bad request', status: 400, code: 'bad-request' },
  ]
  for (const problem of problems) {
    if (problem.status === 409) {
      const code: 'conflict' | 'version-conflict' = problem.code // narrowed to the 409 response's codes
      t.equal(code, 'version-conflict')
    } else if (problem.status === 404) {
      const code: 'not-found' = problem.code
      t.fail(code)
    } else {
      // @ts-expect-error: what the 4XX range stands for excludes the statuses declared one by one
      const never: 404 | 409 = problem.status
      t.equal(never, 400)
    }
  }
  // @ts-expect-error: a 409 with a code its response does not list is not a problem of this operation
  const wrong: ProblemOf<Declared> = { type: 'x', title: 'x', status: 409, code: 'not-found' }
  t.ok(wrong)
})

t.test('a 429 beyond the longest wait is answered at once, typed', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t, { config: { rateLimitPerMinute: 2 } })
  const api = await server.client('auditor')
  await api.GET('/v1/me')
  await api.GET('/v1/me')
  const started = Date.now()
  const limited = await api.GET('/v1/me')
  t.equal(limited.error?.status, 429)
  t.equal(limited.error?.code, 'too-many-requests')
  t.ok(Date.now() - started < 5000, 'no minute-long wait inside the client')
})

/** A stand-in for the service that answers each request with the next status in `script`. */
async function standIn(t: { teardown(fn: () => unknown): void }, script: Array<{ status: number; retryAfter?: string }>) {
  const seen: Array<{ method: string; url: string; idempotencyKey: string | undefined; authorization: string | undefined; at: number }> = []
  const server = http.createServer((req, res) => {
    seen.push({
      method: req.method!,
      url: req.url!,
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      authorization: req.headers.authorization,
      at: Date.now(),
    })
    req.resume()
    const step = script[Math.min(seen.length - 1, script.length - 1)]!
    const headers: Record<string, string> = { 'content-type': step.status < 400 ? 'application/json' : 'application/problem+json' }
    if (step.retryAfter) headers['retry-after'] = step.retryAfter
    res.writeHead(step.status, headers)
    res.end(
      JSON.stringify(
        step.status < 400
          ? { id: 'c1', items: [], next_cursor: null }
          : { type: 'urn:madoguchi:problem:x', title: 'x', status: step.status, code: step.status === 429 ? 'too-many-requests' : 'service-unavailable' },
      ),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { seen, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

t.test('retries: 429 and 503 with Retry-After, only for requests safe to repeat', { skip: databaseIndependent }, async (t) => {
  let tokens = 0
  const token = () => `token-${++tokens}`

  t.test('a POST with an Idempotency-Key is repeated with the same key, after Retry-After', async (t) => {
    const stand = await standIn(t, [{ status: 503, retryAfter: '1' }, { status: 201 }])
    const api = createMadoguchiClient({ baseUrl: stand.baseUrl, token })
    const res = await api.POST('/v1/cases', { body: newCase('retry') })
    expectStatus(t, res, 201)
    t.equal(stand.seen.length, 2)
    t.equal(stand.seen[0]!.idempotencyKey, stand.seen[1]!.idempotencyKey, 'the same key both times')
    t.ok(stand.seen[1]!.at - stand.seen[0]!.at >= 900, 'after the second Retry-After asked for')
    t.not(stand.seen[0]!.authorization, stand.seen[1]!.authorization, 'a fresh token for each attempt')
  })

  t.test('a GET is repeated on 429, at most `attempts` times', async (t) => {
    const stand = await standIn(t, [{ status: 429, retryAfter: '0' }])
    const api = createMadoguchiClient({ baseUrl: stand.baseUrl, retry: { attempts: 4 } })
    const res = await api.GET('/v1/cases')
    t.equal(res.error?.status, 429)
    t.equal(stand.seen.length, 4)
  })

  t.test('a POST without an Idempotency-Key is never repeated', async (t) => {
    const stand = await standIn(t, [{ status: 503, retryAfter: '0' }, { status: 200 }])
    const api = createMadoguchiClient({ baseUrl: stand.baseUrl })
    const res = await api.POST('/v1/cases/{id}/transitions', { params: { path: { id: 'c1' } }, body: { to: 'escalated', reason: 'x' } })
    t.equal(res.error?.status, 503)
    t.equal(stand.seen.length, 1)
    const noKeys = createMadoguchiClient({ baseUrl: stand.baseUrl, idempotencyKeys: false })
    await noKeys.POST('/v1/cases', { body: newCase('x') })
    t.equal(stand.seen.length, 2, 'nor a create sent without a key')
  })

  t.test('other statuses, and retry: false, are answered at once', async (t) => {
    const stand = await standIn(t, [{ status: 500 }, { status: 503, retryAfter: '0' }])
    const api = createMadoguchiClient({ baseUrl: stand.baseUrl })
    t.equal((await api.GET('/v1/cases')).error?.status, 500)
    t.equal(stand.seen.length, 1)
    const once = createMadoguchiClient({ baseUrl: stand.baseUrl, retry: false })
    t.equal((await once.GET('/v1/cases')).error?.status, 503)
    t.equal(stand.seen.length, 2)
  })
})
