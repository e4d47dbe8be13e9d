import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose'
import type { Queryable } from '../kernel/db.js'
import { newId } from '../kernel/ids.js'
import type { MediaGrantView } from './media-grants.schemas.js'
import { activeSigningKey, insertSigningKeyIfNone, publishedKeys, type StoredKey } from './signing-keys.repository.js'

/**
 * Media access grants: short-lived JWTs that let the municipality's media server open one
 * recording's media for one caller. The service signs them with a key pair kept in PostgreSQL
 * (every instance signs with the same key) and publishes the public keys at JWKS_PATH; the media
 * server verifies signature, `typ`, `iss`, `aud` and `exp`, then serves `storage_uri` after
 * checking the file against `sha256`.
 */
/** Media access grants: how long they live and whom they name as issuer and audience (MEDIA_GRANT_* settings). */
export interface MediaGrantSettings {
  ttlSeconds: number
  issuer: string
  audience: string
}

/** What grants use when the app is built without configuration (tests, contract generation). */
export const MEDIA_GRANT_DEFAULTS: MediaGrantSettings = { ttlSeconds: 300, issuer: 'madoguchi', audience: 'madoguchi-media' }

const MEDIA_GRANT_TYPE = 'media-grant+jwt'
export const JWKS_PATH = '/.well-known/jwks.json'
const ALG = 'ES256'

async function generateKey(): Promise<StoredKey> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(publicJwk)
  return {
    kid,
    alg: ALG,
    public_jwk: { ...publicJwk, kid, alg: ALG, use: 'sig' },
    private_jwk: { ...(await exportJWK(privateKey)), kid, alg: ALG },
  }
}

/**
 * The active signing key, created by the first instance that needs one. Concurrent creators
 * race on a unique index: one insert wins, the others do nothing and read the winner's key.
 */
export async function ensureSigningKey(q: Queryable): Promise<StoredKey> {
  const existing = await activeSigningKey(q)
  if (existing) return existing
  await insertSigningKeyIfNone(q, await generateKey())
  const active = await activeSigningKey(q)
  if (!active) throw new Error('no active media grant signing key after creating one')
  return active
}

/** The JWKS the media server verifies grants with. */
export async function mediaGrantJwks(
  q: Queryable,
  settings: MediaGrantSettings,
): Promise<{ keys: Array<Record<string, unknown> & { kty: string; kid: string; alg: string; use: 'sig' }> }> {
  await ensureSigningKey(q)
  // A key retired now still verifies the grants it signed until they expire.
  const keys = await publishedKeys(q, settings.ttlSeconds + 60)
  return { keys: keys.map((k) => ({ ...(k.public_jwk as JWK), kid: k.kid, alg: k.alg, use: 'sig' as const, kty: String(k.public_jwk.kty) })) }
}

export interface GrantSubject {
  recordingId: string
  /** A redacted copy of the recording whose media the grant opens (storageUri, sha256, mediaType are the copy's). */
  derivativeId?: string
  storageUri: string
  sha256: string
  mediaType: string
  caller: string
  purpose: string | null
}

export async function issueMediaGrant(q: Queryable, settings: MediaGrantSettings, subject: GrantSubject): Promise<MediaGrantView> {
  const stored = await ensureSigningKey(q)
  const key = await importJWK(stored.private_jwk as JWK, stored.alg)
  const jti = newId()
  const issuedAt = Math.floor(Date.now() / 1000)
  const expiresAt = issuedAt + settings.ttlSeconds
  const token = await new SignJWT({
    recording_id: subject.recordingId,
    ...(subject.derivativeId ? { derivative_id: subject.derivativeId } : {}),
    storage_uri: subject.storageUri,
    sha256: subject.sha256,
    media_type: subject.mediaType,
    ...(subject.purpose ? { purpose: subject.purpose } : {}),
  })
    .setProtectedHeader({ alg: stored.alg, kid: stored.kid, typ: MEDIA_GRANT_TYPE })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(subject.caller)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(key)
  return {
    token,
    token_type: MEDIA_GRANT_TYPE,
    jti,
    recording_id: subject.recordingId,
    ...(subject.derivativeId ? { derivative_id: subject.derivativeId } : {}),
    storage_uri: subject.storageUri,
    sha256: subject.sha256,
    issuer: settings.issuer,
    audience: settings.audience,
    expires_at: new Date(expiresAt * 1000).toISOString(),
    jwks_uri: JWKS_PATH,
  }
}
