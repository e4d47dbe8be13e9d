import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose'
import { ROLES, type Role } from './access.ts'
import { render, type Message } from './messages/index.ts'

/** Signature verification: exactly one source of keys, or the local development secret. */
export type AuthConfig =
  | { mode: 'jwks-url'; url: URL; issuer: string; audience: string; algorithms: string[]; clockToleranceSeconds: number }
  | { mode: 'jwks-file'; file: string; issuer: string; audience: string; algorithms: string[]; clockToleranceSeconds: number }
  | { mode: 'hs256'; secret: string; issuer: string; audience: string; algorithms: string[]; clockToleranceSeconds: number }
  | { mode: 'dev'; secretFile: string; issuer: string; audience: string; algorithms: string[]; clockToleranceSeconds: number }

/** The authenticated caller, from the token's claims. */
export interface Caller {
  subject: string
  name: string | null
  roles: Role[]
  /** Org unit id (所属) from the `org_unit` claim; null for callers without one. */
  orgUnit: string | null
  /** Surname (OIDC `family_name`) and business name (`business_name`), for name display (名札). */
  familyName: string | null
  businessName: string | null
}

export class TokenRejected extends Error {
  override name = 'TokenRejected'
  readonly reason: Message
  constructor(reason: Message) {
    super(render(reason, 'en'))
    this.reason = reason
  }
}

export type TokenVerifier = (token: string) => Promise<Caller>

const MIN_SECRET_BYTES = 32
const VERIFIED_TOKENS_KEPT = 10_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Builds the verifier for the configured key source. Signature, `iss`, `aud` and `exp` are
 * required, `nbf` honoured, only allow-listed algorithms pass (`none` never does), and the
 * clock tolerance is the configured one (at most 60 s).
 */
export async function createTokenVerifier(auth: AuthConfig): Promise<TokenVerifier> {
  const options = {
    issuer: auth.issuer,
    audience: auth.audience,
    algorithms: auth.algorithms,
    clockTolerance: auth.clockToleranceSeconds,
    requiredClaims: ['exp', 'sub'],
  }
  let verifyWith: (token: string) => ReturnType<typeof jwtVerify>
  switch (auth.mode) {
    case 'jwks-url': {
      const keys = createRemoteJWKSet(auth.url)
      verifyWith = (token) => jwtVerify(token, keys, options)
      break
    }
    case 'jwks-file': {
      const keys: JWTVerifyGetKey = createLocalJWKSet(JSON.parse(await fs.readFile(auth.file, 'utf8')))
      verifyWith = (token) => jwtVerify(token, keys, options)
      break
    }
    // The secret is imported once as a key object, not on every verification.
    case 'hs256': {
      const key = crypto.createSecretKey(Buffer.from(auth.secret, 'utf8'))
      verifyWith = (token) => jwtVerify(token, key, options)
      break
    }
    case 'dev': {
      const key = crypto.createSecretKey(await ensureDevSecret(auth.secretFile))
      verifyWith = (token) => jwtVerify(token, key, options)
      break
    }
  }
  // A verified token is remembered until it expires: the signature, issuer and audience of a
  // given token string never change, so each instance verifies a token once and then only
  // checks the clock (exp, nbf, with the same tolerance). Bounded; nothing another instance needs.
  const verified = new Map<string, { caller: Caller; exp: number; nbf: number }>()
  const tolerance = auth.clockToleranceSeconds
  return async (token) => {
    const now = Date.now() / 1000
    const known = verified.get(token)
    if (known && now <= known.exp + tolerance && now >= known.nbf - tolerance) return known.caller
    if (known) verified.delete(token)
    try {
      const { payload } = await verifyWith(token)
      const caller = callerFromClaims(payload)
      if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!)
      verified.set(token, { caller, exp: payload.exp!, nbf: payload.nbf ?? 0 })
      return caller
    } catch (error) {
      if (error instanceof TokenRejected) throw error
      // The key server being slow is not the caller's fault: let it surface as 503.
      if (error instanceof joseErrors.JWKSTimeout) throw error
      if (error instanceof joseErrors.JWTExpired) throw new TokenRejected('token.expired')
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw new TokenRejected({ id: 'token.claim_not_acceptable', params: { claim: error.claim } })
      if (error instanceof joseErrors.JOSEError) throw new TokenRejected('token.not_verified')
      throw error // key source unreachable and the like: not the caller's fault
    }
  }
}

function callerFromClaims(claims: Record<string, unknown>): Caller {
  const { sub, name, roles, org_unit: orgUnit, family_name: familyName, business_name: businessName } = claims
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 200) throw new TokenRejected({ id: 'token.claim_not_acceptable', params: { claim: 'sub' } })
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new TokenRejected('token.roles_not_strings')
  for (const [claim, value] of [
    ['name', name],
    ['family_name', familyName],
    ['business_name', businessName],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value.length > 200)) throw new TokenRejected({ id: 'token.claim_too_long', params: { claim } })
  }
  if (orgUnit !== undefined && (typeof orgUnit !== 'string' || !UUID.test(orgUnit))) throw new TokenRejected('token.org_unit_not_uuid')
  return {
    subject: sub,
    name: (name as string | undefined) ?? null,
    // Roles this service does not know grant nothing; they are ignored rather than refused,
    // so an identity provider can carry roles for other systems in the same claim.
    roles: ROLES.filter((r) => roles.includes(r)),
    orgUnit: orgUnit ?? null,
    familyName: (familyName as string | undefined) ?? null,
    businessName: (businessName as string | undefined) ?? null,
  }
}

/** The local development secret: created on first start, kept in DATA_DIR, owner-only. */
export async function ensureDevSecret(file: string): Promise<Uint8Array> {
  try {
    const existing = await fs.readFile(file)
    if (existing.length >= MIN_SECRET_BYTES) return new Uint8Array(existing)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await fs.mkdir(path.dirname(file), { recursive: true })
  const secret = crypto.randomBytes(48)
  try {
    await fs.writeFile(file, secret, { mode: 0o600, flag: 'wx' })
    return new Uint8Array(secret)
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return new Uint8Array(await fs.readFile(file))
    throw error
  }
}

export interface TokenClaims {
  subject: string
  name?: string
  familyName?: string
  businessName?: string
  roles: string[]
  orgUnit?: string
  /** Lifetime in seconds. */
  expiresIn?: number
}

/** Signs an HS256 token: used by `npm run token` and by the tests. */
export async function signHs256Token(secret: Uint8Array, issuer: string, audience: string, claims: TokenClaims): Promise<string> {
  return new SignJWT({
    roles: claims.roles,
    ...(claims.name ? { name: claims.name } : {}),
    ...(claims.familyName ? { family_name: claims.familyName } : {}),
    ...(claims.businessName ? { business_name: claims.businessName } : {}),
    ...(claims.orgUnit ? { org_unit: claims.orgUnit } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.subject)
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(`${claims.expiresIn ?? 8 * 3600}s`)
    .sign(secret)
}
