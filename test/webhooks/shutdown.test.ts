import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { signHs256Token } from '../../src/kernel/auth.ts'
import { connectPostgres, openEmbedded } from '../../src/kernel/db.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { ABORTED_AT_SHUTDOWN } from '../../src/webhooks/worker.ts'
import { createEmbeddedDataDir, createTestDatabase, testDatabaseUrl } from '../helpers/database.ts'
import { startServiceProcess } from '../helpers/process.ts'
import { eventually, startReceiver } from './helpers.ts'
import { expectStatus } from '../helpers/expect.ts'

// Several processes start one after another here; a loaded two-core machine needs more than the
// default 120 s for the file.
t.setTimeout(300_000)

/**
 * A receiver that never answers, and an attempt timeout of 120 s: before, SIGTERM waited out
 * every claimed attempt and the deliveries stayed leased for minutes. Now the attempts in flight
 * are aborted at once, the process exits 0 within the background shutdown bound (5 s by
 * default), and the deliveries are due again at once, so the next instance sends them with the
 * same delivery ids as soon as it runs.
 */
t.test('SIGTERM aborts webhook attempts in flight and releases them; the next instance delivers them at once', async (t) => {
  const secret = crypto.randomBytes(32).toString('hex')
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-webhook-shutdown-'))
  const database = testDatabaseUrl ? await createTestDatabase() : null
  if (!database) await createEmbeddedDataDir(dataDir)
  t.teardown(async () => {
    await fs.rm(dataDir, { recursive: true, force: true })
    await database?.drop()
  })
  let answer: 'hang' | 'ok' = 'hang'
  const receiver = await startReceiver(t, () => (answer === 'hang' ? null : 204))
  const env = {
    ...process.env,
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: database?.url ?? '',
    AUTH_HS256_SECRET: secret,
    AUTH_ISSUER: 'webhook-shutdown-test',
    AUTH_AUDIENCE: 'madoguchi',
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_MINUTE: '0',
    WEBHOOK_INTERVAL_MS: '100',
    WEBHOOK_TIMEOUT_MS: '120000',
    WEBHOOK_PRIVATE_NETWORKS: '127.0.0.1/32',
    BACKGROUND_SHUTDOWN_TIMEOUT_MS: '',
  }
  const token = await signHs256Token(new TextEncoder().encode(secret), 'webhook-shutdown-test', 'madoguchi', {
    subject: 'admin-1',
    roles: ['admin'],
    orgUnit: ROOT_ORG_UNIT_ID,
  })
  const post = (base: string, url: string, body: unknown) =>
    fetch(`${base}${url}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })

  const first = await startServiceProcess(t, env)
  const hooks: string[] = []
  for (const name of ['a', 'b']) {
    const res = await post(first.base, '/v1/webhooks', { url: `${receiver.url}?${name}`, kinds: ['org_unit.created'] })
    expectStatus(t, res, 201)
    hooks.push(((await res.json()) as { id: string }).id)
  }
  for (const code of ['one', 'two']) expectStatus(t, await post(first.base, '/v1/org-units', { parent_id: ROOT_ORG_UNIT_ID, code, name: code }), 201)
  // Each webhook has its first delivery hanging at the receiver, its second waiting its turn.
  t.ok(await eventually(() => receiver.received.length >= 2, 30_000), 'two attempts hang at the receiver')
  const hung = receiver.received.map((r) => String(r.headers['madoguchi-delivery']))

  const signalled = Date.now()
  first.child.kill('SIGTERM')
  // Exit 0 means the shutdown finished before close-with-grace's 25 s limit (it exits 1 then);
  // waiting for the receiver would take the 120 s attempt timeout.
  t.equal(await first.exited, 0, 'exit 0')
  const shutdownMs = first.loggedAt('stopped')! - first.loggedAt('shutting down')!
  t.ok(shutdownMs < 5000, `the service shut down in ${shutdownMs} ms, within the 5 s background bound (BACKGROUND_SHUTDOWN_TIMEOUT_MS)`)
  t.comment(`the process was gone ${Date.now() - signalled} ms after SIGTERM (freeing the embedded engine's memory included)`)
  t.notMatch(first.stdout(), /still running at the shutdown bound/, 'no background work was left behind')

  // Nothing is leased: the aborted attempts are on record and every delivery is due now.
  const handle = database ? connectPostgres(database.url!, 1) : await openEmbedded(path.join(dataDir, 'pgdata'))
  const rows = await sql<{ id: string; status: string; attempts: number; due: boolean }>`
    select id, status, attempts, next_attempt_at <= now() as due from webhook_deliveries order by change_position, webhook_id`.execute(handle.db)
  const attempts = await handle.db.selectFrom('webhook_attempts').select(['delivery_id', 'attempt', 'error']).execute()
  await handle.close()
  // The second change may not be queued yet: the round that hangs dispatched before it was made.
  t.ok(rows.rows.length >= 2, `${rows.rows.length} deliveries queued`)
  t.ok(
    rows.rows.every((r) => r.status === 'pending' && r.due),
    'all pending and due at once, none leased',
  )
  t.same(attempts.map((a) => a.delivery_id).sort(), [...hung].sort(), 'the two aborted attempts are recorded')
  t.ok(
    attempts.every((a) => a.attempt === 1 && a.error === ABORTED_AT_SHUTDOWN),
    'as aborted at shutdown',
  )

  answer = 'ok'
  const second = await startServiceProcess(t, env)
  const restarted = Date.now()
  t.ok(await eventually(() => receiver.received.length >= 6, 30_000), 'the next instance delivers all four')
  t.comment(`delivered ${Date.now() - restarted} ms after the next instance started listening (the old lease was 180 s)`)
  const again = receiver.received.slice(2)
  t.same(
    again
      .filter((r) => r.headers['madoguchi-attempt'] === '2')
      .map((r) => String(r.headers['madoguchi-delivery']))
      .sort(),
    [...hung].sort(),
    'the aborted ones again, with the same delivery ids, as attempt 2',
  )
  for (const hook of hooks) {
    const positions = receiver.received
      .map((r) => JSON.parse(r.body) as { webhook_id: string; change: { position: number } })
      .filter((body) => body.webhook_id === hook)
      .map((body) => body.change.position)
    t.same(positions, [positions[0], positions[0], positions[0]! + 1], 'per webhook: the released one first, then the next in feed order')
  }
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})
