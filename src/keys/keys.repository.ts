import { sql, type Selectable } from 'kysely'
import type { Queryable } from '../kernel/db.ts'
import type { SealedPrivateKey } from './key-encryption.ts'
import type { KeyPurpose, SigningKeysTable } from './keys.tables.ts'

export type KeyRow = Selectable<SigningKeysTable>

/** The key that signs for a purpose now, with its sealed private part. */
export interface ActiveKeyRow extends SealedPrivateKey {
  kid: string
  alg: string
  purpose: KeyPurpose
}

export interface NewKey extends ActiveKeyRow {
  public_jwk: Record<string, unknown>
  created_by: string | null
  reason: string | null
}

const SEALED_COLUMNS = ['kek_id', 'data_key_iv', 'data_key_tag', 'data_key_ciphertext', 'private_key_iv', 'private_key_tag', 'private_key_ciphertext'] as const

function asActive(row: Pick<KeyRow, 'kid' | 'alg' | 'purpose' | (typeof SEALED_COLUMNS)[number]>): ActiveKeyRow {
  // The table's check constraint guarantees an active key's sealed part is complete.
  return {
    kid: row.kid,
    alg: row.alg,
    purpose: row.purpose,
    kek_id: row.kek_id!,
    data_key_iv: row.data_key_iv!,
    data_key_tag: row.data_key_tag!,
    data_key_ciphertext: row.data_key_ciphertext!,
    private_key_iv: row.private_key_iv!,
    private_key_tag: row.private_key_tag!,
    private_key_ciphertext: row.private_key_ciphertext!,
  }
}

/** The active key of a purpose, if one exists. */
export async function activeKey(q: Queryable, purpose: KeyPurpose, options: { forUpdate?: boolean } = {}): Promise<ActiveKeyRow | undefined> {
  let query = q
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'purpose', ...SEALED_COLUMNS])
    .where('purpose', '=', purpose)
    .where('superseded_at', 'is', null)
  if (options.forUpdate) query = query.forUpdate()
  const row = await query.executeTakeFirst()
  return row ? asActive(row) : undefined
}

/** Every active key (one per purpose); locked when re-encrypting them. */
export async function activeKeys(q: Queryable, options: { forUpdate?: boolean } = {}): Promise<ActiveKeyRow[]> {
  let query = q
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'purpose', ...SEALED_COLUMNS])
    .where('superseded_at', 'is', null)
    .orderBy('purpose')
  if (options.forUpdate) query = query.forUpdate()
  return (await query.execute()).map(asActive)
}

function insertable(key: NewKey) {
  return {
    kid: key.kid,
    purpose: key.purpose,
    alg: key.alg,
    public_jwk: JSON.stringify(key.public_jwk),
    created_by: key.created_by,
    reason: key.reason,
    kek_id: key.kek_id,
    data_key_iv: key.data_key_iv,
    data_key_tag: key.data_key_tag,
    data_key_ciphertext: key.data_key_ciphertext,
    private_key_iv: key.private_key_iv,
    private_key_tag: key.private_key_tag,
    private_key_ciphertext: key.private_key_ciphertext,
  }
}

/**
 * Stores a new active key unless another instance stored one first (the unique index on the
 * active key per purpose decides; the loser's insert does nothing). Returns whether it won.
 */
export async function insertKeyIfNone(q: Queryable, key: NewKey): Promise<boolean> {
  const inserted = await q
    .insertInto('signing_keys')
    .values(insertable(key))
    .onConflict((oc) => oc.column('purpose').where('superseded_at', 'is', null).doNothing())
    .returning('kid')
    .executeTakeFirst()
  return inserted !== undefined
}

/**
 * Takes a key out of signing: its private part is erased, and it stays published until
 * `publishedForSeconds` from now (null: for good).
 */
export async function supersedeKey(q: Queryable, kid: string, publishedForSeconds: number | null): Promise<Pick<KeyRow, 'superseded_at' | 'retires_at'>> {
  return q
    .updateTable('signing_keys')
    .set({
      superseded_at: sql<Date>`now()`,
      retires_at: publishedForSeconds === null ? null : sql<Date>`now() + make_interval(secs => ${publishedForSeconds})`,
      kek_id: null,
      data_key_iv: null,
      data_key_tag: null,
      data_key_ciphertext: null,
      private_key_iv: null,
      private_key_tag: null,
      private_key_ciphertext: null,
    })
    .where('kid', '=', kid)
    .where('superseded_at', 'is', null)
    .returning(['superseded_at', 'retires_at'])
    .executeTakeFirstOrThrow()
}

/** Replaces an active key's sealed part (re-encryption for another key-encryption key). */
export async function resealKey(q: Queryable, kid: string, sealed: SealedPrivateKey): Promise<void> {
  await q
    .updateTable('signing_keys')
    .set({
      kek_id: sealed.kek_id,
      data_key_iv: sealed.data_key_iv,
      data_key_tag: sealed.data_key_tag,
      data_key_ciphertext: sealed.data_key_ciphertext,
    })
    .where('kid', '=', kid)
    .where('superseded_at', 'is', null)
    .executeTakeFirstOrThrow()
}

/** Public parts to publish for a purpose: the active key and those not yet retired. */
export async function publishedKeys(q: Queryable, purpose: KeyPurpose): Promise<Array<Pick<KeyRow, 'kid' | 'alg' | 'public_jwk'>>> {
  return q
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'public_jwk'])
    .where('purpose', '=', purpose)
    .where((eb) => eb.or([eb('superseded_at', 'is', null), eb('retires_at', 'is', null), eb('retires_at', '>', sql<Date>`now()`)]))
    .orderBy('created_at', 'desc')
    .execute()
}

/** The public part of one key of a purpose, published or not (verifying what it signed). */
export async function publicKeyOf(q: Queryable, purpose: KeyPurpose, kid: string): Promise<Pick<KeyRow, 'kid' | 'alg' | 'public_jwk'> | undefined> {
  return q.selectFrom('signing_keys').select(['kid', 'alg', 'public_jwk']).where('purpose', '=', purpose).where('kid', '=', kid).executeTakeFirst()
}

export type KeyListRow = Omit<KeyRow, (typeof SEALED_COLUMNS)[number] | 'public_jwk'> & { kek_id: string | null; published: boolean }

/** Every key, newest first, without any sealed material. */
export async function listKeys(q: Queryable): Promise<KeyListRow[]> {
  return q
    .selectFrom('signing_keys')
    .select(['kid', 'purpose', 'alg', 'created_at', 'created_by', 'reason', 'superseded_at', 'retires_at', 'kek_id'])
    .select(sql<boolean>`superseded_at is null or retires_at is null or retires_at > now()`.as('published'))
    .orderBy('created_at', 'desc')
    .orderBy('kid')
    .execute()
}
