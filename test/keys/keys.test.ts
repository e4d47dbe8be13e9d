import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { createTokenVerifier } from '../../src/kernel/auth.ts'
import { loadConfig } from '../../src/config.ts'
import { connectPostgres, openEmbedded, type DatabaseHandle } from '../../src/kernel/db.ts'
import { KeyEncryptionKey, WrongKeyEncryptionKey } from '../../src/keys/key-encryption.ts'
import { activeKeys } from '../../src/keys/keys.repository.ts'
import { checkKeyEncryption, GRANT_KEY_PUBLISHED_AFTER_SUPERSEDED_SECONDS, reencryptKeys, SigningKeys } from '../../src/keys/keys.service.ts'
import { buildTestApp, testAuth, testKeyEncryption, tokenFor, type Identity, type TestApp } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/database.ts'
import { linkEverything } from '../audit/helpers.ts'
import { register } from '../helpers/fixtures.ts'
import { expectStatus } from '../helpers/expect.ts'

const RM: Identity = { roles: ['records_manager'], sub: 'rm-keys' }
const ADMIN: Identity = { roles: ['admin'], sub: 'admin-keys' }

async function grant(test: Pick<TestApp, 'injectAs'>, recordingId: string) {
  const res = await test.injectAs(RM, { method: 'POST', url: `/v1/recordings/${recordingId}/access-grants`, payload: {} })
  if (res.statusCode !== 201) throw new Error(`grant: ${res.statusCode} ${res.body}`)
  return res.json() as { token: string; jti: string; expires_at: string }
}

async function jwks(app: TestApp['app'], path = '/.well-known/jwks.json'): Promise<JSONWebKeySet> {
  const res = await app.inject({ method: 'GET', url: path })
  if (res.statusCode !== 200) throw new Error(`jwks: ${res.statusCode}`)
  return res.json()
}

// What the municipality's media server does with a grant.
const verifyGrant = (token: string, keys: JSONWebKeySet) =>
  jwtVerify(token, createLocalJWKSet(keys), { issuer: 'madoguchi', audience: 'madoguchi-media', typ: 'media-grant+jwt', algorithms: ['ES256'] })

/** The table as a dump would hold it: every column of every row, as text. */
async function dumpKeyTable(test: TestApp): Promise<string> {
  const rows = await sql<{ row: string }>`select row_to_json(k)::text as row from signing_keys k order by kid`.execute(test.db)
  return rows.rows.map((r) => r.row).join('\n')
}

/** Another instance of the service on the same database (its own pool on PostgreSQL). */
async function secondInstance(t: Tap, test: TestApp) {
  const handle = test.database.url ? connectPostgres(test.database.url, 3) : test.database.handle
  const app = await buildApp({
    config: { logLevel: 'silent', logPretty: false, trustProxy: false },
    database: handle,
    verifyToken: await createTokenVerifier(testAuth),
    keyEncryption: testKeyEncryption,
  })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    if (test.database.url) await handle.close()
  })
  return {
    app,
    injectAs: async (who: Identity, options: Parameters<TestApp['injectAs']>[1]) =>
      app.inject({ ...options, headers: { ...(options.headers ?? {}), authorization: `Bearer ${await tokenFor(who)}` } }),
  }
}
type Tap = { teardown(fn: () => unknown): void }

/** A checkpoint now, after linking what earlier requests wrote (as the linker would within a second). */
async function checkpoint(test: TestApp) {
  await linkEverything(test.db)
  const res = await test.injectAs('auditor', { method: 'POST', url: '/v1/audit-events/checkpoints' })
  if (res.statusCode !== 201) throw new Error(`checkpoint: ${res.statusCode} ${res.body}`)
  return res.json()
}

t.test('a dump of the key table is useless without the secret', async (t) => {
  const test = await buildTestApp(t)
  const rec = await register(test, RM)
  await grant(test, rec.id)
  t.ok((await checkpoint(test)).kid, 'a checkpoint key too')

  const dump = await dumpKeyTable(test)
  const rows = dump.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  t.equal(rows.length, 2, 'one key per purpose')
  for (const row of rows) {
    t.notOk('private_jwk' in row, 'no plaintext column')
    t.notOk('d' in (row.public_jwk as object), 'the public part is public only')
    t.equal(row.kek_id, testKeyEncryption.id, 'sealed with the configured key-encryption key, named by its fingerprint')
    for (const column of ['data_key_iv', 'data_key_tag', 'data_key_ciphertext', 'private_key_iv', 'private_key_tag', 'private_key_ciphertext']) {
      t.match(row[column], /^\\x[0-9a-f]+$/, `${column} is stored, as bytes`)
    }
  }

  // The private scalars, as only the secret reveals them: nowhere in the dump, in any encoding.
  const active = await activeKeys(test.db)
  for (const key of active) {
    const bytes = (k: typeof key) =>
      Object.fromEntries(Object.entries(k).map(([name, v]) => [name, v instanceof Uint8Array ? Buffer.from(v) : v])) as unknown as typeof key
    const d = testKeyEncryption.open(key, bytes(key)).d!
    t.ok(d, `${key.purpose}: the secret opens it`)
    const raw = Buffer.from(d, 'base64url')
    for (const form of [d, raw.toString('hex'), raw.toString('base64')]) t.notOk(dump.includes(form), `${key.purpose}: d does not appear in the dump`)

    // Without the secret: another secret is named as the wrong one; forging the fingerprint does not help.
    const other = KeyEncryptionKey.fromSecret(crypto.randomBytes(32))
    t.throws(() => other.open(key, bytes(key)), WrongKeyEncryptionKey)
    t.throws(() => other.open(key, { ...bytes(key), kek_id: other.id }), /does not decrypt/, 'a guessed key fails authentication')
    // Nor can a sealed key be moved onto another row: its kid is bound into the encryption.
    t.throws(() => testKeyEncryption.open({ ...key, kid: 'other-kid' }, bytes(key)), /does not decrypt/)
  }

  const listed = await test.injectAs(ADMIN, { method: 'GET', url: '/v1/keys' })
  expectStatus(t, listed, 200)
  t.notMatch(listed.body, /ciphertext|"d"|_iv|_tag/, 'the key list shows no sealed material')
  t.match(listed.json().items, [
    { signs: true, published: true, kek_id: testKeyEncryption.id },
    { signs: true, published: true, kek_id: testKeyEncryption.id },
  ])
  expectStatus(t, await test.injectAs('auditor', { method: 'GET', url: '/v1/keys' }), 200, 'auditors read it too')
  expectStatus(t, await test.injectAs('records_manager', { method: 'GET', url: '/v1/keys' }), 403)

  // A service started with another secret stops at once, naming the variable.
  await t.rejects(checkKeyEncryption(test.db, KeyEncryptionKey.fromSecret(crypto.randomBytes(32)), 'KEY_ENCRYPTION_SECRET'), {
    name: 'ConfigError',
    message: /^KEY_ENCRYPTION_SECRET: the signing keys do not open with it .*npm run keys:reencrypt/,
  })
  await checkKeyEncryption(test.db, testKeyEncryption, 'KEY_ENCRYPTION_SECRET')
})

t.test('rotation: new grants use the new key, old grants stay verifiable until they expire, then the old key retires', async (t) => {
  const test = await buildTestApp(t)
  const rec = await register(test, RM)
  const before = await grant(test, rec.id)
  const oldKid = decodeProtectedHeader(before.token).kid!

  const refused = [
    await test.injectAs('records_manager', { method: 'POST', url: '/v1/keys/rotate', payload: { purpose: 'media_grant', reason: 'x' } }),
    await test.injectAs('auditor', { method: 'POST', url: '/v1/keys/rotate', payload: { purpose: 'media_grant', reason: 'x' } }),
  ]
  t.same(
    refused.map((r) => r.statusCode),
    [403, 403],
    'only admins rotate',
  )
  for (const payload of [
    { purpose: 'media_grant' },
    { purpose: 'media_grant', reason: '' },
    { purpose: 'tokens', reason: 'x' },
    { purpose: 'media_grant', reason: 'x', kid: 'mine' },
  ]) {
    const res = await test.injectAs(ADMIN, { method: 'POST', url: '/v1/keys/rotate', payload })
    expectStatus(t, res, 422, `refused: ${JSON.stringify(payload)}`)
    t.equal(res.json().code, 'validation-failed')
  }
  t.equal((await activeKeys(test.db)).find((k) => k.purpose === 'media_grant')?.kid, oldKid, 'a refused rotation changed nothing')

  const rotated = await test.injectAs(ADMIN, { method: 'POST', url: '/v1/keys/rotate', payload: { purpose: 'media_grant', reason: '定期更新 (yearly)' } })
  expectStatus(t, rotated, 201)
  const rotation = rotated.json()
  t.match(rotation, {
    purpose: 'media_grant',
    previous: { kid: oldKid },
    current: { purpose: 'media_grant', signs: true, published: true, created_by: 'admin-keys', reason: '定期更新 (yearly)', kek_id: testKeyEncryption.id },
  })
  const newKid = rotation.current.kid as string
  t.not(newKid, oldKid)
  const published = new Date(rotation.previous.retires_at).getTime() - new Date(rotation.previous.superseded_at).getTime()
  t.equal(published, 3660_000, 'the old key stays published for the longest grant lifetime (3600 s) plus a minute of clock leeway')
  t.ok(new Date(before.expires_at).getTime() < new Date(rotation.previous.retires_at).getTime(), 'which outlasts every grant it signed')
  t.throws(
    () => loadConfig({ MEDIA_GRANT_TTL_SECONDS: String(GRANT_KEY_PUBLISHED_AFTER_SUPERSEDED_SECONDS - 59) }),
    /^MEDIA_GRANT_TTL_SECONDS: /,
    'whatever an instance is configured with',
  )

  const audited = await test.db
    .selectFrom('audit_events')
    .select(['subject', 'resource_type', 'resource_id', 'details', 'outcome'])
    .where('action', '=', 'rotateSigningKey')
    .where('outcome', '=', 'allowed')
    .execute()
  t.match(
    audited,
    [{ subject: 'admin-keys', resource_type: 'signing_key', resource_id: newKid, details: { purpose: 'media_grant', old_kid: oldKid, new_kid: newKid } }],
    'audited with the old and new kid',
  )

  const after = await grant(test, rec.id)
  t.equal(decodeProtectedHeader(after.token).kid, newKid, 'the next grant is signed by the new key')
  const grantEntries = await test.db.selectFrom('audit_events').select('details').where('action', '=', 'grantMediaAccess').orderBy('id').execute()
  t.match(
    grantEntries.map((e) => e.details),
    [
      { jti: before.jti, kid: oldKid },
      { jti: after.jti, kid: newKid },
    ],
    'each grant names the key that signed it in its audit entry',
  )

  const keys = await jwks(test.app)
  t.same(keys.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort(), 'both keys are published')
  t.ok(
    keys.keys.every((k) => !('d' in k)),
    'public parts only',
  )
  await verifyGrant(before.token, keys)
  await verifyGrant(after.token, keys)
  t.pass('the grant signed before the rotation still verifies, and so does the new one')

  const old = await test.db.selectFrom('signing_keys').selectAll().where('kid', '=', oldKid).executeTakeFirstOrThrow()
  t.match(old, { kek_id: null, private_key_ciphertext: null, data_key_ciphertext: null }, 'the superseded key lost its private part at once')

  // An hour and a minute later (the clock moved by shifting the key's times back): retired.
  await sql`update signing_keys
    set superseded_at = superseded_at - interval '3661 seconds', retires_at = retires_at - interval '3661 seconds'
    where kid = ${oldKid}`.execute(test.db)
  const later = await jwks(test.app)
  t.same(
    later.keys.map((k) => k.kid),
    [newKid],
    'the retired key has left the JWKS',
  )
  await t.rejects(verifyGrant(before.token, later), 'a grant of the retired key no longer verifies')
  t.match((await test.injectAs(ADMIN, { method: 'GET', url: '/v1/keys' })).json().items, [
    { kid: newKid, signs: true, published: true },
    { kid: oldKid, signs: false, published: false },
  ])
})

t.test('a second instance sees a rotation at once, without a restart', async (t) => {
  const test = await buildTestApp(t)
  const other = await secondInstance(t, test)
  const rec = await register(test, RM)
  const first = await grant(test, rec.id)
  const firstElsewhere = await grant(other, rec.id)
  const oldKid = decodeProtectedHeader(first.token).kid
  t.equal(decodeProtectedHeader(firstElsewhere.token).kid, oldKid, 'both instances sign with the one shared key')

  const rotated = await test.injectAs(ADMIN, { method: 'POST', url: '/v1/keys/rotate', payload: { purpose: 'media_grant', reason: 'suspected exposure' } })
  expectStatus(t, rotated, 201)
  const newKid = rotated.json().current.kid

  const next = await grant(other, rec.id)
  t.equal(decodeProtectedHeader(next.token).kid, newKid, 'the other instance signs with the new key on its next grant')
  const keys = await jwks(other.app)
  t.same(keys.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort(), 'and publishes both in its JWKS')
  await verifyGrant(firstElsewhere.token, keys)
  await verifyGrant(next.token, keys)
})

t.test('the checkpoint key rotates too; its old keys stay published while checkpoints they signed exist', async (t) => {
  const test = await buildTestApp(t)
  const empty = await test.injectAs('auditor', { method: 'POST', url: '/v1/audit-events/checkpoints' })
  t.match(empty, { statusCode: 409 }, 'nothing linked yet: nothing to sign')
  t.match(empty.json(), { code: 'conflict', detail: /no linked entries/ })
  const first = await checkpoint(test)
  t.equal(first.checkpoint, 1, 'then the refused request itself is in the chain')
  const rotated = await test.injectAs(ADMIN, { method: 'POST', url: '/v1/keys/rotate', payload: { purpose: 'audit_checkpoint', reason: 'yearly' } })
  expectStatus(t, rotated, 201)
  t.match(rotated.json(), { previous: { kid: first.kid, retires_at: null }, current: { purpose: 'audit_checkpoint' } })
  const second = await checkpoint(test)
  t.equal(second.kid, rotated.json().current.kid, 'the next checkpoint is signed by the new key')
  t.match(second, { prev_chain_seq: first.chain_seq, prev_chain_hash: first.chain_hash })

  const keys = await jwks(test.app, '/.well-known/audit-checkpoint-jwks.json')
  t.same(keys.keys.map((k) => k.kid).sort(), [first.kid, second.kid].sort(), 'both keys verify checkpoints')
  const media = await jwks(test.app)
  t.notOk(
    media.keys.some((k) => k.kid === first.kid || k.kid === second.kid),
    'checkpoint keys are not media grant keys',
  )
  const verify = await test.injectAs('auditor', { method: 'GET', url: `/v1/audit-events/verify?checkpoint=${first.jws}` })
  t.match(verify.json(), { valid: true, checkpoint: { checkpoint: 1, holds: true, kid: first.kid } }, 'a checkpoint of the old key still verifies')
  await t.rejects(sql`delete from signing_keys where kid = ${first.kid}`.execute(test.db), 'the key of an existing checkpoint cannot be deleted')
})

t.test('re-encryption for a new key-encryption secret: all keys or none, refused with the wrong old secret', async (t) => {
  const test = await buildTestApp(t)
  const rec = await register(test, RM)
  await grant(test, rec.id)
  await checkpoint(test)
  const next = KeyEncryptionKey.fromSecret(crypto.randomBytes(32).toString('hex'))
  const before = await dumpKeyTable(test)

  await t.rejects(reencryptKeys(test.db, KeyEncryptionKey.fromSecret(crypto.randomBytes(32)), next), WrongKeyEncryptionKey, 'a wrong old secret is refused')
  t.equal(await dumpKeyTable(test), before, 'and nothing changed')

  const done = await reencryptKeys(test.db, testKeyEncryption, next)
  t.equal(done.reencrypted.length, 2)
  t.same(
    (await activeKeys(test.db)).map((k) => k.kek_id),
    [next.id, next.id],
  )
  t.same(await reencryptKeys(test.db, testKeyEncryption, next), { reencrypted: [], already: done.reencrypted }, 'a repeated run changes nothing')
  await t.rejects(
    checkKeyEncryption(test.db, testKeyEncryption, 'KEY_ENCRYPTION_SECRET'),
    /KEY_ENCRYPTION_SECRET: /,
    'the old secret no longer starts the service',
  )
  await checkKeyEncryption(test.db, next, 'KEY_ENCRYPTION_SECRET')

  // An instance with the new secret signs with the same (re-wrapped) key.
  const fresh = new SigningKeys(next)
  const signer = await fresh.signer(test.db, 'media_grant')
  t.equal(signer.kid, (await activeKeys(test.db)).find((k) => k.purpose === 'media_grant')!.kid)
  // The running instance (old secret) keeps signing with the key it already opened.
  t.equal((await grant(test, rec.id)).jti.length, 36)
})

t.test('keys made before migration 0009 lay in the clear: the migration supersedes them and drops their private parts', async (t) => {
  let handle: DatabaseHandle
  let cleanup: () => Promise<void>
  if (testDatabaseUrl) {
    const name = `madoguchi_keys_${crypto.randomBytes(4).toString('hex')}`
    const admin = new pg.Client({ connectionString: testDatabaseUrl })
    await admin.connect()
    await admin.query(`create database "${name}"`)
    const url = new URL(testDatabaseUrl)
    url.pathname = `/${name}`
    handle = connectPostgres(url.toString(), 2)
    cleanup = async () => {
      await handle.close()
      await admin.query(`drop database if exists "${name}" with (force)`)
      await admin.end()
    }
  } else {
    handle = await openEmbedded('memory://')
    cleanup = () => handle.close()
  }
  t.teardown(() => cleanup())
  const dir = new URL('../../migrations/', import.meta.url)
  const files = (await fs.readdir(dir)).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort()
  for (const file of files.filter((f) => f < '0009')) await handle.runScript(handle.db, await fs.readFile(new URL(file, dir), 'utf8'))

  // A key as the service stored it before: private JWK in plain JSON.
  const plainPrivate = { kty: 'EC', crv: 'P-256', x: 'x-part', y: 'y-part', d: 'THE-PRIVATE-SCALAR' }
  const plainPublic = { kty: 'EC', crv: 'P-256', x: 'x-part', y: 'y-part' }
  await sql`insert into signing_keys (kid, purpose, alg, public_jwk, private_jwk)
    values ('old-kid', 'media_grant', 'ES256', ${JSON.stringify(plainPublic)}, ${JSON.stringify(plainPrivate)})`.execute(handle.db)
  for (const file of files.filter((f) => f >= '0009')) await handle.runScript(handle.db, await fs.readFile(new URL(file, dir), 'utf8'))

  const dump = await sql<{ row: string }>`select row_to_json(k)::text as row from signing_keys k`.execute(handle.db)
  t.equal(dump.rows.length, 1)
  t.notMatch(dump.rows[0]!.row, /THE-PRIVATE-SCALAR|private_jwk/, 'no plaintext private key remains')
  const row = JSON.parse(dump.rows[0]!.row)
  t.ok(row.superseded_at, 'superseded')
  t.equal(new Date(row.retires_at).getTime() - new Date(row.superseded_at).getTime(), 3660_000, 'published until its grants have expired')
  t.equal(row.kek_id, null)

  // The service then signs with a new, sealed key, and still publishes the old public part.
  const app = await buildApp({
    config: { logLevel: 'silent', logPretty: false, trustProxy: false },
    database: handle,
    verifyToken: await createTokenVerifier(testAuth),
    keyEncryption: testKeyEncryption,
  })
  t.teardown(() => app.close())
  const keys = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet
  t.equal(keys.keys.length, 2, 'the old key (until it retires) and a new sealed one')
  t.ok(keys.keys.some((k) => k.kid === 'old-kid'))
  t.equal((await activeKeys(handle.db)).length, 1)
})
