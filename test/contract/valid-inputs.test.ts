import querystring from 'node:querystring'
import fc from 'fast-check'
import t from 'tap'
import { ROLES } from '../../src/kernel/access.ts'
import { strictValidatorCompiler } from '../../src/kernel/validation.ts'
import { buildTestApp } from '../helpers/app.ts'
import { arbitraryOf, type JsonSchema } from '../helpers/arbitrary.ts'
import { contractOf, disagreements, operationOf } from '../helpers/contract.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * Issue 10 item 14: the contract and the server agree on what is valid. For every operation,
 * values generated from the contract's own parameter and body schemas (as a third party's
 * generated client would send them) are never refused for schema reasons: a 400 or 422 from the
 * route's own validator is a disagreement. Refusals by the domain's rules (an unknown id, a date
 * in the wrong order) are fine. Every answer must also be a status and headers the operation declares.
 */
// Three generated requests per operation in a routine run (about 450 in all); CONTRACT_RUNS=50 for a deeper one.
const RUNS = Number(process.env.CONTRACT_RUNS ?? 3)
// Every operation of the API in one file: more than the default two minutes on a loaded machine.
t.setTimeout(600_000)
type Json = Record<string, unknown>

t.test('values the contract allows are never refused for schema reasons', { skip: databaseIndependent }, async (t) => {
  const test = await buildTestApp(t)
  const document = contractOf(test.app)
  const schemas = document.components.schemas as Record<string, Json>
  // The contract's schemas with their references resolved, as a generator reads them.
  const resolve = (schema: unknown, depth = 0): unknown => {
    if (Array.isArray(schema)) return schema.map((s) => resolve(s, depth))
    if (schema === null || typeof schema !== 'object') return schema
    const s = schema as Json
    if (typeof s.$ref === 'string') return depth > 20 ? {} : resolve(schemas[s.$ref.split('/').at(-1)!], depth + 1)
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, resolve(v, depth)]))
  }
  // HTTP carries header values as visible ASCII: a header without a pattern gets such text.
  const headerValue = (schema: JsonSchema) => (schema.pattern ? arbitraryOf(schema) : fc.stringMatching(/^[!-~]{1,40}$/))
  const everyRole = { roles: [...ROLES], sub: 'contract-property' }

  const routes = test.app.declaredRoutes.filter((r) => r.url.startsWith('/v1/') && r.permission !== 'public')
  const refusals: string[] = []
  const undeclared = new Set<string>()
  let sent = 0
  const statuses = new Map<number, number>()
  for (const route of routes) {
    const operation = operationOf(document, route)
    if (!operation) continue
    const parameters = operation.parameters ?? []
    const group = (where: string, header = false) => {
      const own = parameters.filter((p) => p.in === where)
      const model = Object.fromEntries(
        own.map((p) => [p.name, header ? headerValue(resolve(p.schema) as JsonSchema) : arbitraryOf(resolve(p.schema) as JsonSchema)]),
      )
      return fc.record(model, { requiredKeys: own.filter((p) => p.required).map((p) => p.name) })
    }
    const bodySchema = (operation as unknown as { requestBody?: { content: Record<string, { schema: unknown }> } }).requestBody?.content['application/json']
      ?.schema
    const body = bodySchema ? arbitraryOf(resolve(bodySchema) as JsonSchema) : fc.constant(undefined)
    const validators = Object.fromEntries(
      (['params', 'querystring', 'headers', 'body'] as const).map((part) => {
        const schema = (route.schema as Record<string, unknown>)[part]
        return [part, schema ? strictValidatorCompiler({ schema, method: route.method, url: route.url, httpPart: part } as never) : null]
      }),
    ) as Record<string, ((value: unknown) => { error?: unknown }) | null>

    await fc.assert(
      fc.asyncProperty(group('path'), group('query'), group('header', true), body, async (path, query, headers, payload) => {
        const url = route.url.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(String((path as Json)[name])))
        const qs = querystring.stringify(query as querystring.ParsedUrlQueryInput)
        const res = await test.injectAs(everyRole, {
          method: route.method as 'GET',
          url: qs ? `${url}?${qs}` : url,
          headers: { ...(headers as Record<string, string>), ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
        })
        sent += 1
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        for (const problem of disagreements(operation, res)) undeclared.add(problem.replace(/: .*/s, ''))
        if (res.statusCode !== 400 && res.statusCode !== 422) return
        // Was it the route's own schema that refused what the contract allows?
        const asSent: Record<string, unknown> = {
          params: path,
          querystring: querystring.parse(qs),
          headers: Object.fromEntries(Object.entries(headers as Json).map(([k, v]) => [k.toLowerCase(), v])),
          body: payload,
        }
        for (const [part, validate] of Object.entries(validators)) {
          if (!validate) continue
          const result = validate(asSent[part] ?? {})
          if (result.error)
            refusals.push(
              `${operation.operationId}: the route's ${part} schema refuses ${JSON.stringify(asSent[part]).slice(0, 200)} (${res.body.slice(0, 300)})`,
            )
        }
      }),
      { numRuns: RUNS },
    )
  }
  t.ok(sent >= routes.length * RUNS * 0.9, `${sent} requests`)
  t.comment(`answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`)
  // Most answers are the domain's (404 for generated ids, 422 for its rules); some must succeed.
  t.ok(
    [...statuses.keys()].some((s) => s < 300),
    'some generated requests succeed',
  )
  t.same(refusals.slice(0, 20), [], 'no contract-valid value is refused by a route schema')
  t.same([...undeclared].sort(), [], 'every answer is declared in the contract')
})
