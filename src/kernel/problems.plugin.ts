import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { TokenRejected } from './auth.js'
import { DatabaseUnavailable } from './db.js'
import { badRequest, HttpProblem, problemBody, serviceUnavailable, unauthorized, type FieldError, type ProblemCode } from './errors.js'
import { findUnstorable } from './storable-text.js'
import { recordFailure } from './unit-of-work.plugin.js'

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
          return sendProblem(request, reply, serviceUnavailable('the audit trail is unavailable; try again shortly'))
        }
      }
      return sendProblem(request, reply, problem)
    })

    // Text PostgreSQL cannot store is the client's mistake (400), found before any query runs:
    // left to the database it would fail there and, written into the audit entry, make the
    // refusal itself unrecordable.
    app.addHook('preValidation', async (request) => {
      const found = unstorableIn(request)
      if (found)
        throw badRequest('a value holds a character that cannot be stored (NUL or an unpaired surrogate)', [
          { pointer: found, message: 'holds a NUL byte or an unpaired surrogate' },
        ])
    })

    app.setNotFoundHandler(async (request, reply) => {
      const path = request.url.split('?')[0] ?? request.url
      // A known path called with a method it lacks is 405 with the methods it has (RFC 9110 §15.5.6).
      const allowed = METHODS.filter((method) => app.findRoute({ method, url: path }) !== null)
      if (allowed.length > 0) {
        const problem = new HttpProblem(
          405,
          'method-not-allowed',
          `${path} answers ${allowed.join(', ')}, not ${request.method}`,
          {},
          { allow: allowed.join(', ') },
        )
        return sendProblem(request, reply, problem)
      }
      return sendProblem(request, reply, new HttpProblem(404, 'not-found', `no route for ${request.method} ${path}`))
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
  const body = problemBody(problem, request.url.split('?')[0] ?? request.url, request.id)
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
  if (error instanceof TokenRejected) return unauthorized(error.message, true)

  const e = error as FastifyError & { validation?: SchemaError[]; validationContext?: string }
  if (e.validation) {
    // A body that parses but breaks its schema is unprocessable (422); a bad query string,
    // path parameter or header is a bad request (400).
    const where = e.validationContext ?? 'body'
    const errors = fieldErrors(where, e.validation)
    const detail = `${errors.length} invalid value${errors.length === 1 ? '' : 's'} in the ${where}: ${errors
      .slice(0, 3)
      .map((f) => `${f.pointer} ${f.message}`)
      .join('; ')}`
    return where === 'body' ? new HttpProblem(422, 'validation-failed', detail, { errors }) : new HttpProblem(400, 'validation-failed', detail, { errors })
  }

  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpProblem(415, 'unsupported-media-type', 'send the body as application/json')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpProblem(413, 'payload-too-large', 'the request body is larger than this service accepts')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpProblem(400, 'bad-request', 'the body is empty but the content type says JSON')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpProblem(400, 'bad-request', 'the body is not valid JSON')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpProblem(400, 'bad-request', 'the Content-Length header does not match the body')
  }

  if (error instanceof DatabaseUnavailable) return serviceUnavailable('the database is unavailable; try again shortly', 5)
  const fromDatabase = databaseProblem(e)
  if (fromDatabase) return fromDatabase

  // Fastify's own client errors (bad URL encoding, JSON syntax, …) carry a 4xx statusCode.
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500
  if (status === 401) return unauthorized(e.message)
  if (status >= 400 && status < 500) return new HttpProblem(status, STATUS_CODES[status] ?? 'bad-request', e.message)
  if (status === 503) return serviceUnavailable('the service is busy or closing; try again shortly')
  return new HttpProblem(500, 'internal', 'an unexpected error occurred; it has been logged with the request id')
}

/**
 * PostgreSQL errors by SQLSTATE: constraint violations are the client's conflict or bad value,
 * losing the database is 503 with Retry-After. Never by the text of the message.
 */
function databaseProblem(e: { code?: unknown; constraint?: unknown }): HttpProblem | null {
  const code = typeof e.code === 'string' ? e.code : ''
  if (code === '23505') return new HttpProblem(409, 'conflict', 'a record with the same unique value already exists', constraintOf(e))
  if (code === '23503') return new HttpProblem(409, 'conflict', 'a referenced record does not exist or is still referenced', constraintOf(e))
  if (code === '23514' || code === '23502') return new HttpProblem(422, 'validation-failed', 'a value is outside what the record allows', constraintOf(e))
  if (code.startsWith('22')) return new HttpProblem(422, 'validation-failed', 'a value is out of range or malformed')
  if (code === '40001' || code === '40P01' || code === '55P03') return serviceUnavailable('the record was busy; retry the request', 1)
  if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')) return serviceUnavailable('the database is unavailable')
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return serviceUnavailable('the database is unavailable')
  return null
}

function constraintOf(e: { constraint?: unknown }): HttpProblem['extra'] {
  return typeof e.constraint === 'string' ? { constraint: e.constraint } : {}
}

function fieldErrors(where: string, validation: SchemaError[]): FieldError[] {
  const seen = new Set<string>()
  const out: FieldError[] = []
  const push = (pointer: string, message: string) => {
    const key = `${pointer} ${message}`
    if (!seen.has(key)) {
      seen.add(key)
      out.push({ pointer: `${where}${pointer}`, message })
    }
  }
  for (const v of validation) {
    if (v.keyword === 'boolean') continue // TypeBox repeats additionalProperties as "schema is false"
    if (v.keyword === 'required' && Array.isArray(v.params.requiredProperties)) {
      for (const name of v.params.requiredProperties) push(`${v.instancePath}/${name}`, 'is required')
    } else if (v.keyword === 'additionalProperties' && Array.isArray(v.params.additionalProperties)) {
      for (const name of v.params.additionalProperties) push(`${v.instancePath}/${name}`, 'is not a known field')
    } else {
      push(v.instancePath, v.message)
    }
  }
  return out.slice(0, 50)
}
