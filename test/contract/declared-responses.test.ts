import crypto from 'node:crypto'
import t from 'tap'
import { PROBLEM_CODES } from '../../src/kernel/errors.ts'
import { ROLES } from '../../src/kernel/access.ts'
import { buildTestApp, type TestApp } from '../helpers/app.ts'
import { contractOf, disagreements, operationOf, type ContractDocument } from '../helpers/contract.ts'
import { expectStatus } from '../helpers/expect.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * Every operation declares the error statuses it can answer, each with the Problem schema, derived
 * from what the route declares (src/kernel/contract-responses.ts). Here each route is driven into
 * the refusals its declarations imply — no token, no role, a broken path parameter, an unknown
 * record, a body that is not JSON or breaks its schema, a bad Idempotency-Key — and every answer
 * must be a status (and headers) its operation declares, so declarations and behaviour cannot drift.
 */
let test: TestApp
let document: ContractDocument
t.before(async () => {
  test = await buildTestApp(t)
  document = contractOf(test.app)
})

const everyRole = { roles: [...ROLES], sub: 'contract-everyone' }
const noRole = { roles: [], sub: 'contract-nobody' }

t.test('the Problem schema has the code enum, from the one list of codes', { skip: databaseIndependent }, async (t) => {
  const code = (document.components.schemas.Problem?.properties as Record<string, { enum?: string[] }> | undefined)?.code
  t.same(code?.enum, [...PROBLEM_CODES])
})

t.test('every error response is a Problem with its codes documented; no ranges', { skip: databaseIndependent }, async (t) => {
  const wrong: string[] = []
  let responses = 0
  for (const [path, operations] of Object.entries(document.paths))
    for (const [method, operation] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (/X/i.test(status)) wrong.push(`${method} ${path}: ${status} is a range`)
        if (Number(status) < 400) continue
        responses += 1
        const content = (response as { content?: Record<string, { schema?: { $ref?: string } }> }).content
        if (content?.['application/problem+json']?.schema?.$ref !== '#/components/schemas/Problem')
          wrong.push(`${operation.operationId} ${status} is not a Problem`)
        const codes = [...response.description.matchAll(/`([a-z-]+)`/g)].map((m) => m[1])
        if (codes.length === 0 || !codes.every((c) => (PROBLEM_CODES as readonly string[]).includes(c!)))
          wrong.push(`${operation.operationId} ${status} names no codes`)
      }
      if (!operation.responses['503']) wrong.push(`${operation.operationId} declares no 503`)
    }
  t.ok(responses > 500, `${responses} problem responses`)
  t.same(wrong, [])
})

t.test('each route answers its refusals with statuses and headers it declares', { skip: databaseIndependent }, async (t) => {
  const routes = test.app.declaredRoutes.filter((r) => r.url.startsWith('/v1/') && r.permission !== 'public')
  t.ok(routes.length > 90, `${routes.length} routes`)
  const problems: string[] = []
  for (const route of routes) {
    const operation = operationOf(document, route)
    if (!operation) continue
    const declared = new Set(Object.keys(operation.responses).map(Number))
    const params = (route.schema.params as { properties?: Record<string, { format?: string; enum?: string[] }> } | undefined)?.properties ?? {}
    const pathWith = (value: (name: string, format?: string, values?: string[]) => string) =>
      route.url.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(value(name, params[name]?.format, params[name]?.enum)))
    const validPath = pathWith((_n, format, values) => (values ? values[0]! : format === 'uuid' ? crypto.randomUUID() : 'x'))
    const hasBody = route.schema.body !== undefined
    const json = (payload: string) => (hasBody ? { payload, headers: { 'content-type': 'application/json' } } : {})
    const send = async (who: typeof everyRole | null, url: string, extra: { payload?: string; headers?: Record<string, string> } = {}) => {
      const options = { method: route.method as 'GET', url, ...extra }
      const res = who ? await test.injectAs(who, options) : await test.app.inject(options)
      problems.push(...disagreements(operation, res))
      return res
    }

    // No token: 401 with a bearer challenge, declared.
    const anonymous = await send(null, validPath, json('{}'))
    if (anonymous.statusCode !== 401) problems.push(`${operation.operationId} without a token answered ${anonymous.statusCode}`)
    // A token without roles: 403 where a permission is needed.
    if (route.permission !== 'authenticated') {
      const nobody = await send(noRole, validPath, json('{}'))
      if (nobody.statusCode !== 403) problems.push(`${operation.operationId} with no role answered ${nobody.statusCode}`)
    }
    // A path parameter that breaks its schema.
    const broken = Object.entries(params).filter(([, p]) => p.format === 'uuid' || p.enum)
    if (broken.length > 0) {
      const res = await send(
        everyRole,
        pathWith((name, format, values) => (format === 'uuid' || values ? `not-a-${name}` : 'x')),
        json('{}'),
      )
      if (res.statusCode !== 400) problems.push(`${operation.operationId} with a broken path parameter answered ${res.statusCode}`)
    }
    if (Object.keys(params).length > 0) await send(everyRole, validPath, json('{}'))
    if (hasBody) {
      await send(everyRole, validPath, { payload: '{"unexpected": ', headers: { 'content-type': 'application/json' } })
      await send(everyRole, validPath, { payload: 'text', headers: { 'content-type': 'text/plain' } })
      await send(everyRole, validPath, json('{"__not_a_field__": 1}'))
    }
    if (route.schema.headers && 'idempotency-key' in ((route.schema.headers as { properties?: object }).properties ?? {}))
      await send(everyRole, validPath, { ...json('{}'), headers: { ...json('{}').headers, 'idempotency-key': 'a key with spaces' } })
    if (route.schema.querystring && route.method === 'GET') await send(everyRole, `${validPath}?limit=0&cursor=%25`)
    for (const status of [401, 403])
      if (declared.has(status) === false && route.permission !== 'authenticated') problems.push(`${operation.operationId} lacks ${status}`)
  }
  t.same(problems, [], 'every answer is declared')
})

t.test('the headers a refusal sends are declared: Retry-After on 503 and 429, WWW-Authenticate on 401', { skip: databaseIndependent }, async (t) => {
  const operation = operationOf(document, { method: 'GET', url: '/v1/cases/:id' })!
  t.ok(operation.responses['503']?.headers?.['retry-after'], '503 declares Retry-After')
  t.ok(operation.responses['429']?.headers?.['retry-after'], '429 declares Retry-After')
  t.ok(operation.responses['401']?.headers?.['www-authenticate'], '401 declares WWW-Authenticate')
  const created = operationOf(document, { method: 'POST', url: '/v1/cases' })!
  for (const name of ['location', 'etag', 'idempotent-replayed', 'x-request-id']) t.ok(created.responses['201']?.headers?.[name], `201 declares ${name}`)
  const res = await test.injectAs('staff', { method: 'GET', url: `/v1/cases/${crypto.randomUUID()}` })
  expectStatus(t, res, 404)
  t.same(disagreements(operation, res), [])
})
