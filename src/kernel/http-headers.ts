import { Type } from 'typebox'

/**
 * Request headers that several routes accept, written once. Routes declare them in `schema.headers`
 * (so the contract and the SDK show them); the values reach services as plain strings.
 */

/**
 * Marks a header the contract declares required although validation lets it through: the route
 * checks it itself and answers with a more precise status than a 400 (If-Match: 428, RFC 6585).
 * The document's final transform (openapi-components.ts) turns the marker into `required: true`.
 */
export const REQUIRED_IN_CONTRACT = 'x-madoguchi-required'

/**
 * What the service accepts as an Idempotency-Key: 1–200 visible ASCII characters (no spaces),
 * so a key is the same bytes in every proxy, log and database (idempotency.ts checks it too).
 */
export const IDEMPOTENCY_KEY_PATTERN = '^[!-~]{1,200}$'

/** Creating POSTs and PUTs: a retry with the same key and body gets the first response (idempotency.ts). */
export const IdempotencyKeyHeader = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: IDEMPOTENCY_KEY_PATTERN,
      description: 'A retry with the same key and body returns the first response: 1–200 visible ASCII characters, no spaces',
      examples: ['01JD6W7Q0T1H8Z8M0V6XK5Q2R4'],
    }),
  ),
})

/** Changes that need the version the client read (preconditions.ts): 428 without, 412 when stale. */
export const IfMatchHeader = Type.Object({
  'if-match': Type.Optional(
    Type.String({ description: 'The ETag from GET; required (428 without, 412 when stale)', examples: ['"v3"'], [REQUIRED_IN_CONTRACT]: true }),
  ),
})

/** Changes that check the version only when the client sends it. */
export const OptionalIfMatchHeader = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'The ETag from GET; checked when sent (412 when stale)', examples: ['"v3"'] })),
})
