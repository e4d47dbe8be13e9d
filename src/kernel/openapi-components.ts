import { REQUIRED_IN_CONTRACT } from './http-headers.ts'

/**
 * Schemas are written once in TypeBox and used inline by routes, so handlers are typed by
 * them. Those that carry an `$id` are shared types that the published document names: each
 * becomes a `components.schemas` entry that every use refers to, so the generated SDK has
 * `components['schemas']['Case']` and the like.
 *
 * The same shared schema often appears several times in one route (a Case holds several
 * StaffRefs), and a repeated `$id` breaks Fastify's serializer. So `nameSharedSchemas` (an
 * onRoute hook) turns every `$id` in a route's schema into a plain marker the validator and
 * serializer ignore, and `namedComponents` (the document's final transform) hoists marked
 * schemas into components and references them.
 */
const MARKER = 'x-schema-name'

type Json = Record<string, unknown>

export function markSharedSchemas(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(markSharedSchemas)
  if (value === null || typeof value !== 'object') return value
  // TypeBox keeps its own metadata in non-enumerable and symbol keys: copy every own key.
  const out: Json = {}
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!
    if (key === '$id' && typeof descriptor.value === 'string') {
      out[MARKER] = descriptor.value
      continue
    }
    Object.defineProperty(out, key, { ...descriptor, value: markSharedSchemas(descriptor.value) })
  }
  return out
}

export function namedComponents(document: Json): Json {
  const named: Json = {}
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit)
    if (value === null || typeof value !== 'object') return value
    const transformed: Json = {}
    for (const [key, child] of Object.entries(value as Json)) {
      if (key !== MARKER) transformed[key] = visit(child)
    }
    const name = (value as Json)[MARKER]
    if (typeof name !== 'string') return transformed
    named[name] ??= transformed
    return { $ref: `#/components/schemas/${name}` }
  }
  const out = visit(document) as Json
  const components = (out.components ?? {}) as Json
  const schemas = { ...(components.schemas as Json | undefined), ...named }
  out.components = { ...components, schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))) }
  return out
}

/**
 * Parameters whose schema carries the REQUIRED_IN_CONTRACT marker (http-headers.ts) are declared
 * required: the route checks them itself (If-Match: 428 without), but a client must send them.
 */
export function markedRequiredParameters(document: Json): Json {
  const paths = (document.paths ?? {}) as Record<string, Record<string, { parameters?: Json[] }>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      for (const parameter of operation.parameters ?? []) {
        const schema = parameter.schema as Json | undefined
        if (schema?.[REQUIRED_IN_CONTRACT] !== true) continue
        delete schema[REQUIRED_IN_CONTRACT]
        parameter.required = true
      }
    }
  }
  return document
}
