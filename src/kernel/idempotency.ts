import crypto from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { sql } from 'kysely'
import { canonicalJson } from './canonical-json.ts'
import type { Db, Trx } from './db.ts'
import { badRequest, HttpProblem } from './errors.ts'
import { IDEMPOTENCY_KEY_PATTERN } from './http-headers.ts'

/** How long a key is remembered. */
const IDEMPOTENCY_KEY_TTL_HOURS = 24
// The pattern the contract declares (routes validate it too; this guards any route that forgets).
const KEY = new RegExp(IDEMPOTENCY_KEY_PATTERN)

export interface StoredResponse {
  status: number
  body: unknown
  location: string | null
}

export function idempotencyKeyOf(request: FastifyRequest): string | null {
  const key = request.headers['idempotency-key']
  if (key === undefined) return null
  if (typeof key !== 'string' || !KEY.test(key)) throw badRequest('idempotency.key_invalid', [{ pointer: 'headers/idempotency-key', message: 'field.invalid' }])
  return key
}

function requestHash(request: FastifyRequest): string {
  return crypto
    .createHash('sha256')
    .update(canonicalJson({ params: request.params ?? {}, body: request.body ?? null }))
    .digest('hex')
}

/**
 * Claims the key inside the request's transaction. Returns null when this request is the
 * first with the key (it goes on and its response is stored by `rememberResponse`), or the
 * stored response of the earlier request with the same key and body.
 */
export async function claimIdempotencyKey(trx: Trx, request: FastifyRequest, subject: string, operation: string, key: string): Promise<StoredResponse | null> {
  const hash = requestHash(request)
  const claimed = await trx
    .insertInto('idempotency_keys')
    .values({ subject, operation, key, request_hash: hash })
    .onConflict((oc) => oc.doNothing())
    .returning('key')
    .executeTakeFirst()
  if (claimed) return null
  const earlier = await trx
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status', 'response', 'location'])
    .where('subject', '=', subject)
    .where('operation', '=', operation)
    .where('key', '=', key)
    .executeTakeFirstOrThrow()
  if (earlier.request_hash !== hash) {
    throw new HttpProblem(422, 'unprocessable', 'idempotency.key_reused')
  }
  return { status: earlier.status ?? 200, body: earlier.response, location: earlier.location }
}

export async function rememberResponse(trx: Trx, subject: string, operation: string, key: string, response: StoredResponse): Promise<void> {
  await trx
    .updateTable('idempotency_keys')
    .set({ status: response.status, response: JSON.stringify(response.body ?? null), location: response.location })
    .where('subject', '=', subject)
    .where('operation', '=', operation)
    .where('key', '=', key)
    .execute()
}

/** Forgets keys older than the TTL (a background job on every instance; deletes are idempotent). */
export async function purgeExpiredIdempotencyKeys(db: Db): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})`)
    .executeTakeFirst()
  return Number(result.numDeletedRows ?? 0)
}
