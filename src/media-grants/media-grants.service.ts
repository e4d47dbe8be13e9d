import { SignJWT } from 'jose'
import type { Queryable } from '../kernel/db.ts'
import { newId } from '../kernel/ids.ts'
import type { PublicJwk, SigningKeys } from '../keys/keys.service.ts'
import type { MediaGrantView } from './media-grants.schemas.ts'

/**
 * Media access grants: short-lived JWTs that let the municipality's media server open one
 * recording's media for one caller. The service signs them with the active media grant key
 * (src/keys: sealed in PostgreSQL, the same on every instance, rotated by administrators) and
 * publishes the public keys at JWKS_PATH; the media server verifies signature, `typ`, `iss`,
 * `aud` and `exp`, then serves `storage_uri` after checking the file against `sha256`.
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

/** The JWKS the media server verifies grants with: the signing key and superseded keys whose grants may still be valid. */
export async function mediaGrantJwks(q: Queryable, keys: SigningKeys): Promise<{ keys: PublicJwk[] }> {
  await keys.ensure(q, 'media_grant')
  return keys.jwks(q, 'media_grant')
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

/** A signed grant, and the kid of the key that signed it (for the audit trail). */
export async function issueMediaGrant(
  q: Queryable,
  settings: MediaGrantSettings,
  keys: SigningKeys,
  subject: GrantSubject,
): Promise<{ grant: MediaGrantView; kid: string }> {
  // Read from the database for every grant: a rotation on any instance applies to the next one.
  const signer = await keys.signer(q, 'media_grant')
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
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: MEDIA_GRANT_TYPE })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(subject.caller)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(signer.key)
  return {
    kid: signer.kid,
    grant: {
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
    },
  }
}
