import { Type, type Static } from 'typebox'

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

const TITLES: Record<ProblemCode, string> = {
  'bad-request': 'Bad request',
  'validation-failed': 'Validation failed',
  unauthorized: 'Authentication required',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  conflict: 'Conflict',
  'precondition-failed': 'Precondition failed',
  'precondition-required': 'Precondition required',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  'not-acceptable': 'Not acceptable',
  'too-many-requests': 'Too many requests',
  unprocessable: 'Unprocessable request',
  'service-unavailable': 'Service unavailable',
  internal: 'Internal server error',
}

export interface FieldError {
  pointer: string
  message: string
}

/** An error the API means to return. Throw it anywhere in a request; the error handler renders it. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: ProblemCode,
    detail: string,
    /** Extension members of the problem body. */
    readonly extra: { errors?: FieldError[]; allowed?: string[]; [key: string]: unknown } = {},
    /** Response headers that go with the problem (Retry-After, WWW-Authenticate, …). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail)
  }

  get title(): string {
    return TITLES[this.code]
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) => new HttpProblem(400, 'bad-request', detail, errors ? { errors } : {})
export const unprocessable = (detail: string, errors?: FieldError[]) => new HttpProblem(422, 'validation-failed', detail, errors ? { errors } : {})
/** RFC 6750: a bare challenge when no token was sent, invalid_token when one was refused. */
export const unauthorized = (detail: string, tokenPresent = false) =>
  new HttpProblem(
    401,
    'unauthorized',
    detail,
    {},
    {
      'www-authenticate': tokenPresent
        ? `Bearer realm="madoguchi", error="invalid_token", error_description="${detail.replace(/["\\]/g, '')}"`
        : 'Bearer realm="madoguchi"',
    },
  )
export const forbidden = (detail: string) => new HttpProblem(403, 'forbidden', detail)
/** Also what an id outside the caller's reach answers, so ids leak nothing. */
export const notFound = (what: string) => new HttpProblem(404, 'not-found', `${what} not found`)
export const conflict = (detail: string, extra: HttpProblem['extra'] = {}) => new HttpProblem(409, 'conflict', detail, extra)
export const preconditionFailed = (detail: string) => new HttpProblem(412, 'precondition-failed', detail)
export const preconditionRequired = (detail: string) => new HttpProblem(428, 'precondition-required', detail)
export const serviceUnavailable = (detail: string, retryAfterSeconds = 5) =>
  new HttpProblem(503, 'service-unavailable', detail, {}, { 'retry-after': String(retryAfterSeconds) })

export function problemBody(p: HttpProblem, instance: string, requestId: string): Problem {
  return {
    type: p.code === 'internal' ? 'about:blank' : `urn:madoguchi:problem:${p.code}`,
    title: p.title,
    status: p.status,
    detail: p.message,
    instance,
    code: p.code,
    request_id: requestId,
    ...p.extra,
  }
}

/**
 * A setting (an environment variable, a secret) that stops the service or a command before it
 * starts; the message names the setting. Not an HTTP problem: nothing has been served yet.
 */
export class ConfigError extends Error {
  override name = 'ConfigError'
}
