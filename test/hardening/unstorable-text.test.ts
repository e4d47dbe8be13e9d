import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

// A NUL (or an unpaired surrogate: text PostgreSQL cannot store) in a path parameter, query value,
// header or JSON body is 400 problem+json, never 503 with Retry-After, and the refusal is audited
// (issue 10, item 3).
t.test('text PostgreSQL cannot store is 400, and the refusal is audited', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const entryOf = (requestId: string) =>
    db.selectFrom('audit_events').select(['outcome', 'status', 'resource_id', 'route', 'action']).where('request_id', '=', requestId).execute()

  const cases: { name: string; method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: unknown; pointer: string }[] = [
    { name: 'a NUL in a path parameter', method: 'GET', url: '/v1/records/case/a%00b/history', pointer: 'params/id' },
    { name: 'a NUL in a query value', method: 'GET', url: '/v1/cases?q=%E7%AA%93%00', pointer: 'query/q' },
    { name: 'a NUL in a header', method: 'GET', url: '/v1/cases', headers: { 'x-client-note': 'a\u0000b' }, pointer: 'headers/x-client-note' },
    { name: 'a NUL in a JSON body', method: 'POST', url: '/v1/cases', payload: caseBody({ summary: '暴言\u0000' }), pointer: 'body/summary' },
    {
      name: 'an unpaired surrogate in a JSON body',
      method: 'POST',
      url: '/v1/cases',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(caseBody({ summary: 'x' })).replace('"x"', '"\\ud800"'),
      pointer: 'body/summary',
    },
  ]
  for (const c of cases) {
    const who = c.url.startsWith('/v1/records') ? 'auditor' : 'staff'
    const res = await injectAs(who, {
      method: c.method,
      url: c.url,
      headers: { ...c.headers, 'x-request-id': `nul-${cases.indexOf(c)}-req` },
      payload: c.payload as never,
    })
    expectStatus(t, res, 400, c.name)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.equal(res.headers['retry-after'], undefined, `${c.name}: nothing to retry`)
    t.match(res.json(), { code: 'bad-request', errors: [{ pointer: c.pointer }] }, `${c.name}: names where`)
    const entries = await entryOf(`nul-${cases.indexOf(c)}-req`)
    t.match(entries, [{ outcome: 'failed', status: 400 }], `${c.name}: audited like any other refusal`)
  }
  const [history] = await entryOf('nul-0-req')
  t.equal(history?.resource_id, 'a\\u0000b', 'the refused id is recorded, escaped')

  const stored = await db.selectFrom('cases').select('id').where('summary', 'like', '暴言%').execute()
  t.same(stored, [], 'nothing stored')
})
