import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

// Errors and HTTP conventions: RFC 9457 problems with the right 4xx, request ids.
t.test('HTTP conventions', async (t) => {
  const { app, injectAs } = await buildTestApp(t)

  t.test('unknown routes answer 404 problem+json', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/v1/nothing-here' })
    expectStatus(t, res, 404)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { type: 'urn:madoguchi:problem:not-found', title: 'Not found', status: 404, code: 'not-found', instance: '/v1/nothing-here' })
  })

  t.test('a wrong content type is 415', async (t) => {
    const res = await injectAs('admin', { method: 'POST', url: '/v1/org-units', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
    expectStatus(t, res, 415)
    t.equal(res.json().code, 'unsupported-media-type')
  })

  t.test('an oversized body is 413', async (t) => {
    const res = await injectAs('admin', {
      method: 'POST',
      url: '/v1/org-units',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ parent_id: '00000000-0000-7000-8000-000000000001', code: 'x', name: 'x'.repeat(2 * 1024 * 1024) }),
    })
    expectStatus(t, res, 413)
    t.equal(res.json().code, 'payload-too-large')
  })

  t.test('malformed JSON is 400', async (t) => {
    const res = await injectAs('admin', { method: 'POST', url: '/v1/org-units', headers: { 'content-type': 'application/json' }, payload: '{"code": ' })
    expectStatus(t, res, 400)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.notMatch(res.body, /at .*\.js:\d+/, 'no stack trace')
  })

  t.test('a body that breaks its schema is 422 with every failing field', async (t) => {
    const res = await injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: { parent_id: 'not-a-uuid', code: '', extra: 1 } })
    expectStatus(t, res, 422)
    const body = res.json()
    t.equal(body.code, 'validation-failed')
    const pointers = body.errors.map((e: { pointer: string }) => e.pointer).sort()
    t.same(pointers, ['body/code', 'body/extra', 'body/name', 'body/parent_id'])
  })

  t.test('null is not silently coerced', async (t) => {
    const res = await injectAs('admin', {
      method: 'POST',
      url: '/v1/org-units',
      payload: { parent_id: '00000000-0000-7000-8000-000000000001', code: 'a', name: null },
    })
    expectStatus(t, res, 422)
    t.same(
      res.json().errors.map((e: { pointer: string }) => e.pointer),
      ['body/name'],
    )
  })

  t.test('query text becomes a number only when it is exactly one', async (t) => {
    for (const limit of ['1.5', '', '0x10', '1e2', ' 5', '+5', '5abc']) {
      const res = await injectAs('desk', { method: 'GET', url: `/v1/cases?limit=${encodeURIComponent(limit)}` })
      expectStatus(t, res, 400, `limit=${JSON.stringify(limit)} is refused`)
      t.same(
        res.json().errors.map((e: { pointer: string }) => e.pointer),
        ['querystring/limit'],
      )
    }
    expectStatus(t, await injectAs('desk', { method: 'GET', url: '/v1/cases?limit=5' }), 200)
    expectStatus(t, await injectAs('desk', { method: 'GET', url: '/v1/cases?limit=5&limit=6' }), 400, 'a repeated parameter is not silently picked')
  })

  t.test('x-request-id is echoed when given and generated when not', async (t) => {
    const given = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } })
    t.equal(given.headers['x-request-id'], 'abc-123')
    const generated = await app.inject({ method: 'GET', url: '/healthz' })
    t.match(generated.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/)
    const hostile = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'a b\u0000<script>' } })
    t.not(hostile.headers['x-request-id'], 'a b\u0000<script>', 'an id that is not an id is replaced')
    const problem = await app.inject({ method: 'GET', url: '/v1/me', headers: { 'x-request-id': 'req-42' } })
    t.equal(problem.json().request_id, 'req-42', 'problems carry the request id')
  })

  t.test('health and readiness answer without a token', async (t) => {
    t.same((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' })
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    expectStatus(t, ready, 200)
    t.same(ready.json(), { status: 'ok' })
  })

  t.test('the contract is served and matches the committed openapi/openapi.json', async (t) => {
    const { readFile } = await import('node:fs/promises')
    const committed = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
    const served = await app.inject({ method: 'GET', url: '/openapi.json' })
    expectStatus(t, served, 200)
    t.same(served.json(), committed, 'run `npm run openapi` after changing routes')
    const docs = await app.inject({ method: 'GET', url: '/docs' })
    t.ok(docs.statusCode < 400, 'the docs page answers')
  })
})
