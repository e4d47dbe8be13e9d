import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { CompactSign, compactVerify, createLocalJWKSet, generateKeyPair, type JSONWebKeySet } from 'jose'
import { sql } from 'kysely'
import t from 'tap'
import { appendAuditEntries } from '../../src/kernel/audit.ts'
import type { CheckpointView } from '../../src/audit/checkpoints.schemas.ts'
import { runCheckpointRound, signCheckpoint } from '../../src/audit/checkpoints.service.ts'
import { connectPostgres, type Db } from '../../src/kernel/db.ts'
import { SigningKeys } from '../../src/keys/keys.service.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { runWebhookRound } from '../../src/webhooks/worker.ts'
import { buildTestApp, testKeyEncryption, type Identity, type TestApp } from '../helpers/app.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { eventually, startInstance, startReceiver, workerOptions } from '../webhooks/helpers.ts'
import { cutFrom, entryAt, linkEverything, readmeScript, tamper } from './helpers.ts'
import { expectStatus } from '../helpers/expect.ts'

const AUDITOR: Identity = { roles: ['auditor'], sub: 'kansa-cp' }
const GENESIS = '0'.repeat(64)
const keys = new SigningKeys(testKeyEncryption)

let seeded = 0
async function seed(db: Db, n: number): Promise<void> {
  await appendAuditEntries(
    db,
    Array.from({ length: n }, () => {
      seeded += 1
      return {
        subject: `staff-${seeded % 3}`,
        roles: ['staff'],
        orgUnit: ROOT_ORG_UNIT_ID,
        action: 'getCase',
        route: 'GET /v1/cases/:id',
        resourceType: 'case',
        resourceId: `case-${seeded}`,
        outcome: 'allowed' as const,
        status: 200,
        requestId: `seed-${seeded}`,
        clientAddress: '127.0.0.1',
        details: { n: seeded, note_ja: '閲覧' },
      }
    }),
  )
  await linkEverything(db)
}

type Inject = Pick<TestApp, 'injectAs'>
/**
 * Links what earlier requests wrote (the linker would within a second; on a shared PostgreSQL
 * other databases' transactions can hold a round back), then asks for a checkpoint.
 */
async function checkpointNow(test: Inject, db: Db, who: Identity = AUDITOR) {
  await linkEverything(db)
  const res = await test.injectAs(who, { method: 'POST', url: '/v1/audit-events/checkpoints' })
  if (res.statusCode !== 201) throw new Error(`checkpoint: ${res.statusCode} ${res.body}`)
  return res.json() as { checkpoint: number; chain_seq: number; chain_hash: string; prev_chain_seq: number; prev_chain_hash: string; kid: string; jws: string }
}

async function verifyWith(test: Inject, jws: string) {
  const res = await test.injectAs(AUDITOR, { method: 'GET', url: `/v1/audit-events/verify?checkpoint=${jws}` })
  if (res.statusCode !== 200) throw new Error(`verify: ${res.statusCode} ${res.body}`)
  return res.json()
}

t.test('checkpoints chain to each other, one per chain head; listed with a cursor, on the feed and to webhooks', async (t) => {
  const database = await createTestDatabase()
  t.teardown(() => database.drop())
  const svc = await startInstance(t, database)
  const db = database.handle.db
  const receiver = await startReceiver(t)
  const hook = await svc.injectAs(
    { roles: ['admin'], sub: 'admin-cp' },
    { method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url, kinds: ['audit.checkpoint'] } },
  )
  expectStatus(t, hook, 201)

  await seed(db, 12)
  t.equal(await runCheckpointRound(db, keys), true, 'the background job signs the chain head')
  t.equal(await runCheckpointRound(db, keys), false, 'and nothing more while the head has not moved')

  // Several instances' jobs at once (their own pools on PostgreSQL): one checkpoint per new head.
  await seed(db, 5)
  const pools = database.url ? Array.from({ length: 3 }, () => connectPostgres(database.url!, 1)) : []
  t.teardown(() => Promise.all(pools.map((p) => p.close())))
  const rounds = await Promise.all((pools.length ? pools.map((p) => p.db) : [db, db, db]).map((d) => runCheckpointRound(d, new SigningKeys(testKeyEncryption))))
  t.equal(rounds.filter(Boolean).length, 1, 'concurrent rounds sign once')

  // On demand: auditors and admins; not staff or records managers. While the head is covered,
  // the last checkpoint comes back (200); the request itself is then a new entry to cover.
  const covered = await svc.injectAs(AUDITOR, { method: 'POST', url: '/v1/audit-events/checkpoints' })
  expectStatus(t, covered, 200, 'the head is covered already')
  t.equal(covered.json().checkpoint, 2)
  const third = await checkpointNow(svc, db)
  t.equal(third.checkpoint, 3)
  t.equal((await checkpointNow(svc, db, { roles: ['admin'], sub: 'admin-cp' })).checkpoint, 4)
  for (const role of ['staff', 'records_manager', 'integration'] as const) {
    expectStatus(t, await svc.injectAs(role, { method: 'POST', url: '/v1/audit-events/checkpoints' }), 403, `${role}: 403`)
  }
  const asked = await db
    .selectFrom('audit_events')
    .select(['subject', 'resource_type', 'details'])
    .where('action', '=', 'createAuditCheckpoint')
    .where('outcome', '=', 'allowed')
    .orderBy('id')
    .execute()
  t.match(asked, [
    { subject: 'kansa-cp', resource_type: 'audit_checkpoint', details: { checkpoint: 2, created: false } },
    { subject: 'kansa-cp', resource_type: 'audit_checkpoint', details: { checkpoint: 3, chain_seq: third.chain_seq, kid: third.kid, created: true } },
    { subject: 'admin-cp', details: { checkpoint: 4 } },
  ])

  // The list, in pages.
  const items: CheckpointView[] = []
  let cursor: string | null = null
  do {
    const res = await svc.injectAs(AUDITOR, { method: 'GET', url: `/v1/audit-events/checkpoints?limit=3${cursor ? `&cursor=${cursor}` : ''}` })
    expectStatus(t, res, 200)
    items.push(...res.json().items)
    cursor = res.json().next_cursor
  } while (cursor)
  t.same(
    items.map((c) => c.checkpoint),
    [1, 2, 3, 4],
  )
  const newest = (await svc.injectAs(AUDITOR, { method: 'GET', url: '/v1/audit-events/checkpoints?order=newest&limit=1' })).json()
  t.equal(newest.items[0].checkpoint, 4, 'newest first on request')
  expectStatus(t, await svc.injectAs('admin', { method: 'GET', url: '/v1/audit-events/checkpoints' }), 403, 'the list is for auditors')

  const jwks = (await svc.app.inject({ method: 'GET', url: '/.well-known/audit-checkpoint-jwks.json' })).json() as JSONWebKeySet
  t.equal(jwks.keys.length, 1)
  t.notOk('d' in jwks.keys[0]!)
  const keySet = createLocalJWKSet(jwks)
  for (const [i, cp] of items.entries()) {
    const before = items[i - 1]
    t.same(
      [cp.prev_chain_seq, cp.prev_chain_hash],
      before ? [before.chain_seq, before.chain_hash] : [0, GENESIS],
      `checkpoint ${cp.checkpoint} names the one before it`,
    )
    if (before) t.ok(cp.chain_seq > before.chain_seq, 'and covers a later head')
    const entry = await db.selectFrom('audit_chain').select('hash').where('seq', '=', cp.chain_seq).executeTakeFirstOrThrow()
    t.equal(entry.hash, cp.chain_hash, 'the hash the chain holds at its position')
    const { payload, protectedHeader } = await compactVerify(cp.jws, keySet, { algorithms: ['ES256'] })
    t.match(protectedHeader, { alg: 'ES256', kid: cp.kid, typ: 'audit-checkpoint+jws' })
    t.same(JSON.parse(new TextDecoder().decode(payload)), {
      checkpoint: cp.checkpoint,
      chain_seq: cp.chain_seq,
      chain_hash: cp.chain_hash,
      signed_at: cp.signed_at,
      prev_chain_seq: cp.prev_chain_seq,
      prev_chain_hash: cp.prev_chain_hash,
    })
  }
  await t.rejects(tamperless(db, sql`update audit_checkpoints set chain_hash = ${GENESIS} where number = 1`), /append-only/, 'checkpoints are append-only')

  // The change feed, and the webhook subscribed to audit.checkpoint.
  const feed = (await svc.injectAs(AUDITOR, { method: 'GET', url: '/v1/changes?after=0&limit=1000' })).json()
  const published = feed.items.filter((c: { kind: string }) => c.kind === 'audit.checkpoint')
  t.same(
    published.map((c: { data: { jws: string } }) => c.data.jws),
    items.map((c) => c.jws),
    'every checkpoint is on the feed, with its JWS',
  )
  t.match(published[0], { resource_type: 'audit_checkpoint', resource_id: '1', org_unit_id: null, data: { checkpoint: 1, kid: items[0]!.kid } })
  t.ok(
    await eventually(async () => {
      await runWebhookRound(db, workerOptions())
      return receiver.received.length >= 4
    }),
    'each was delivered to the receiver',
  )
  // Deliveries are not ordered (README, Webhooks): order by feed position.
  const delivered = receiver.received.map((r) => JSON.parse(r.body).change).sort((a, b) => a.position - b.position)
  t.same(
    delivered.map((c) => c.data.checkpoint),
    [1, 2, 3, 4],
  )
  t.ok(
    receiver.received.every((r) => r.headers['madoguchi-event'] === 'audit.checkpoint'),
    'as audit.checkpoint',
  )
  await compactVerify(delivered[3].data.jws, keySet, { algorithms: ['ES256'] })
  t.pass('a receiver verifies the copy it holds')
})

// Raw SQL against the table, without switching its guard off (the service never does this).
async function tamperless(db: Db, statement: ReturnType<typeof sql>) {
  await statement.execute(db)
}

t.test('verification against a checkpoint held outside: a tail cut, an alteration, a rewritten chain', async (t) => {
  const test = await buildTestApp(t)
  const { db } = test
  await seed(db, 20)
  const first = await checkpointNow(test, test.db)
  await seed(db, 15)
  const second = await checkpointNow(test, test.db)
  t.ok(second.chain_seq > first.chain_seq + 14)

  const holds = await verifyWith(test, first.jws)
  t.match(holds, {
    valid: true,
    from_seq: 1,
    to_seq: first.chain_seq,
    checked: first.chain_seq,
    last_seq: first.chain_seq,
    last_hash: first.chain_hash,
    broken: null,
    checkpoint: {
      checkpoint: 1,
      chain_seq: first.chain_seq,
      chain_hash: first.chain_hash,
      kid: first.kid,
      holds: true,
      failure: null,
      detail: /^checkpoint 1 .* holds/,
    },
  })
  t.match(await verifyWith(test, second.jws), { valid: true, checkpoint: { checkpoint: 2, holds: true } })
  t.match((await test.injectAs(AUDITOR, { method: 'GET', url: '/v1/audit-events/verify' })).json(), { checkpoint: null }, 'without one, as before')

  // An entry at or before the checkpoint altered with the guard off: found, naming the checkpoint.
  const at = first.chain_seq - 5
  const original = await db.selectFrom('audit_events').select('subject').where('id', '=', entryAt(at)).executeTakeFirstOrThrow()
  await tamper(db, sql`update audit_events set subject = 'someone-else' where id = ${entryAt(at)}`)
  t.match(await verifyWith(test, first.jws), {
    valid: false,
    broken: { chain_seq: at, reason: 'hash-mismatch' },
    checkpoint: {
      checkpoint: 1,
      holds: false,
      failure: 'chain-broken',
      detail: new RegExp(`^checkpoint 1 \\(position ${first.chain_seq}, .*broken at position ${at}`),
    },
  })
  await tamper(db, sql`update audit_events set subject = ${original.subject} where id = ${entryAt(at)}`)
  // After the checkpoint's position, an alteration is the next checkpoint's business.
  await tamper(db, sql`update audit_events set subject = 'someone-else' where id = ${entryAt(first.chain_seq + 3)}`)
  t.match(await verifyWith(test, first.jws), { valid: true, checkpoint: { holds: true } }, 'the first checkpoint covers only up to its position')
  t.match(await verifyWith(test, second.jws), { valid: false, checkpoint: { checkpoint: 2, failure: 'chain-broken' } }, 'the second finds it')
  await tamper(db, sql`update audit_events set subject = ${original.subject} where id = ${entryAt(first.chain_seq + 3)}`)
  const audited = await db
    .selectFrom('audit_events')
    .select('details')
    .where('action', '=', 'verifyAuditChain')
    .where('subject', '=', 'kansa-cp')
    .orderBy('id')
    .execute()
  t.match(audited.at(-1)!.details, { checkpoint: 2, valid: false, failure: 'chain-broken' }, 'each verification is audited with the checkpoint and its outcome')

  // The tail cut: the newest entries deleted with the guard off (from 10 before the first checkpoint).
  await tamper(db, cutFrom(first.chain_seq - 10))
  const plain = (await test.injectAs(AUDITOR, { method: 'GET', url: '/v1/audit-events/verify' })).json()
  t.match(plain, { valid: true, broken: null }, 'the cut chain is valid in itself: only a checkpoint shows the cut')
  const cutFirst = await verifyWith(test, first.jws)
  t.ok(cutFirst.last_seq < first.chain_seq, `the chain now ends at ${cutFirst.last_seq}`)
  t.match(cutFirst, {
    valid: false,
    to_seq: first.chain_seq,
    broken: null,
    checkpoint: {
      checkpoint: 1,
      holds: false,
      failure: 'chain-shorter',
      detail: new RegExp(
        `^checkpoint 1 \\(position ${first.chain_seq}, signed .*\\) does not hold: the chain now ends at position \\d+; entries after it were removed$`,
      ),
    },
  })
  t.match(await verifyWith(test, second.jws), { valid: false, checkpoint: { checkpoint: 2, failure: 'chain-shorter' } })

  // The service signs nothing over the cut.
  const refused = await test.injectAs(AUDITOR, { method: 'POST', url: '/v1/audit-events/checkpoints' })
  expectStatus(t, refused, 409)
  t.match(refused.json(), { code: 'conflict', checkpoint: 2, detail: /no longer holds checkpoint 2/ })
  await t.rejects(runCheckpointRound(db, keys), /no longer holds checkpoint 2/, 'nor does the background job')
  t.equal(
    Number(
      (
        await db
          .selectFrom('audit_checkpoints')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
    2,
  )

  // New entries linked onto the cut chain make it long again, with other hashes: still found.
  await seed(db, 40)
  const rewritten = await verifyWith(test, first.jws)
  t.ok(rewritten.last_seq === first.chain_seq, 'the chain reaches the position again')
  t.match(rewritten, {
    valid: false,
    broken: null,
    checkpoint: { checkpoint: 1, holds: false, failure: 'hash-differs', detail: /^checkpoint 1 .* does not hold: the chain has another hash at position/ },
  })
})

t.test('a checkpoint that is not genuine is named as such; malformed ones are refused', async (t) => {
  const test = await buildTestApp(t)
  await seed(test.db, 5)
  const real = await checkpointNow(test, test.db)
  const [header, payload, signature] = real.jws.split('.') as [string, string, string]
  const statement = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))

  const forgedPayload = Buffer.from(JSON.stringify({ ...statement, chain_seq: statement.chain_seq - 1 })).toString('base64url')
  t.match(await verifyWith(test, `${header}.${forgedPayload}.${signature}`), {
    valid: false,
    checkpoint: { holds: false, failure: 'signature-invalid', detail: /signature does not verify/ },
  })
  const { privateKey } = await generateKeyPair('ES256')
  const foreign = await new CompactSign(Buffer.from(JSON.stringify(statement)))
    .setProtectedHeader({ alg: 'ES256', kid: 'someone-elses-key', typ: 'audit-checkpoint+jws' })
    .sign(privateKey)
  t.match(await verifyWith(test, foreign), { valid: false, checkpoint: { failure: 'unknown-key', detail: /someone-elses-key, which is not a checkpoint key/ } })
  const sameKidOtherKey = await new CompactSign(Buffer.from(JSON.stringify(statement)))
    .setProtectedHeader({ alg: 'ES256', kid: real.kid, typ: 'audit-checkpoint+jws' })
    .sign(privateKey)
  t.match(await verifyWith(test, sameKidOtherKey), { valid: false, checkpoint: { failure: 'signature-invalid' } })

  for (const [bad, label] of [
    ['not-a-jws', 'not a JWS'],
    [`${header}.${Buffer.from('{"chain_seq":"1"}').toString('base64url')}.${signature}`, 'not a checkpoint statement'],
    [`${header}.%%%.${signature}`, 'not base64url'],
  ] as const) {
    const res = await test.injectAs(AUDITOR, { method: 'GET', url: `/v1/audit-events/verify?checkpoint=${encodeURIComponent(bad)}` })
    expectStatus(t, res, 400, label)
    t.match(res.json(), { code: 'bad-request', errors: [{ pointer: 'querystring/checkpoint' }] })
  }
  const withRange = await test.injectAs(AUDITOR, { method: 'GET', url: `/v1/audit-events/verify?from=1&checkpoint=${real.jws}` })
  expectStatus(t, withRange, 400, 'a checkpoint fixes the range')
  expectStatus(t, await test.injectAs('admin', { method: 'GET', url: `/v1/audit-events/verify?checkpoint=${real.jws}` }), 403)

  // Once the head is covered, asking again returns the last checkpoint instead of signing another.
  const sign = () => test.db.transaction().execute((trx) => signCheckpoint(trx, keys, { wait: true }))
  const latest = await sign()
  t.match(await sign(), { created: false, checkpoint: { checkpoint: latest!.checkpoint.checkpoint, jws: latest!.checkpoint.jws } })
})

t.test('the README scripts verify a real checkpoint offline, and an export against it', async (t) => {
  const test = await buildTestApp(t)
  await seed(test.db, 25)
  await test.injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'cp', name: '監査課' } })
  await linkEverything(test.db)
  const cp = await checkpointNow(test, test.db)
  await seed(test.db, 5)

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-checkpoint-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const file = async (name: string, text: string) => {
    await fs.writeFile(path.join(dir, name), text)
    return path.join(dir, name)
  }
  const node = await file('verify.mjs', await readmeScript('checkpoint-script:node'))
  const python = await file('verify.py', await readmeScript('checkpoint-script:python'))
  const jwks = await file('jwks.json', (await test.app.inject({ method: 'GET', url: '/.well-known/audit-checkpoint-jwks.json' })).body)
  const jws = await file('checkpoint.jws', `${cp.jws}\n`)
  const exported = (await test.injectAs(AUDITOR, { method: 'GET', url: '/v1/audit-events/export' })).body
  const whole = await file('export.ndjson', exported)
  const hasPython = spawnSync('python3', ['--version']).status === 0
  const run = (...args: string[]) => {
    const results = [spawnSync(process.execPath, [node, ...args], { encoding: 'utf8', timeout: 30_000 })]
    if (hasPython) results.push(spawnSync('python3', [python, ...args], { encoding: 'utf8', timeout: 30_000 }))
    return results
  }
  if (!hasPython) t.comment('python3 not installed: the Python script was not run')

  const { signed_at } = await test.db.selectFrom('audit_checkpoints').select('signed_at').executeTakeFirstOrThrow()
  const expected = `checkpoint ${cp.checkpoint} signed ${signed_at.toISOString()}: position ${cp.chain_seq}, hash ${cp.chain_hash}\n`
  for (const r of run(jws, jwks)) {
    t.equal(r.status, 0, r.stderr)
    t.equal(r.stdout, expected, 'the signature verifies against the published JWKS')
  }
  for (const r of run(jws, jwks, whole)) {
    t.equal(r.status, 0, r.stderr)
    t.equal(r.stdout, `${expected}export entries 1..${cp.chain_seq} match checkpoint ${cp.checkpoint}\n`, 'the export holds the checkpoint')
  }
  const lines = exported.trim().split('\n')
  const partial = await file('part.ndjson', `${lines.slice(9).join('\n')}\n`)
  for (const r of run(jws, jwks, partial)) t.match(r.stdout, new RegExp(`export entries 10\\.\\.${cp.chain_seq} match`), 'a part of the chain that reaches it')

  const failures: Array<[string, string[], RegExp]> = [
    ['a changed checkpoint', [await file('forged.jws', forge(cp.jws, { chain_hash: 'f'.repeat(64) })), jwks], /signature does not verify/],
    ["another service's keys", [jws, await file('empty.json', '{"keys":[]}')], /signature does not verify/],
    [
      'an export cut before the checkpoint',
      [jws, jwks, await file('short.ndjson', `${lines.slice(0, cp.chain_seq - 3).join('\n')}\n`)],
      /does not reach position/,
    ],
    ['an altered entry', [jws, jwks, await file('altered.ndjson', exported.replace('"subject":"staff-1"', '"subject":"staff-2"'))], /was altered/],
  ]
  for (const [label, args, message] of failures) {
    for (const r of run(...args)) {
      t.not(r.status, 0, `${label} fails`)
      t.match(r.stderr, message)
    }
  }

  // The database's tail cut, re-hashed onward: the new export no longer matches the checkpoint.
  await tamper(test.db, cutFrom(cp.chain_seq - 3))
  await seed(test.db, 10)
  const after = await file('after.ndjson', (await test.injectAs(AUDITOR, { method: 'GET', url: '/v1/audit-events/export' })).body)
  for (const r of run(jws, jwks, after)) {
    t.not(r.status, 0)
    t.match(r.stderr, new RegExp(`another hash at position ${cp.chain_seq} than checkpoint ${cp.checkpoint}`), 'a re-hashed chain fails against the checkpoint')
  }
})

function forge(jws: string, change: Record<string, unknown>): string {
  const [h, p, s] = jws.split('.') as [string, string, string]
  const statement = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'))
  return `${h}.${Buffer.from(JSON.stringify({ ...statement, ...change })).toString('base64url')}.${s}`
}
