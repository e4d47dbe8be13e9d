/**
 * Schemas are written once in TypeBox and used inline by routes, so handlers are typed by
 * them. Those that carry an `$id` are shared types, and the published document names them:
 * each becomes a `components.schemas` entry that every use refers to, so the generated SDK
 * has `components['schemas']['OrgUnit']` and the like.
 *
 * @fastify/swagger already hoists schemas with an `$id` nested inside a route schema; it
 * drops the `$id` of a route's top-level body or response schema, so `markTopLevelSchemas`
 * (its per-route `transform`) keeps that name in a marker and `namedComponents` (its
 * `transformObject`) turns marked schemas into references.
 */
const MARKER = 'x-schema-name'

type Json = Record<string, unknown>

function mark(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema
  const { $id, ...rest } = schema as Json
  if (typeof $id !== 'string') return schema
  return { ...rest, [MARKER]: $id }
}

export function markTopLevelSchemas({ schema, url }: { schema: unknown; url: string }): { schema: Json; url: string } {
  const s = { ...(schema as Json) }
  if (s.body) s.body = mark(s.body)
  if (s.response && typeof s.response === 'object') {
    const response: Json = {}
    for (const [status, value] of Object.entries(s.response as Json)) {
      const content = (value as Json | null)?.content as Record<string, Json> | undefined
      response[status] = content
        ? { ...(value as Json), content: Object.fromEntries(Object.entries(content).map(([type, media]) => [type, { ...media, schema: mark(media.schema) }])) }
        : mark(value)
    }
    s.response = response
  }
  return { schema: s, url }
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
