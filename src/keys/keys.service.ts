import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'
import { sql } from 'kysely'
import type { ServiceContext } from '../kernel/context.ts'
import type { Db, Queryable } from '../kernel/db.ts'
import { ConfigError, serviceUnavailable } from '../kernel/errors.ts'
import { type KeyEncryptionKey, WrongKeyEncryptionKey } from './key-encryption.ts'
import {
  activeKey,
  activeKeys,
  insertKeyIfNone,
  listKeys,
  publicKeyOf,
  publishedKeys,
  resealKey,
  supersedeKey,
  type ActiveKeyRow,
  type NewKey,
} from './keys.repository.ts'
import type { KeyRotationView, RotateKey, SigningKeyView } from './keys.schemas.ts'
import type { KeyPurpose } from './keys.tables.ts'

/**
 * Signing keys: one active ES256 key per purpose, kept in PostgreSQL with its private part
 * sealed by the key-encryption key (key-encryption.ts). Every instance reads the active key
 * from the database each time it signs, so a rotation made anywhere takes effect everywhere at
 * once; what an instance keeps in memory is only the opened private key of each kid (a kid's
 * key never changes), so a key is decrypted once per instance rather than per signature.
 */
const KEY_ALG = 'ES256'

/**
 * How long a superseded media grant key stays published: a grant signed by it a moment before
 * the rotation lives at most the longest MEDIA_GRANT_TTL_SECONDS (3600 s, whatever an instance
 * is configured with), and media servers get 60 s of clock leeway.
 */
export const GRANT_KEY_PUBLISHED_AFTER_SUPERSEDED_SECONDS = 3600 + 60

// Rotations (and creations by rotation) of one purpose run one at a time, on any instance.
const KEYS_LOCK = 0x6d61_6403
const PURPOSE_LOCK: Record<KeyPurpose, number> = { media_grant: 1, audit_checkpoint: 2 }

export interface Signer {
  kid: string
  alg: string
  key: CryptoKey
}

export interface PublicJwk extends Record<string, unknown> {
  kty: string
  kid: string
  alg: string
  use: 'sig'
}

export interface Rotation {
  purpose: KeyPurpose
  previous: { kid: string; superseded_at: Date; retires_at: Date | null } | null
  current: { kid: string; alg: string }
}

const OPENED_KEYS_KEPT = 32

export class SigningKeys {
  readonly #kek: KeyEncryptionKey | null
  readonly #opened = new Map<string, CryptoKey>()

  /** Without a key-encryption key (contract generation) nothing can be signed. */
  constructor(kek: KeyEncryptionKey | null) {
    this.#kek = kek
  }

  /** The fingerprint of the key-encryption key in use (shown at start). */
  get kekId(): string | null {
    return this.#kek?.id ?? null
  }

  /** The key that signs for `purpose` now, created by the first instance that needs one. */
  async signer(q: Queryable, purpose: KeyPurpose): Promise<Signer> {
    let row = await activeKey(q, purpose)
    if (!row) {
      // Concurrent creators race on the unique index: one insert wins, the others read its key.
      await insertKeyIfNone(q, await this.#generate(purpose, { createdBy: null, reason: null }))
      row = await activeKey(q, purpose)
      if (!row) throw new Error(`no active ${purpose} key after creating one`)
    }
    return { kid: row.kid, alg: row.alg, key: await this.#open(row) }
  }

  /** Makes sure a key exists for `purpose` (so its JWKS is never empty). */
  async ensure(q: Queryable, purpose: KeyPurpose): Promise<void> {
    if (!(await activeKey(q, purpose))) await insertKeyIfNone(q, await this.#generate(purpose, { createdBy: null, reason: null }))
  }

  /**
   * A new key takes over signing for `purpose`. The old one loses its private part at once and
   * stays published: a media grant key until every grant it signed has expired, a checkpoint
   * key for good (checkpoints are kept for good, and verified long after). `trx` must be a
   * transaction: the rotation lock is held until it commits.
   */
  async rotate(trx: Queryable, purpose: KeyPurpose, by: { actor: string; reason: string }): Promise<Rotation> {
    await sql`select pg_advisory_xact_lock(${KEYS_LOCK}::int4, ${PURPOSE_LOCK[purpose]}::int4)`.execute(trx)
    const next = await this.#generate(purpose, { createdBy: by.actor, reason: by.reason })
    for (;;) {
      const current = await activeKey(trx, purpose, { forUpdate: true })
      if (current) {
        const ended = await supersedeKey(trx, current.kid, purpose === 'media_grant' ? GRANT_KEY_PUBLISHED_AFTER_SUPERSEDED_SECONDS : null)
        this.#opened.delete(current.kid)
        await insertKeyIfNone(trx, next)
        return {
          purpose,
          previous: { kid: current.kid, superseded_at: ended.superseded_at!, retires_at: ended.retires_at },
          current: { kid: next.kid, alg: next.alg },
        }
      }
      // No key yet: the new one is the first, unless a first use created one meanwhile.
      if (await insertKeyIfNone(trx, next)) return { purpose, previous: null, current: { kid: next.kid, alg: next.alg } }
    }
  }

  /** The public JWKS of a purpose: only public parts, of the keys not yet retired. */
  async jwks(q: Queryable, purpose: KeyPurpose): Promise<{ keys: PublicJwk[] }> {
    const keys = await publishedKeys(q, purpose)
    return { keys: keys.map((k) => publicJwk(k.kid, k.alg, k.public_jwk)) }
  }

  /** The public key of `kid` for `purpose`, to verify something it signed; undefined when unknown. */
  async publicKey(q: Queryable, purpose: KeyPurpose, kid: string): Promise<CryptoKey | undefined> {
    const row = await publicKeyOf(q, purpose, kid)
    if (!row) return undefined
    return (await importJWK({ ...(row.public_jwk as JWK), alg: row.alg }, row.alg)) as CryptoKey
  }

  async #generate(purpose: KeyPurpose, by: { createdBy: string | null; reason: string | null }): Promise<NewKey> {
    const kek = this.#requireKek()
    const { publicKey, privateKey } = await generateKeyPair(KEY_ALG, { extractable: true })
    const publicPart = await exportJWK(publicKey)
    const kid = await calculateJwkThumbprint(publicPart)
    const sealed = kek.seal({ kid, alg: KEY_ALG, purpose }, await exportJWK(privateKey))
    return { kid, alg: KEY_ALG, purpose, public_jwk: publicPart as Record<string, unknown>, created_by: by.createdBy, reason: by.reason, ...sealed }
  }

  async #open(row: ActiveKeyRow): Promise<CryptoKey> {
    const known = this.#opened.get(row.kid)
    if (known) return known
    const kek = this.#requireKek()
    let jwk: JWK
    try {
      jwk = kek.open(row, bytesOf(row))
    } catch (error) {
      // A misconfigured instance: the request cannot be served here, and the log says why.
      throw Object.assign(serviceUnavailable('keys.signing_unavailable_here', 30), { cause: error })
    }
    const key = (await importJWK(jwk, row.alg)) as CryptoKey
    if (this.#opened.size >= OPENED_KEYS_KEPT) this.#opened.clear()
    this.#opened.set(row.kid, key)
    return key
  }

  #requireKek(): KeyEncryptionKey {
    if (!this.#kek) throw serviceUnavailable('keys.no_kek', 30)
    return this.#kek
  }
}

/** Every key, newest first, as administrators and auditors see them (no sealed material). */
export async function signingKeyList(ctx: ServiceContext): Promise<{ items: SigningKeyView[] }> {
  const items = await describeKeys(ctx.db)
  ctx.audit.details = { count: items.length }
  return { items }
}

/** Rotation by an administrator: audited with the old and new kid; the reason is kept with the new key. */
export async function rotateSigningKey(ctx: ServiceContext, keys: SigningKeys, input: RotateKey): Promise<KeyRotationView> {
  const { purpose, reason } = input
  const rotation = await keys.rotate(ctx.db, purpose, { actor: ctx.caller.subject, reason })
  ctx.audit.resourceId = rotation.current.kid
  ctx.audit.details = { purpose, old_kid: rotation.previous?.kid ?? null, new_kid: rotation.current.kid }
  const current = (await describeKeys(ctx.db)).find((k) => k.kid === rotation.current.kid)!
  return {
    purpose,
    previous: rotation.previous && {
      kid: rotation.previous.kid,
      superseded_at: rotation.previous.superseded_at.toISOString(),
      retires_at: rotation.previous.retires_at?.toISOString() ?? null,
    },
    current,
  }
}

async function describeKeys(q: Queryable): Promise<SigningKeyView[]> {
  const rows = await listKeys(q)
  return rows.map((row) => ({
    kid: row.kid,
    purpose: row.purpose,
    alg: row.alg,
    signs: row.superseded_at === null,
    published: row.published,
    created_at: row.created_at.toISOString(),
    created_by: row.created_by,
    reason: row.reason,
    superseded_at: row.superseded_at?.toISOString() ?? null,
    retires_at: row.retires_at?.toISOString() ?? null,
    kek_id: row.kek_id,
  }))
}

function publicJwk(kid: string, alg: string, jwk: Record<string, unknown>): PublicJwk {
  // Only the public members, whatever the stored JWK holds.
  const { kty, crv, x, y } = jwk as { kty: string; crv?: string; x?: string; y?: string }
  return { kty, crv, x, y, kid, alg, use: 'sig' }
}

// Both drivers' byte arrays as Buffers (pg gives Buffers, the embedded database Uint8Arrays).
function bytesOf(row: ActiveKeyRow): ActiveKeyRow {
  return {
    ...row,
    data_key_iv: Buffer.from(row.data_key_iv),
    data_key_tag: Buffer.from(row.data_key_tag),
    data_key_ciphertext: Buffer.from(row.data_key_ciphertext),
    private_key_iv: Buffer.from(row.private_key_iv),
    private_key_tag: Buffer.from(row.private_key_tag),
    private_key_ciphertext: Buffer.from(row.private_key_ciphertext),
  }
}

/**
 * At start: the active keys must open with this instance's key-encryption key. A wrong secret
 * stops the service with one line naming the variable, instead of failing every signature.
 */
export async function checkKeyEncryption(db: Db, kek: KeyEncryptionKey, secretName: string): Promise<void> {
  const keys = await activeKeys(db)
  for (const key of keys) {
    try {
      kek.open(key, bytesOf(key))
    } catch (error) {
      const why = error instanceof WrongKeyEncryptionKey ? error.message : (error as Error).message
      throw new ConfigError(
        `${secretName}: the signing keys do not open with it (${why}); ` +
          'start with the secret they were encrypted with, or re-encrypt them (npm run keys:reencrypt)',
      )
    }
  }
}

export interface Reencryption {
  reencrypted: string[]
  already: string[]
}

/**
 * Re-encrypts every active private key from one key-encryption key to another, in one
 * transaction: all or nothing. Refuses (and changes nothing) when a key is sealed with neither,
 * so a wrong old secret is named instead of half a table being rewritten. Keys already sealed
 * with the new key are left as they are (a repeated run does nothing).
 */
export async function reencryptKeys(db: Db, from: KeyEncryptionKey, to: KeyEncryptionKey): Promise<Reencryption> {
  return db.transaction().execute(async (trx) => {
    const keys = await activeKeys(trx, { forUpdate: true })
    const result: Reencryption = { reencrypted: [], already: [] }
    for (const key of keys) {
      if (key.kek_id === to.id && key.kek_id !== from.id) {
        to.open(key, bytesOf(key)) // proves it really opens with the new key
        result.already.push(key.kid)
        continue
      }
      if (key.kek_id !== from.id) {
        throw new WrongKeyEncryptionKey(
          `key ${key.kid} (${key.purpose}) is encrypted with key-encryption key ${key.kek_id}: ` +
            `the old secret (id ${from.id}) is not the one in use; nothing was changed`,
        )
      }
      await resealKey(trx, key.kid, from.rewrap(key, bytesOf(key), to))
      result.reencrypted.push(key.kid)
    }
    return result
  })
}
