import crypto from 'node:crypto'
import type { JWK } from 'jose'
import { ensureDevSecret } from '../kernel/auth.ts'

/**
 * Envelope encryption of private signing keys (AES-256-GCM from Node's crypto).
 *
 * Each private key gets a random 256-bit data key. The data key encrypts the private JWK; the
 * key-encryption key (KEK), derived from KEY_ENCRYPTION_SECRET, encrypts the data key. Both
 * encryptions authenticate the key's kid, algorithm and purpose as additional data, so an
 * envelope copied onto another row does not open. Re-encrypting for a new secret re-wraps only
 * the data keys. The KEK id is a fingerprint derived from the secret (not the key itself): a
 * wrong secret is named as such instead of failing as a garbled decryption.
 */
export const MIN_SECRET_BYTES = 32

/** What a sealed private key is stored as, beside its kid and algorithm. */
export interface SealedPrivateKey {
  kek_id: string
  data_key_iv: Uint8Array
  data_key_tag: Uint8Array
  data_key_ciphertext: Uint8Array
  private_key_iv: Uint8Array
  private_key_tag: Uint8Array
  private_key_ciphertext: Uint8Array
}

/** The key a sealed private key belongs to: bound into both encryptions. */
export interface KeyIdentity {
  kid: string
  alg: string
  purpose: string
}

/** The secret is not the one a key was sealed with. */
export class WrongKeyEncryptionKey extends Error {
  override name = 'WrongKeyEncryptionKey'
}

const CIPHER = 'aes-256-gcm'
const IV_BYTES = 12

export class KeyEncryptionKey {
  /** Fingerprint of the key-encryption key, stored with every key it seals (16 hex digits). */
  readonly id: string
  readonly #key: crypto.KeyObject

  private constructor(secret: Uint8Array) {
    // HKDF turns a secret of any shape (hex, base64, a passphrase of 32+ bytes) into a uniform
    // AES key, and separately into the fingerprint, which reveals nothing about the key.
    const salt = Buffer.from('madoguchi signing keys')
    this.#key = crypto.createSecretKey(Buffer.from(crypto.hkdfSync('sha256', secret, salt, 'key-encryption key v1', 32)))
    this.id = Buffer.from(crypto.hkdfSync('sha256', secret, salt, 'key-encryption key id v1', 8)).toString('hex')
  }

  /** From the configured secret (at least 32 bytes; UTF-8 for a string). */
  static fromSecret(secret: string | Uint8Array): KeyEncryptionKey {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
    if (bytes.length < MIN_SECRET_BYTES) throw new Error(`a key-encryption secret needs at least ${MIN_SECRET_BYTES} bytes`)
    return new KeyEncryptionKey(bytes)
  }

  seal(identity: KeyIdentity, privateJwk: JWK): SealedPrivateKey {
    const dataKey = crypto.randomBytes(32)
    try {
      const data = encrypt(crypto.createSecretKey(dataKey), Buffer.from(JSON.stringify(privateJwk), 'utf8'), aad('private-key', identity))
      const wrapped = encrypt(this.#key, dataKey, aad('data-key', identity))
      return {
        kek_id: this.id,
        data_key_iv: wrapped.iv,
        data_key_tag: wrapped.tag,
        data_key_ciphertext: wrapped.ciphertext,
        private_key_iv: data.iv,
        private_key_tag: data.tag,
        private_key_ciphertext: data.ciphertext,
      }
    } finally {
      dataKey.fill(0)
    }
  }

  open(identity: KeyIdentity, sealed: SealedPrivateKey): JWK {
    const dataKey = this.#unwrap(identity, sealed)
    try {
      const json = decrypt(
        crypto.createSecretKey(dataKey),
        { iv: sealed.private_key_iv, tag: sealed.private_key_tag, ciphertext: sealed.private_key_ciphertext },
        aad('private-key', identity),
        identity,
      )
      return JSON.parse(json.toString('utf8')) as JWK
    } finally {
      dataKey.fill(0)
    }
  }

  /** The same private key sealed for another key-encryption key: only the data key is re-encrypted. */
  rewrap(identity: KeyIdentity, sealed: SealedPrivateKey, to: KeyEncryptionKey): SealedPrivateKey {
    const dataKey = this.#unwrap(identity, sealed)
    try {
      const wrapped = encrypt(to.#key, dataKey, aad('data-key', identity))
      return { ...sealed, kek_id: to.id, data_key_iv: wrapped.iv, data_key_tag: wrapped.tag, data_key_ciphertext: wrapped.ciphertext }
    } finally {
      dataKey.fill(0)
    }
  }

  #unwrap(identity: KeyIdentity, sealed: SealedPrivateKey): Buffer {
    if (sealed.kek_id !== this.id) {
      throw new WrongKeyEncryptionKey(
        `key ${identity.kid} (${identity.purpose}) is encrypted with key-encryption key ${sealed.kek_id}, not with this secret's ${this.id}`,
      )
    }
    return decrypt(this.#key, { iv: sealed.data_key_iv, tag: sealed.data_key_tag, ciphertext: sealed.data_key_ciphertext }, aad('data-key', identity), identity)
  }
}

function aad(part: string, identity: KeyIdentity): Buffer {
  return Buffer.from(`madoguchi ${part}\n${identity.kid}\n${identity.alg}\n${identity.purpose}`, 'utf8')
}

function encrypt(key: crypto.KeyObject, plaintext: Buffer, additional: Buffer): { iv: Buffer; tag: Buffer; ciphertext: Buffer } {
  const iv = crypto.randomBytes(IV_BYTES)
  const cipher = crypto.createCipheriv(CIPHER, key, iv)
  cipher.setAAD(additional)
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { iv, tag: cipher.getAuthTag(), ciphertext }
}

function decrypt(key: crypto.KeyObject, box: { iv: Uint8Array; tag: Uint8Array; ciphertext: Uint8Array }, additional: Buffer, identity: KeyIdentity): Buffer {
  try {
    const decipher = crypto.createDecipheriv(CIPHER, key, box.iv)
    decipher.setAAD(additional)
    decipher.setAuthTag(box.tag)
    return Buffer.concat([decipher.update(box.ciphertext), decipher.final()])
  } catch {
    // GCM refuses anything altered: ciphertext, tag, iv, or the identity it was sealed for.
    throw new Error(`the private key of ${identity.kid} (${identity.purpose}) does not decrypt: its stored envelope was altered`)
  }
}

/**
 * The key-encryption key that seals private signing keys: KEY_ENCRYPTION_SECRET, or outside
 * production a development secret kept in DATA_DIR (created on first start).
 */
export type KeyEncryptionConfig = { mode: 'secret'; secret: string } | { mode: 'dev'; secretFile: string }

/**
 * The configured key-encryption key: KEY_ENCRYPTION_SECRET, or (outside production, when it is
 * unset) a development secret created in DATA_DIR beside the development token secret.
 */
export async function loadKeyEncryptionKey(config: KeyEncryptionConfig): Promise<KeyEncryptionKey> {
  if (config.mode === 'secret') return KeyEncryptionKey.fromSecret(config.secret)
  return KeyEncryptionKey.fromSecret(await ensureDevSecret(config.secretFile))
}
