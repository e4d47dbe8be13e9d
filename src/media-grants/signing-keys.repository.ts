import { sql } from 'kysely'
import type { Queryable } from '../kernel/db.js'

export interface StoredKey {
  kid: string
  alg: string
  public_jwk: Record<string, unknown>
  private_jwk: Record<string, unknown>
}

/** The active key for media grants, if one exists. */
export async function activeSigningKey(q: Queryable): Promise<StoredKey | undefined> {
  return q
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'public_jwk', 'private_jwk'])
    .where('purpose', '=', 'media_grant')
    .where('retired_at', 'is', null)
    .executeTakeFirst()
}

/**
 * Stores a new active key unless another instance stored one first (the unique index on the
 * active key per purpose decides; the loser's insert does nothing). Returns whether it won.
 */
export async function insertSigningKeyIfNone(q: Queryable, key: StoredKey): Promise<boolean> {
  const inserted = await q
    .insertInto('signing_keys')
    .values({ kid: key.kid, purpose: 'media_grant', alg: key.alg, public_jwk: JSON.stringify(key.public_jwk), private_jwk: JSON.stringify(key.private_jwk) })
    .onConflict((oc) => oc.column('purpose').where('retired_at', 'is', null).doNothing())
    .returning('kid')
    .executeTakeFirst()
  return inserted !== undefined
}

/** Public keys to publish: the active one and those retired within `graceSeconds` (their grants may still be valid). */
export async function publishedKeys(q: Queryable, graceSeconds: number): Promise<Array<Pick<StoredKey, 'kid' | 'alg' | 'public_jwk'>>> {
  return q
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'public_jwk'])
    .where('purpose', '=', 'media_grant')
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', sql<Date>`now() - make_interval(secs => ${graceSeconds})`)]))
    .orderBy('created_at', 'desc')
    .execute()
}
