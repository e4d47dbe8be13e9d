import type { RouteOptions } from 'fastify'
import type { RouteAccess } from './access.ts'
import { type ProblemCode, ProblemSchema } from './errors.ts'
import { REQUIRED_IN_CONTRACT } from './http-headers.ts'

/**
 * What each operation's contract says it can answer besides success, derived from what the
 * route declares, so the declarations follow the route instead of being written by hand:
 *
 * - its permission (access table): 401 without a valid token; 403 when the caller's roles do not
 *   grant it (a token may carry no role at all, so every permission route can answer 403);
 * - path parameters: 400 when one breaks its schema, 404 when what it names is not there (or out
 *   of the caller's reach, which answers the same);
 * - query string and headers: 400; a body: 422 when it breaks its schema, 400 when it is not JSON,
 *   413 when too large, 415 when not JSON at all;
 * - preconditions: If-Match required → 428 without it, 412 when stale; checked when sent → 412;
 * - Idempotency-Key: 422 when a key is reused for a different request;
 * - a write (any /v1 method but GET): 409 when it conflicts with the record's state or another
 *   record, 422 when a domain rule refuses the values;
 * - every /v1 operation: 429 (rate limit) and 503 (database, audit trail or overload); every
 *   operation: 503 (overload); an expensive one (config.expensive): 429 also beyond its per-subject concurrency.
 * Anything else a route can answer it declares in `config.problems` (e.g. 406 on the export).
 * test/contract/declared-responses.test.ts checks these declarations against the routes'
 * behaviour, so they cannot drift.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** Problems the route answers that its declarations do not imply (see contract-responses.ts). */
    problems?: Partial<Record<number, ProblemCode[]>>
    /** false: a 201 without Location (the created thing has no URL of its own). */
    location?: boolean
  }
}

interface Declared {
  codes: Set<ProblemCode>
  why: Set<string>
}

interface RouteShape {
  method: string
  url: string
  permission: RouteAccess | undefined
  idempotent: boolean
  expensive: boolean
  extra: Partial<Record<number, ProblemCode[]>>
  schema: { params?: unknown; querystring?: unknown; headers?: unknown; body?: unknown }
}

type Json = Record<string, unknown>

function propertiesOf(schema: unknown): Record<string, Json> {
  const properties = (schema as { properties?: Record<string, Json> } | undefined)?.properties
  return properties ?? {}
}

/** The problem statuses an operation can answer, with their codes and why (see above). */
function problemStatusesOf(route: RouteShape): Map<number, Declared> {
  const declared = new Map<number, Declared>()
  const add = (status: number, codes: ProblemCode[], why: string) => {
    const entry = declared.get(status) ?? { codes: new Set(), why: new Set() }
    for (const code of codes) entry.codes.add(code)
    entry.why.add(why)
    declared.set(status, entry)
  }
  const api = route.url.startsWith('/v1/')
  const guarded = route.permission !== undefined && route.permission !== 'public'
  if (guarded) add(401, ['unauthorized'], 'no valid bearer token')
  if (guarded && route.permission !== 'authenticated') add(403, ['forbidden'], `none of the caller's roles grants ${route.permission}`)
  const params = Object.keys(propertiesOf(route.schema.params))
  if (params.length > 0) {
    add(400, ['validation-failed'], 'a path parameter breaks its schema')
    add(404, ['not-found'], 'what the path names does not exist or is out of reach')
  }
  const query = propertiesOf(route.schema.querystring)
  if (Object.keys(query).length > 0) add(400, ['validation-failed', 'bad-request'], 'a query parameter breaks its schema or the rules of the listing')
  if ('cursor' in query) add(400, ['bad-request'], 'the cursor was not given out by this listing')
  // Every request's parameters, query, headers and body are checked for text PostgreSQL cannot store.
  add(400, ['bad-request'], 'a value holds a NUL or an unpaired surrogate')
  const headers = propertiesOf(route.schema.headers)
  if (Object.keys(headers).length > 0) add(400, ['validation-failed'], 'a header breaks its schema')
  if (route.schema.body !== undefined) {
    add(400, ['bad-request'], 'the body is not valid JSON')
    add(413, ['payload-too-large'], 'the body is over 1 MiB')
    add(415, ['unsupported-media-type'], 'the body is not application/json')
    add(422, ['validation-failed'], 'the body breaks its schema')
  }
  const ifMatch = headers['if-match']
  if (ifMatch !== undefined) {
    if (ifMatch[REQUIRED_IN_CONTRACT] === true) add(428, ['precondition-required'], 'If-Match is missing')
    add(412, ['precondition-failed'], 'If-Match is not the current ETag')
  }
  if (route.idempotent) {
    add(400, ['validation-failed'], 'the Idempotency-Key is not 1–200 visible ASCII characters')
    add(422, ['unprocessable'], 'the Idempotency-Key was used with a different request')
  }
  if (api && guarded && route.method !== 'GET') {
    add(409, ['conflict'], "the change conflicts with the record's state or another record")
    add(422, ['unprocessable', 'validation-failed'], 'a rule of the domain refuses the values')
  }
  if (api && guarded) add(429, ['too-many-requests'], 'the caller is over the rate limit')
  if (route.expensive) add(429, ['too-many-requests'], 'the caller already runs as many exports and verifications as one may at once')
  add(503, ['service-unavailable'], 'the database or the audit trail is unavailable, or the service is overloaded')
  for (const [status, codes] of Object.entries(route.extra)) add(Number(status), codes ?? [], 'declared by the route')
  return new Map([...declared.entries()].sort(([a], [b]) => a - b))
}

const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema })
const REQUEST_ID = header('The request id (from the request when it looks like one, else generated); also request_id in problems and the audit trail')
const RETRY_AFTER = header('Seconds to wait before trying again', { type: 'integer', minimum: 0 })

/** The problem responses of a route, in the form Fastify and the contract generator take. */
export function problemResponsesOf(route: RouteOptions): Record<string, unknown> {
  const config = route.config ?? {}
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  const shape: RouteShape = {
    method: String(methods[0]),
    url: route.url,
    permission: config.permission,
    idempotent: config.idempotent === true,
    expensive: config.expensive === true,
    extra: config.problems ?? {},
    schema: (route.schema ?? {}) as RouteShape['schema'],
  }
  const responses: Record<string, unknown> = {}
  for (const [status, { codes, why }] of problemStatusesOf(shape)) {
    // Swagger takes a problem response's headers as schemas with a description.
    const asSchema = ({ description, schema }: { description: string; schema: Json }) => ({ ...schema, description })
    const headers: Record<string, unknown> = { 'x-request-id': asSchema(REQUEST_ID) }
    if (status === 401) headers['www-authenticate'] = asSchema(header('The bearer challenge (RFC 6750)'))
    if (status === 429 || status === 503) headers['retry-after'] = asSchema(RETRY_AFTER)
    const reasons = [...why].join('; ')
    responses[status] = {
      description: `${reasons.charAt(0).toUpperCase()}${reasons.slice(1)}. Codes: ${[...codes].map((c) => `\`${c}\``).join(', ')}`,
      headers,
      content: { 'application/problem+json': { schema: ProblemSchema } },
    }
  }
  return responses
}

/**
 * The headers of an operation's successful answers, added to the document (swagger copies the
 * route's `x-` schema keys onto the operation, and `declaredResponseHeaders` turns this one into
 * response headers): every answer has x-request-id and, with a JSON body, an ETag; a 201 has
 * Location unless the route says otherwise; an idempotent operation may answer a replay.
 */
export const SUCCESS_HEADERS = 'x-madoguchi-success-headers'

export function successHeadersOf(route: RouteOptions): { location: boolean; replay: boolean } {
  return { location: route.config?.location !== false, replay: route.config?.idempotent === true }
}

export function declaredResponseHeaders(document: Json): Json {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Json>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const sends = operation[SUCCESS_HEADERS] as { location: boolean; replay: boolean } | undefined
      delete operation[SUCCESS_HEADERS]
      const responses = (operation.responses ?? {}) as Record<string, Json>
      for (const [status, response] of Object.entries(responses)) {
        if (!/^[23]/.test(status)) continue
        const headers: Record<string, unknown> = { 'x-request-id': REQUEST_ID }
        if (response.content && status !== '304') headers.etag = ETAG
        if (status === '201' && sends?.location !== false) headers.location = header('Where the created record is', { type: 'string', format: 'uri-reference' })
        if (sends?.replay) headers['idempotent-replayed'] = REPLAYED
        response.headers = { ...(response.headers as Json | undefined), ...headers }
      }
    }
  }
  return document
}

const ETAG = header(
  'The record\'s version ("v3") where the answer is one versioned record: send it back as If-Match to change it. ' +
    'Otherwise a hash of the body: send it as If-None-Match for a 304.',
)
const REPLAYED = header('"true" when this is the stored answer to an earlier request with the same Idempotency-Key', { type: 'string', enum: ['true'] })
