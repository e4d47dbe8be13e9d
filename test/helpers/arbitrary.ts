import fc from 'fast-check'

/**
 * fast-check arbitraries from the routes' own JSON Schemas (TypeBox output): values a route
 * should accept, and hostile mutations of them. The subset covers what our schemas use:
 * object, array, string (format, pattern, lengths), integer, number, boolean, enum, const, anyOf.
 */
export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  anyOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  format?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
}

const MAX_STRING = 40
const MAX_ITEMS = 4

function stringArbitrary(s: JsonSchema): fc.Arbitrary<string> {
  switch (s.format) {
    case 'uuid':
      return fc.uuid({ version: [4, 7] })
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date(), noInvalidDate: true }).map((d) => d.toISOString())
    case 'date':
      return fc
        .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2040-12-31T00:00:00Z'), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10))
    case 'email':
      return fc.emailAddress()
    case 'uri':
      return fc.webUrl()
  }
  if (s.pattern) {
    return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity))
  }
  const minLength = s.minLength ?? 0
  return fc.string({ unit: 'grapheme', minLength, maxLength: Math.max(minLength, Math.min(s.maxLength ?? MAX_STRING, MAX_STRING)) })
}

export function arbitraryOf(schema: JsonSchema): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(arbitraryOf))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string':
      return stringArbitrary(schema)
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 })
    case 'number':
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array': {
      const minLength = schema.minItems ?? 0
      const constraints = { minLength, maxLength: Math.max(minLength, Math.min(schema.maxItems ?? MAX_ITEMS, MAX_ITEMS)) }
      const item = arbitraryOf(schema.items ?? {})
      return schema.uniqueItems ? fc.uniqueArray(item, { ...constraints, selector: (v) => JSON.stringify(v) }) : fc.array(item, constraints)
    }
    case 'object': {
      const properties = schema.properties ?? {}
      const model = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, arbitraryOf(v)]))
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in properties) })
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** Values no schema of ours accepts where a string, number, object or array is expected. */
const HOSTILE: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER,
  1e308,
  '',
  ' ',
  'x'.repeat(200_000),
  '\u0000',
  '\uD800',
  '\u202Eevil\u202C',
  'Z\u0351\u0352\u0357\u0358'.repeat(50),
  '𠮷野家🍣'.repeat(100),
  "' OR 1=1 --",
  "'; DROP TABLE cases; --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as it is
  '${7*7}{{7*7}}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '{"$ne": null}',
  '0000-00-00',
  '2025-02-30',
  '9999-12-31T23:59:59Z',
  '-271821-04-20T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '2025-01-01T25:61:61Z',
  [],
  [null],
  {},
  { __proto__: { admin: true } },
  JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}'),
  nest(200),
]

function nest(depth: number): unknown {
  let value: unknown = 'deep'
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

type Mutation = (value: unknown, pick: number, hostile: unknown) => unknown

function paths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [prefix]
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))]
}

function replaceAt(value: unknown, path: string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement
  const [head, ...rest] = path
  if (Array.isArray(value)) return value.map((v, i) => (String(i) === head ? replaceAt(v, rest, replacement) : v))
  if (value !== null && typeof value === 'object')
    return { ...(value as Record<string, unknown>), [head!]: replaceAt((value as Record<string, unknown>)[head!], rest, replacement) }
  return value
}

function removeAt(value: unknown, path: string[]): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return value
  const [head, ...rest] = path
  if (rest.length > 0) return replaceAt(value, [head!], removeAt((value as Record<string, unknown>)[head!], rest))
  if (Array.isArray(value)) return value.filter((_, i) => String(i) !== head)
  const { [head!]: _removed, ...others } = value as Record<string, unknown>
  return others
}

const MUTATIONS: Mutation[] = [
  // A field (or the whole value) becomes something hostile.
  (value, pick, hostile) => {
    const all = paths(value)
    return replaceAt(value, all[pick % all.length]!, hostile)
  },
  // A field disappears.
  (value, pick) => {
    const all = paths(value).filter((p) => p.length > 0)
    return all.length ? removeAt(value, all[pick % all.length]!) : undefined
  },
  // An unknown field appears.
  (value, _pick, hostile) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as object), [`unexpected_${typeof hostile}`]: hostile } : [value],
]

/** A valid value, then possibly made hostile by one mutation. */
export function hostileOf(schema: JsonSchema): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 1, arbitrary: arbitraryOf(schema) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(arbitraryOf(schema), fc.nat({ max: MUTATIONS.length - 1 }), fc.nat(), fc.constantFrom(...HOSTILE))
        .map(([value, mutation, pick, hostile]) => MUTATIONS[mutation]!(value, pick, hostile)),
    },
  )
}
