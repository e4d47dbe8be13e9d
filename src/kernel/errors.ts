import { Type, type Static } from 'typebox'
import type { Language } from './language.ts'
import { render, type LocalFieldError, type Message } from './messages/index.ts'

/**
 * Every problem code the API answers, in one list: the contract's Problem `code` enum is this
 * list, so a code added here is documented at once. Clients narrow problems by status and code.
 */
export const PROBLEM_CODES = [
  'bad-request',
  'validation-failed',
  'unauthorized',
  'forbidden',
  'not-found',
  'method-not-allowed',
  'conflict',
  'precondition-failed',
  'precondition-required',
  'payload-too-large',
  'unsupported-media-type',
  'not-acceptable',
  'too-many-requests',
  'unprocessable',
  'service-unavailable',
  'internal',
] as const
export type ProblemCode = (typeof PROBLEM_CODES)[number]

/**
 * RFC 9457 problem details. Every error the API returns has this shape, served as
 * application/problem+json. `code` is a stable machine-readable name for the problem;
 * `errors` lists failing fields for validation problems.
 */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type: urn:madoguchi:problem:<code>, or about:blank' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(
      Type.String({
        format: 'uri-reference',
        description: "The path of the request that met the problem, without its query string (the request's id is request_id)",
        examples: ['/v1/cases/01936f2e-8a4b-7c3d-9e5f-0a1b2c3d4e5f'],
      }),
    ),
    code: Type.Unsafe<ProblemCode>({ type: 'string', enum: [...PROBLEM_CODES], description: 'What went wrong, for programs: stable across versions' }),
    request_id: Type.Optional(Type.String({ description: 'The request id, as in the x-request-id response header and the audit trail' })),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          pointer: Type.String({ description: 'JSON Pointer (RFC 6901) to the failing value, prefixed by where it was: body, query, params or headers' }),
          message: Type.String(),
        }),
      ),
    ),
    allowed: Type.Optional(Type.Array(Type.String(), { description: 'What would have been accepted instead (e.g. transitions)' })),
  },
  { $id: 'Problem', additionalProperties: true },
)
export type Problem = Static<typeof ProblemSchema>

/** A failing field: where it is and what is wrong with it, as a message (rendered per language). */
export type FieldError = LocalFieldError

/**
 * An error the API means to return. Throw it anywhere in a request; the error handler renders it
 * in the caller's language. The detail is a message id with its values, never prose (messages/).
 */
export class HttpProblem extends Error {
  readonly status: number
  readonly code: ProblemCode
  readonly detail: Message
  /** Extension members of the problem body. */
  readonly extra: { errors?: FieldError[]; allowed?: string[]; [key: string]: unknown }
  /** Response headers that go with the problem (Retry-After, WWW-Authenticate, …). */
  readonly headers: Record<string, string>

  constructor(status: number, code: ProblemCode, detail: Message, extra: HttpProblem['extra'] = {}, headers: Record<string, string> = {}) {
    // The English text, for logs.
    super(render(detail, 'en'))
    this.status = status
    this.code = code
    this.detail = detail
    this.extra = extra
    this.headers = headers
  }

  title(language: Language): string {
    return render(`title.${this.code}`, language)
  }
}

export const badRequest = (detail: Message, errors?: FieldError[]) => new HttpProblem(400, 'bad-request', detail, errors ? { errors } : {})
export const unprocessable = (detail: Message, errors?: FieldError[]) => new HttpProblem(422, 'validation-failed', detail, errors ? { errors } : {})
/** 422 for field errors a service found: the detail counts and lists them. */
export const invalidValues = (errors: FieldError[]) =>
  unprocessable({ id: 'problem.invalid_values', params: { count: errors.length, fields: { fields: errors } } }, errors)
/** RFC 6750: a bare challenge when no token was sent, invalid_token when one was refused. */
export const unauthorized = (detail: Message, tokenPresent = false) =>
  new HttpProblem(
    401,
    'unauthorized',
    detail,
    {},
    {
      'www-authenticate': tokenPresent
        ? `Bearer realm="madoguchi", error="invalid_token", error_description="${render(detail, 'en').replace(/["\\]/g, '')}"`
        : 'Bearer realm="madoguchi"',
    },
  )
export const forbidden = (detail: Message) => new HttpProblem(403, 'forbidden', detail)
/** Also what an id outside the caller's reach answers, so ids leak nothing. */
export const notFound = (what: Message) => new HttpProblem(404, 'not-found', what)
export const conflict = (detail: Message, extra: HttpProblem['extra'] = {}) => new HttpProblem(409, 'conflict', detail, extra)
export const preconditionFailed = (detail: Message) => new HttpProblem(412, 'precondition-failed', detail)
export const preconditionRequired = (detail: Message) => new HttpProblem(428, 'precondition-required', detail)
export const serviceUnavailable = (detail: Message, retryAfterSeconds = 5) =>
  new HttpProblem(503, 'service-unavailable', detail, {}, { 'retry-after': String(retryAfterSeconds) })

/**
 * The unique constraint (or index) a PostgreSQL error says was violated, so a module can answer
 * with the field and what conflicts instead of the database's name for it; null for other errors.
 */
function violatedUnique(error: unknown): string | null {
  const e = error as { code?: unknown; constraint?: unknown } | null
  if (e?.code !== '23505') return null
  return typeof e.constraint === 'string' ? e.constraint : ''
}

/** For `.catch`: a unique violation becomes 409 naming the field that conflicts; anything else is rethrown. */
export const conflictOnUnique =
  (pointer: string, detail: Message) =>
  (error: unknown): never => {
    if (violatedUnique(error) !== null) throw conflict(detail, { errors: [{ pointer, message: 'field.already_used' }] })
    throw error
  }

export function problemBody(p: HttpProblem, instance: string, requestId: string, language: Language): Problem {
  const { errors, ...extra } = p.extra
  return {
    type: p.code === 'internal' ? 'about:blank' : `urn:madoguchi:problem:${p.code}`,
    title: p.title(language),
    status: p.status,
    detail: render(p.detail, language),
    instance,
    code: p.code,
    request_id: requestId,
    ...extra,
    ...(errors ? { errors: errors.map((e) => ({ pointer: e.pointer, message: render(e.message, language) })) } : {}),
  }
}

/**
 * A setting (an environment variable, a secret) that stops the service or a command before it
 * starts; the message names the setting. Not an HTTP problem: nothing has been served yet.
 */
export class ConfigError extends Error {
  override name = 'ConfigError'
}
