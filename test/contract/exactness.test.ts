import t from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { createCase, disclosureRequestBody, incidentBody, register } from '../helpers/fixtures.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * Issue 10 items 10–13: the server and its contract agree on If-Match, Idempotency-Key, wrong
 * methods and the problem's `instance`.
 */
interface Parameter {
  in: string
  name: string
  required?: boolean
  schema?: { pattern?: string; maxLength?: number; minLength?: number }
}
interface Document {
  paths: Record<string, Record<string, { operationId: string; parameters?: Parameter[] }>>
  components: { schemas: Record<string, { properties: Record<string, { description?: string; format?: string }> }> }
}

let test: TestApp
let document: Document
t.before(async () => {
  test = await buildTestApp(t)
  document = test.app.swagger() as unknown as Document
})

function headerOf(operationId: string, name: string): Parameter | undefined {
  for (const operations of Object.values(document.paths))
    for (const operation of Object.values(operations))
      if (operation.operationId === operationId) return operation.parameters?.find((p) => p.in === 'header' && p.name === name)
  throw new Error(`no operation ${operationId}`)
}

t.test('If-Match is declared required exactly where the server answers 428 without it', { skip: databaseIndependent }, async (t) => {
  const staff = { roles: ['staff' as const], sub: 'contract-staff' }
  const records = { roles: ['records_manager' as const], sub: 'contract-records' }
  const desk = { roles: ['desk' as const], sub: 'contract-desk' }
  const kase = await createCase(test, staff)
  const recording = await register(test, staff, { case_id: kase.id })
  const incident = (await test.injectAs(desk, { method: 'POST', url: '/v1/incidents', payload: incidentBody() })).json() as { id: string }
  const disclosure = (await test.injectAs(desk, { method: 'POST', url: '/v1/disclosure-requests', payload: disclosureRequestBody() })).json() as {
    id: string
  }
  // Each operation that takes If-Match, called without it with an otherwise valid request.
  const calls = [
    { operationId: 'updateCase', who: staff, method: 'PATCH', url: `/v1/cases/${kase.id}`, payload: { summary: '追記' } },
    { operationId: 'transitionCase', who: staff, method: 'POST', url: `/v1/cases/${kase.id}/transitions`, payload: { to: 'escalated' } },
    { operationId: 'updateRecording', who: staff, method: 'PATCH', url: `/v1/recordings/${recording.id}`, payload: { title: '題名' } },
    {
      operationId: 'classifyRecording',
      who: records,
      method: 'PUT',
      url: `/v1/recordings/${recording.id}/classification`,
      payload: { classification: 'administrative_document', reason: '組織的に用いる録音' },
    },
    { operationId: 'updateIncident', who: desk, method: 'PATCH', url: `/v1/incidents/${incident.id}`, payload: { summary: '要約の訂正' } },
    {
      operationId: 'updateDisclosureRequest',
      who: desk,
      method: 'PATCH',
      url: `/v1/disclosure-requests/${disclosure.id}`,
      payload: { subject_matter: '録音' },
    },
  ] as const
  for (const call of calls) {
    const res = await test.injectAs(call.who, { method: call.method, url: call.url, payload: call.payload })
    const declared = headerOf(call.operationId, 'if-match')
    t.ok(declared, `${call.operationId} declares If-Match`)
    if (declared?.required) expectStatus(t, res, 428, `${call.operationId}: required in the contract, 428 without it`)
    else t.not(res.statusCode, 428, `${call.operationId}: optional in the contract, never 428 without it (${res.statusCode} ${res.body.slice(0, 200)})`)
  }
  t.equal(headerOf('updateCase', 'if-match')?.required, true, 'updateCase requires If-Match')
  t.equal(headerOf('transitionCase', 'if-match')?.required, false, 'transitionCase checks it when sent')
})

t.test('Idempotency-Key is declared with the pattern the server enforces', { skip: databaseIndependent }, async (t) => {
  const declared = headerOf('createCase', 'idempotency-key')
  t.ok(declared?.schema?.pattern, 'a pattern is declared')
  const pattern = new RegExp(declared?.schema?.pattern ?? '.*')
  const keys = ['a', 'key-01JD6W7Q0T', 'x'.repeat(200), 'with space', 'tab\tkey', '', 'x'.repeat(201), 'キー', '~!#$%&']
  for (const key of keys) {
    const accepted = pattern.test(key) && key.length <= (declared?.schema?.maxLength ?? Infinity) && key.length >= (declared?.schema?.minLength ?? 0)
    const res = await test.injectAs('staff', {
      method: 'POST',
      url: '/v1/cases',
      // Node refuses some header bytes on the wire; inject passes them as written.
      headers: { 'idempotency-key': key },
      payload: { channel: 'phone', occurred_at: new Date().toISOString(), categories: ['other'], severity: 'low', summary: 'idempotency' },
    })
    if (accepted) expectStatus(t, res, 201, `${JSON.stringify(key).slice(0, 30)} matches the contract and is accepted`)
    else expectStatus(t, res, 400, `${JSON.stringify(key).slice(0, 30)} breaks the contract and is refused`)
  }
  // Every operation that honours a key declares the same header.
  for (const operations of Object.values(document.paths))
    for (const operation of Object.values(operations)) {
      const header = operation.parameters?.find((p) => p.name === 'idempotency-key')
      if (header) t.equal(header.schema?.pattern, declared?.schema?.pattern, `${operation.operationId}: the same pattern`)
    }
})

t.test('a known path with a method it lacks is 405 with Allow', { skip: databaseIndependent }, async (t) => {
  const me = await test.injectAs('staff', { method: 'DELETE', url: '/v1/me' })
  expectStatus(t, me, 405)
  t.equal(me.headers.allow, 'GET')
  t.equal(me.json().code, 'method-not-allowed')
  t.match(me.headers['content-type'], /^application\/problem\+json/)

  const kase = await test.injectAs('staff', { method: 'DELETE', url: '/v1/cases/01936f2e-8a4b-7c3d-9e5f-0a1b2c3d4e5f' })
  expectStatus(t, kase, 405, 'with a path parameter too')
  t.equal(kase.headers.allow, 'GET, PATCH')

  const anonymous = await test.app.inject({ method: 'PUT', url: '/v1/cases?x=1' })
  expectStatus(t, anonymous, 405, 'the query string is not part of the path')
  t.equal(anonymous.headers.allow, 'GET, POST')

  expectStatus(t, await test.injectAs('staff', { method: 'DELETE', url: '/v1/nothing-here' }), 404, 'an unknown path is still 404')
})

t.test('a problem’s instance is what the contract says it is', { skip: databaseIndependent }, async (t) => {
  const property = document.components.schemas.Problem?.properties.instance
  t.match(property?.description, /path of the request/, 'the contract: the request path')
  t.equal(property?.format, 'uri-reference')
  const id = '01936f2e-8a4b-7c3d-9e5f-0a1b2c3d4e5f'
  const res = await test.injectAs('staff', { method: 'GET', url: `/v1/cases/${id}?fields=x`, headers: { 'x-request-id': 'probe-instance-1' } })
  const problem = res.json()
  t.equal(problem.instance, `/v1/cases/${id}`, 'the path, without its query string')
  t.equal(problem.request_id, 'probe-instance-1', 'the request id is request_id')
  t.equal(res.headers['x-request-id'], 'probe-instance-1')
})
