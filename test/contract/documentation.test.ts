import t from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.ts'
import { contractOf, type ContractDocument } from '../helpers/contract.ts'
import { expectStatus } from '../helpers/expect.ts'
import { createCase, register } from '../helpers/fixtures.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * The contract guides an integrator: global tags with descriptions, a summary and a description
 * on every operation, and real examples (not regex output) on the fields a user fills in, which
 * the service accepts as they are.
 */
let test: TestApp
let document: ContractDocument
t.before(async () => {
  test = await buildTestApp(t)
  document = contractOf(test.app)
})

type Json = Record<string, unknown>

t.test('tags are declared with descriptions; every operation has tags, a summary and a description', { skip: databaseIndependent }, async (t) => {
  const declared = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description]))
  const missing: string[] = []
  for (const [path, operations] of Object.entries(document.paths))
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method.toUpperCase()} ${path}`
      if (!operation.summary) missing.push(`${name}: summary`)
      if (!operation.description) missing.push(`${name}: description`)
      if (!operation.tags?.length) missing.push(`${name}: tags`)
      for (const tag of operation.tags ?? []) if (!declared.get(tag)) missing.push(`${name}: tag ${tag} is not declared with a description`)
    }
  t.same(missing, [])
})

/** Every string with a pattern that a request carries (bodies and parameters), with where it is. */
function patternedInputs(): Array<{ where: string; schema: Json }> {
  const schemas = document.components.schemas as Record<string, Json>
  const found: Array<{ where: string; schema: Json }> = []
  const walk = (schema: unknown, where: string, seen: Set<string>): void => {
    if (Array.isArray(schema)) {
      for (const item of schema) walk(item, where, seen)
      return
    }
    if (schema === null || typeof schema !== 'object') return
    const s = schema as Json
    if (typeof s.$ref === 'string') {
      const name = s.$ref.split('/').at(-1)!
      if (!seen.has(name)) walk(schemas[name], name, new Set([...seen, name]))
      return
    }
    if (typeof s.pattern === 'string') found.push({ where, schema: s })
    for (const [key, value] of Object.entries(s)) {
      if (key === 'properties') for (const [name, property] of Object.entries(value as Json)) walk(property, `${where}.${name}`, seen)
      else if (typeof value === 'object') walk(value, where, seen)
    }
  }
  for (const operations of Object.values(document.paths))
    for (const operation of Object.values(operations)) {
      const body = (operation as unknown as { requestBody?: { content: Record<string, { schema: unknown }> } }).requestBody
      if (body) walk(body.content['application/json']?.schema, operation.operationId, new Set())
      for (const parameter of operation.parameters ?? []) {
        const example = (parameter as Json).example
        if (example !== undefined) {
          if (typeof parameter.schema?.pattern === 'string' && !new RegExp(parameter.schema.pattern).test(String(example)))
            found.push({ where: `${operation.operationId}:${parameter.name} (example ${String(example)})`, schema: { pattern: '^$' } })
          continue
        }
        walk(parameter.schema, `${operation.operationId}:${parameter.name}`, new Set())
      }
    }
  return found
}

t.test('a field a user fills in with a pattern carries a real example that matches it', { skip: databaseIndependent }, async (t) => {
  const inputs = patternedInputs()
  t.ok(inputs.length > 20, `${inputs.length} patterned inputs`)
  const wrong = inputs
    .filter(({ schema }) => {
      const examples = (schema.examples as unknown[] | undefined) ?? []
      return examples.length === 0 || !examples.every((e) => typeof e === 'string' && new RegExp(String(schema.pattern)).test(e))
    })
    .map(({ where }) => where)
  t.same([...new Set(wrong)], [], 'every one has examples matching its pattern')
})

t.test('the examples of a case body and a hold are accepted as they are', { skip: databaseIndependent }, async (t) => {
  const bodyExample = (path: string, method: string) => {
    const operation = document.paths[path]?.[method] as unknown as { requestBody?: { content: Record<string, { example?: unknown }> } } | undefined
    return (operation?.requestBody?.content['application/json']?.example ?? null) as Json | null
  }
  const kase = bodyExample('/v1/cases', 'post')
  t.match(kase, { customer: { phone: '03-1234-5678' } }, 'the case example has a phone number')
  expectStatus(t, await test.injectAs('staff', { method: 'POST', url: '/v1/cases', payload: kase! }), 201, 'the case example is accepted')

  const hold = bodyExample('/v1/recordings/{id}/holds', 'post')
  t.ok(hold, 'a hold example')
  const staff = { roles: ['staff' as const], sub: 'docs-staff' }
  const recording = await register(test, staff, { case_id: (await createCase(test, staff)).id })
  expectStatus(
    t,
    await test.injectAs('records_manager', { method: 'POST', url: `/v1/recordings/${recording.id}/holds`, payload: hold! }),
    201,
    'the hold example is accepted',
  )
})
