import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import t from 'tap'
import { SigningKeys } from '../../src/keys/keys.service.ts'
import { connectPostgres } from '../../src/kernel/db.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { createCase, register } from '../helpers/fixtures.ts'
import { expectStatus } from '../helpers/expect.ts'

t.test('media access grants: signed, verifiable with the published JWKS, audited, refused to staff', async (t) => {
  const test = await buildTestApp(t)
  const { app, injectAs, orgUnit, db } = test
  const city = await orgUnit('city')
  const ward = await orgUnit('ward', city)
  const other = await orgUnit('other')
  const staff: Identity = { roles: ['staff'], unit: ward, sub: 'staff-g' }
  const kase = await createCase(test, staff)
  const rec = await register(test, staff, { case_id: kase.id })
  const stored = await db.selectFrom('recordings').select(['storage_uri', 'sha256']).where('id', '=', rec.id).executeTakeFirstOrThrow()
  const grant = (who: Identity, payload: Record<string, unknown> = {}) =>
    injectAs(who, { method: 'POST', url: `/v1/recordings/${rec.id}/access-grants`, payload })
  const jwks = async () => {
    const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
    expectStatus(t, res, 200, 'the JWKS needs no token')
    return res.json() as JSONWebKeySet
  }

  t.test('a supervisor above the unit gets a grant the media server can verify', async (t) => {
    const sup: Identity = { roles: ['supervisor'], unit: city, sub: 'sup-g' }
    const res = await grant(sup, { purpose: 'fact_check' })
    expectStatus(t, res, 201)
    const body = res.json()
    t.match(body, {
      token_type: 'media-grant+jwt',
      recording_id: rec.id,
      storage_uri: stored.storage_uri,
      sha256: stored.sha256,
      issuer: 'madoguchi',
      audience: 'madoguchi-media',
      jwks_uri: '/.well-known/jwks.json',
    })
    const lifetime = (new Date(body.expires_at).getTime() - Date.now()) / 1000
    t.ok(lifetime > 290 && lifetime <= 300, `five minutes by default (${Math.round(lifetime)} s)`)

    const keys = await jwks()
    t.equal(keys.keys.length, 1)
    t.notOk('d' in keys.keys[0]!, 'no private part is published')
    // What the municipality's media server does:
    const { payload, protectedHeader } = await jwtVerify(body.token, createLocalJWKSet(keys), {
      issuer: 'madoguchi',
      audience: 'madoguchi-media',
      typ: 'media-grant+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['exp', 'jti', 'sub'],
    })
    t.match(protectedHeader, { alg: 'ES256', kid: keys.keys[0]!.kid, typ: 'media-grant+jwt' })
    t.match(payload, {
      sub: 'sup-g',
      recording_id: rec.id,
      storage_uri: stored.storage_uri,
      sha256: stored.sha256,
      media_type: 'audio/mp4',
      purpose: 'fact_check',
      jti: body.jti,
    })
    t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300)

    const audited = await db
      .selectFrom('audit_events')
      .select(['action', 'subject', 'resource_id', 'details', 'outcome'])
      .where('action', '=', 'grantMediaAccess')
      .execute()
    t.match(
      audited,
      [{ subject: 'sup-g', resource_id: rec.id, outcome: 'allowed', details: { jti: body.jti, purpose: 'fact_check', expires_at: body.expires_at } }],
      'every grant is audited',
    )
    t.notMatch(JSON.stringify(audited), /s3:\/\//, 'the audit entry does not copy the media address')

    const tampered = body.token.replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify({ ...payload, recording_id: 'other' })).toString('base64url')}.`)
    await t.rejects(jwtVerify(tampered, createLocalJWKSet(keys), { issuer: 'madoguchi', audience: 'madoguchi-media' }), 'a changed grant fails')
    await t.rejects(jwtVerify(body.token, createLocalJWKSet(keys), { issuer: 'madoguchi', audience: 'madoguchi' }), 'not a token for this API')
  })

  t.test('the desk and records managers get grants; staff, auditors, integrations and admins do not', async (t) => {
    expectStatus(t, await grant({ roles: ['desk'], unit: other, sub: 'desk-g' }), 201)
    expectStatus(t, await grant({ roles: ['records_manager'], sub: 'rm-g' }), 201)
    for (const role of ['staff', 'auditor', 'integration', 'admin'] as const) {
      const res = await grant(role === 'staff' ? staff : { roles: [role], unit: ward, sub: `${role}-g` })
      expectStatus(t, res, 403, `${role}: 403`)
    }
    expectStatus(t, await grant({ roles: ['supervisor'], unit: other, sub: 'sup-far' }), 404, 'a supervisor of another branch: not found')
    expectStatus(t, await grant({ roles: ['desk'], sub: 'desk-g' }, { purpose: 'curiosity' }), 422)
    const denied = await db
      .selectFrom('audit_events')
      .select(['subject', 'outcome', 'status'])
      .where('action', '=', 'grantMediaAccess')
      .where('outcome', '=', 'denied')
      .orderBy('id')
      .execute()
    t.match(
      denied,
      [
        { subject: 'staff-g', status: 403 },
        { subject: 'auditor-g' },
        { subject: 'integration-g' },
        { subject: 'admin-g' },
        { subject: 'sup-far', status: 404 },
      ],
      'refusals are audited too',
    )
    const keys = await jwks()
    t.equal(keys.keys.length, 1, 'every grant is signed with the one shared key')
  })
})

t.test('grant lifetime is configurable; concurrent first use creates one key', async (t) => {
  const { buildApp } = await import('../../src/app.ts')
  const { createTokenVerifier } = await import('../../src/kernel/auth.ts')
  const { testAuth, testKeyEncryption, tokenFor } = await import('../helpers/app.ts')
  const test = await buildTestApp(t)
  const app = await buildApp({
    config: {
      logLevel: 'silent',
      logPretty: false,
      trustProxy: false,
      mediaGrants: { ttlSeconds: 60, issuer: 'https://madoguchi.city.example.lg.jp', audience: 'media.city.example.lg.jp' },
    },
    database: test.database.handle,
    verifyToken: await createTokenVerifier(testAuth),
    keyEncryption: testKeyEncryption,
  })
  t.teardown(() => app.close())
  const rm: Identity = { roles: ['records_manager'], sub: 'rm-ttl' }
  const rec = await register(test, rm)

  // Several instances asking for the key at once: one insert wins, all use its key.
  const pools = test.database.url ? Array.from({ length: 4 }, () => connectPostgres(test.database.url!, 1)) : []
  t.teardown(() => Promise.all(pools.map((p) => p.close())))
  const keys = await Promise.all(
    (pools.length ? pools.map((p) => p.db) : [test.db, test.db, test.db, test.db]).map((d) => new SigningKeys(testKeyEncryption).signer(d, 'media_grant')),
  )
  t.equal(new Set(keys.map((k) => k.kid)).size, 1, 'one key for everyone')
  const count = await test.db
    .selectFrom('signing_keys')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow()
  t.equal(Number(count.n), 1)

  const res = await app.inject({
    method: 'POST',
    url: `/v1/recordings/${rec.id}/access-grants`,
    headers: { authorization: `Bearer ${await tokenFor(rm)}` },
    payload: {},
  })
  expectStatus(t, res, 201)
  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json()
  const { payload } = await jwtVerify(res.json().token, createLocalJWKSet(jwks), {
    issuer: 'https://madoguchi.city.example.lg.jp',
    audience: 'media.city.example.lg.jp',
  })
  t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 60, 'MEDIA_GRANT_TTL_SECONDS')
  t.equal(decodeProtectedHeader(res.json().token).kid, keys[0]!.kid)
})
