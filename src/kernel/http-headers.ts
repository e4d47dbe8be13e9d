import { Type } from 'typebox'

/**
 * Request headers that several routes accept, written once. Routes declare them in `schema.headers`
 * (so the contract and the SDK show them); the values reach services as plain strings.
 */

/** Creating POSTs and PUTs: a retry with the same key and body gets the first response (idempotency.ts). */
export const IdempotencyKeyHeader = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ maxLength: 200, description: 'A retry with the same key and body returns the first response' })),
})

/** Changes that need the version the client read (preconditions.ts): 428 without, 412 when stale. */
export const IfMatchHeader = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'The ETag from GET; required (428 without, 412 when stale)' })),
})

/** Changes that check the version only when the client sends it. */
export const OptionalIfMatchHeader = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'The ETag from GET; checked when sent (412 when stale)' })),
})
