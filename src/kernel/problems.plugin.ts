import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { TokenRejected } from './auth.ts'
import { DatabaseUnavailable } from './db.ts'
import { badRequest, HttpProblem, problemBody, serviceUnavailable, unauthorized, type FieldError, type ProblemCode } from './errors.ts'
import { languageOf } from './language.ts'
import type { Message } from './messages/index.ts'
import { findUnstorable } from './storable-text.ts'
import { recordFailure } from './unit-of-work.plugin.ts'

/**
 * One error handler for the whole service: every error leaves as RFC 9457 problem+json with
 * the right status, never a stack trace, SQL text or a 500 for something the client sent.
 */
export default fp(
  async function problems(app: FastifyInstance) {
    app.setErrorHandler(async (error: FastifyError, request, reply) => {
      const problem = toProblem(error)
      if (problem.status >= 500 && problem.code === 'internal') request.log.error({ err: error }, 'unhandled error')
      else if (problem.status >= 500) request.log.warn({ err: error }, problem.message)
      if (problem.status < 500) {
        try {
          await recordFailure(request, problem.status)
        } catch (auditError) {
          // A refusal that cannot be audited is not answered as if it had been.
          request.log.warn({ err: auditError }, 'could not audit a refused request')
          return sendProblem(request, reply, serviceUnavailable('problem.audit_unavailable'))
        }
      }
      return sendProblem(request, reply, problem)
    })

    // Text PostgreSQL cannot store is the client's mistake (400), found before any query runs:
    // left to the database it would fail there and, written into the audit entry, make the
    // refusal itself unrecordable.
    app.addHook('preValidation', async (request) => {
      const found = unstorableIn(request)
      if (found) throw badRequest('problem.unstorable_text', [{ pointer: found, message: 'field.unstorable_text' }])
    })

    app.setNotFoundHandler(async (request, reply) => {
      const path = request.url.split('?')[0] ?? request.url
      // A known path called with a method it lacks is 405 with the methods it has (RFC 9110 §15.5.6).
      const allowed = METHODS.filter((method) => app.findRoute({ method, url: path }) !== null)
      if (allowed.length > 0) {
        const problem = new HttpProblem(
          405,
          'method-not-allowed',
          { id: 'problem.method_not_allowed', params: { path, method: request.method, allowed } },
          {},
          { allow: allowed.join(', ') },
        )
        return sendProblem(request, reply, problem)
      }
      return sendProblem(request, reply, new HttpProblem(404, 'not-found', { id: 'problem.no_route', params: { method: request.method, path } }))
    })
  },
  { name: 'problems' },
)

/** The methods the API's routes use (HEAD routes are not exposed; OPTIONS is CORS preflight only). */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/** Where a request holds unstorable text: its path parameters, query, headers or JSON body. */
function unstorableIn(request: FastifyRequest): string | null {
  const parts: [string, unknown][] = [
    ['params', request.params],
    ['query', request.query],
    ['headers', request.headers],
    ['body', request.body],
  ]
  for (const [where, value] of parts) {
    const found = findUnstorable(value)
    if (found !== null) return `${where}${found}`
  }
  return null
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: HttpProblem) {
  const body = problemBody(problem, request.url.split('?')[0] ?? request.url, request.id, languageOf(request))
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
  return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(body)
}

const STATUS_CODES: Record<number, ProblemCode> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  406: 'not-acceptable',
  409: 'conflict',
  412: 'precondition-failed',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  422: 'unprocessable',
  428: 'precondition-required',
  429: 'too-many-requests',
  503: 'service-unavailable',
}

interface SchemaError {
  instancePath: string
  keyword: string
  message: string
  params: Record<string, unknown>
}

/** Maps anything thrown during a request to the problem the client should see. */
function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error
  if (error instanceof TokenRejected) return unauthorized(error.reason, true)

  const e = error as FastifyError & { validation?: SchemaError[]; validationContext?: string }
  if (e.validation) {
    // A body that parses but breaks its schema is unprocessable (422); a bad query string,
    // path parameter or header is a bad request (400).
    const where = e.validationContext ?? 'body'
    const errors = fieldErrors(where, e.validation)
    const detail: Message = {
      id: 'problem.invalid_values_in',
      params: { count: errors.length, where: { text: whereText(where) }, fields: { fields: errors.slice(0, 3) } },
    }
    return where === 'body' ? new HttpProblem(422, 'validation-failed', detail, { errors }) : new HttpProblem(400, 'validation-failed', detail, { errors })
  }

  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpProblem(415, 'unsupported-media-type', 'problem.send_json')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpProblem(413, 'payload-too-large', 'problem.body_too_large')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpProblem(400, 'bad-request', 'problem.empty_json_body')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpProblem(400, 'bad-request', 'problem.invalid_json_body')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpProblem(400, 'bad-request', 'problem.content_length_mismatch')
  }

  if (error instanceof DatabaseUnavailable) return serviceUnavailable('problem.database_unavailable_retry', 5)
  const fromDatabase = databaseProblem(e)
  if (fromDatabase) return fromDatabase

  // Fastify's own client errors (bad URL encoding, JSON syntax, …) carry a 4xx statusCode.
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500
  // Their messages are Fastify's English; the client gets the status's own message instead.
  if (status === 401) return unauthorized('problem.authentication_required')
  if (status >= 400 && status < 500) return new HttpProblem(status, STATUS_CODES[status] ?? 'bad-request', { id: 'problem.client_error', params: { status } })
  if (status === 503) return serviceUnavailable('problem.busy_or_closing')
  return new HttpProblem(500, 'internal', 'problem.internal')
}

/**
 * PostgreSQL errors by SQLSTATE: constraint violations are the client's conflict or bad value,
 * losing the database is 503 with Retry-After. Never by the text of the message, and never naming a
 * table, column or constraint: a module that knows which field a constraint guards answers with it
 * (violatedUnique in errors.ts).
 */
function databaseProblem(e: { code?: unknown; constraint?: unknown }): HttpProblem | null {
  const code = typeof e.code === 'string' ? e.code : ''
  if (code === '23505') return new HttpProblem(409, 'conflict', 'problem.unique_value_exists')
  if (code === '23503') return new HttpProblem(409, 'conflict', 'problem.reference_conflict')
  if (code === '23514' || code === '23502') return new HttpProblem(422, 'validation-failed', 'problem.value_not_allowed')
  if (code.startsWith('22')) return new HttpProblem(422, 'validation-failed', 'problem.value_malformed')
  if (code === '40001' || code === '40P01' || code === '55P03') return serviceUnavailable('problem.record_busy', 1)
  if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')) return serviceUnavailable('problem.database_unavailable')
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return serviceUnavailable('problem.database_unavailable')
  return null
}

function fieldErrors(where: string, validation: SchemaError[]): FieldError[] {
  const seen = new Set<string>()
  const out: FieldError[] = []
  const push = (pointer: string, message: Message) => {
    const key = `${pointer} ${JSON.stringify(message)}`
    if (!seen.has(key)) {
      seen.add(key)
      out.push({ pointer: `${where}${pointer}`, message })
    }
  }
  for (const v of oneErrorPerUnion(validation)) {
    if (v.keyword === 'boolean') continue // TypeBox repeats additionalProperties as "schema is false"
    if (v.keyword === 'required' && Array.isArray(v.params.requiredProperties)) {
      for (const name of v.params.requiredProperties) push(`${v.instancePath}/${name}`, 'field.required')
    } else if (v.keyword === 'additionalProperties' && Array.isArray(v.params.additionalProperties)) {
      for (const name of v.params.additionalProperties) push(`${v.instancePath}/${name}`, 'field.unknown')
    } else {
      push(v.instancePath, schemaMessage(v))
    }
  }
  return out.slice(0, 50)
}

/**
 * A union fails once per member and once more as a whole: a nullable phone number typed wrong
 * came back as "must match pattern", "must be null" and "must match a schema in anyOf". A value
 * that is not null was not meant as null: where a union failed, its null member's complaint and
 * the union's own go, and what the other members say stays; the union's message is kept only
 * when nothing else is left to say.
 */
function oneErrorPerUnion(validation: SchemaError[]): SchemaError[] {
  const unions = new Set(validation.filter((v) => v.keyword === 'anyOf' || v.keyword === 'oneOf').map((v) => v.instancePath))
  if (unions.size === 0) return validation
  const isNullMember = (v: SchemaError) => v.keyword === 'type' && v.params.type === 'null' && unions.has(v.instancePath)
  const said = new Set(
    validation.filter((v) => unions.has(v.instancePath) && !isNullMember(v) && v.keyword !== 'anyOf' && v.keyword !== 'oneOf').map((v) => v.instancePath),
  )
  return validation.filter((v) => !isNullMember(v) && !((v.keyword === 'anyOf' || v.keyword === 'oneOf') && said.has(v.instancePath)))
}

function whereText(where: string): Message {
  if (where === 'querystring') return 'where.querystring'
  if (where === 'params') return 'where.params'
  if (where === 'headers') return 'where.headers'
  return 'where.body'
}

/** A schema keyword's failure as a message; the schema's own words (limits, formats, patterns) are its values. */
function schemaMessage(v: SchemaError): Message {
  const p = v.params
  const text = (value: unknown) => (Array.isArray(value) ? value.map(String) : String(value ?? ''))
  switch (v.keyword) {
    case 'type':
      return { id: 'schema.type', params: { type: text(p.type) } }
    case 'format':
      return { id: 'schema.format', params: { format: text(p.format) } }
    case 'pattern':
      return { id: 'schema.pattern', params: { pattern: text(p.pattern) } }
    case 'minLength':
      return { id: 'schema.min_length', params: { limit: text(p.limit) } }
    case 'maxLength':
      return { id: 'schema.max_length', params: { limit: text(p.limit) } }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { id: 'schema.compare', params: { comparison: text(p.comparison), limit: text(p.limit) } }
    case 'minItems':
      return { id: 'schema.min_items', params: { limit: text(p.limit) } }
    case 'maxItems':
      return { id: 'schema.max_items', params: { limit: text(p.limit) } }
    case 'uniqueItems':
      return 'schema.unique_items'
    case 'enum':
      return { id: 'schema.enum', params: { allowed: text(p.allowedValues) } }
    case 'const':
      return 'schema.const'
    case 'anyOf':
    case 'oneOf':
      return 'schema.any_of'
    case 'multipleOf':
      return { id: 'schema.multiple_of', params: { value: text(p.multipleOf) } }
    default:
      return 'schema.invalid'
  }
}
