import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { exportJWK, generateKeyPair, SignJWT, base64url } from 'jose'
import t from 'tap'
import { createTokenVerifier, ensureDevSecret, signHs256Token } from '../../src/kernel/auth.ts'
import { DEV_AUDIENCE, DEV_ISSUER } from '../../src/config.ts'
import { buildTestApp, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, testAuth, tokenFor } from '../helpers/app.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'

const key = new TextEncoder().encode(TEST_SECRET)
const now = () => Math.floor(Date.now() / 1000)

function claims(extra: Record<string, unknown> = {}) {
  return { sub: 'user-1', roles: ['staff'], iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: now() + 600, ...extra }
}

async function hs256(payload: Record<string, unknown>, secret: Uint8Array = key, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', ...header }).sign(secret)
}

t.test('hostile and broken tokens are refused with 401, WWW-Authenticate and a problem', async (t) => {
  const { app, db } = await buildTestApp(t)
  const call = (authorization?: string) => app.inject({ method: 'GET', url: '/v1/me', headers: authorization === undefined ? {} : { authorization } })

  const expectRefused = async (name: string, authorization: string | undefined, challenge: RegExp) => {
    const res = await call(authorization)
    expectStatus(t, res, 401, `${name}: 401`)
    t.match(res.headers['www-authenticate'], challenge, `${name}: challenge`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: problem+json`)
    t.equal(res.json().code, 'unauthorized')
  }
  const invalid = /^Bearer realm="madoguchi", error="invalid_token"/

  await expectRefused('no token', undefined, /^Bearer realm="madoguchi"$/)
  await expectRefused('not a bearer token', 'Basic dXNlcjpwYXNz', invalid)
  await expectRefused('garbage', 'Bearer not.a.jwt', invalid)
  await expectRefused('wrong signature', `Bearer ${await hs256(claims(), new TextEncoder().encode('x'.repeat(64)))}`, invalid)

  // alg "none": an unsigned token claiming to be anyone.
  const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims({ roles: ['admin'] })))}.`
  await expectRefused('alg none', `Bearer ${none}`, invalid)

  await expectRefused('expired beyond the clock tolerance', `Bearer ${await hs256(claims({ exp: now() - 120 }))}`, invalid)
  await expectRefused('not yet valid (nbf)', `Bearer ${await hs256(claims({ nbf: now() + 300 }))}`, invalid)
  await expectRefused('wrong issuer', `Bearer ${await hs256(claims({ iss: 'https://evil.example' }))}`, invalid)
  await expectRefused('wrong audience', `Bearer ${await hs256(claims({ aud: 'another-service' }))}`, invalid)
  const { exp: _exp, ...withoutExp } = claims()
  await expectRefused('no exp', `Bearer ${await hs256(withoutExp)}`, invalid)
  const { sub: _sub, ...withoutSub } = claims()
  await expectRefused('no sub', `Bearer ${await hs256(withoutSub)}`, invalid)
  await expectRefused('roles not an array', `Bearer ${await hs256(claims({ roles: 'admin' }))}`, invalid)
  await expectRefused('org_unit not an id', `Bearer ${await hs256(claims({ org_unit: "x' or 1=1 --" }))}`, invalid)
  await expectRefused('a token from elsewhere (dev issuer)', `Bearer ${await hs256(claims({ iss: DEV_ISSUER, aud: DEV_AUDIENCE }))}`, invalid)

  // Within the tolerance (30 s here) a just-expired token still passes: clocks drift.
  const lenient = await call(`Bearer ${await hs256(claims({ exp: now() - 10 }))}`)
  expectStatus(t, lenient, 200, 'expired by less than the clock tolerance is accepted')

  const ok = await call(`Bearer ${await tokenFor({ roles: ['staff', 'not-a-role' as 'staff'], sub: 'u-9', name: '山田' })}`)
  expectStatus(t, ok, 200)
  t.match(ok.json(), { subject: 'u-9', name: '山田', roles: ['staff'] }, 'unknown roles grant nothing and are not listed')

  // Every refusal is in the audit trail, with no subject since none was proven.
  const denied = await db.selectFrom('audit_events').selectAll().where('outcome', '=', 'denied').where('status', '=', 401).execute()
  t.equal(denied.length, 14, 'each 401 wrote an audit entry')
  expectEvery(t, denied, (e) => e.subject === null && e.action === 'getMe' && e.route === 'GET /v1/me')
})

t.test('asymmetric keys from a JWKS file; algorithm confusion is refused', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-jwks-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  const file = path.join(dir, 'jwks.json')
  await fs.writeFile(file, JSON.stringify({ keys: [jwk] }))
  const verify = await createTokenVerifier({
    mode: 'jwks-file',
    file,
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    algorithms: ['RS256'],
    clockToleranceSeconds: 30,
  })

  const good = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey)
  t.match(await verify(good), { subject: 'user-1', roles: ['staff'] })

  // HS256 signed with the public key's bytes as the secret: the classic confusion attack.
  const publicJson = new TextEncoder().encode(JSON.stringify(jwk))
  const confused = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(publicJson)
  await t.rejects(verify(confused), { name: 'TokenRejected' })

  const otherKey = (await generateKeyPair('RS256')).privateKey
  const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(otherKey)
  await t.rejects(verify(forged), { name: 'TokenRejected' })
})

t.test('with auth configured, the development secret is never accepted', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-dev-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const devSecret = await ensureDevSecret(path.join(dir, 'dev-jwt-secret'))
  t.equal(devSecret.length, 48)
  t.same(await ensureDevSecret(path.join(dir, 'dev-jwt-secret')), devSecret, 'the secret is kept across starts')

  const verify = await createTokenVerifier(testAuth)
  const devToken = await signHs256Token(devSecret, TEST_ISSUER, TEST_AUDIENCE, { subject: 'x', roles: ['admin'] })
  await t.rejects(verify(devToken), { name: 'TokenRejected' }, 'even with the right issuer and audience')
  const devIssued = await signHs256Token(devSecret, DEV_ISSUER, DEV_AUDIENCE, { subject: 'x', roles: ['admin'] })
  await t.rejects(verify(devIssued), { name: 'TokenRejected' })
})
