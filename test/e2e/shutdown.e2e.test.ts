import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { signHs256Token } from '../../src/kernel/auth.ts'
import { openEmbedded, connectPostgres, type DatabaseHandle } from '../../src/kernel/db.ts'
import { createTestDatabase, testDatabaseUrl } from '../helpers/database.ts'
import { expectEvery } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'
import { startServiceProcess } from '../helpers/process.ts'

/**
 * SIGTERM while requests are in flight: those the service accepted finish and are stored, new
 * ones are refused (503 or a closed connection), no 500s, and the process exits 0.
 */
t.test('SIGTERM during load', async (t) => {
  const secret = crypto.randomBytes(32).toString('hex')
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-sigterm-'))
  const database = testDatabaseUrl ? await createTestDatabase() : null
  t.teardown(async () => {
    await fs.rm(dataDir, { recursive: true, force: true })
    await database?.drop()
  })
  const env = {
    ...process.env,
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: database?.url ?? '',
    AUTH_HS256_SECRET: secret,
    AUTH_ISSUER: 'shutdown-test',
    AUTH_AUDIENCE: 'madoguchi',
    LOG_LEVEL: process.env.SHUTDOWN_LOG ?? 'warn',
    RATE_LIMIT_PER_MINUTE: '0',
    // Several test files share two cores: a slow event loop here is the machine, not overload.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
  }
  const server = await startServiceProcess(t, env)
  const base = server.base
  const token = await signHs256Token(new TextEncoder().encode(secret), 'shutdown-test', 'madoguchi', {
    subject: 'desk-1',
    roles: ['desk'],
    orgUnit: '00000000-0000-7000-8000-000000000001',
  })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const created = await fetch(`${base}/v1/cases`, {
    method: 'POST',
    headers,
    body: JSON.stringify(caseBody({ occurred_at: new Date().toISOString(), categories: ['other'], severity: 'low', summary: 'shutdown' })),
  })
  const caseId = ((await created.json()) as { id: string }).id

  let sigtermAt = Number.POSITIVE_INFINITY
  const append = (i: number) =>
    fetch(`${base}/v1/cases/${caseId}/events`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'note', occurred_at: new Date().toISOString(), description: `note ${i}` }),
    }).then(
      async (res) => ({ status: res.status, body: await res.text(), at: performance.now() }),
      () => ({ status: 0, body: 'connection refused or closed', at: performance.now() }),
    )

  // A wave in flight, SIGTERM as soon as the service answers its first request (so the rest of the
  // wave is surely in its hands, however loaded the machine), and a second wave while it closes.
  const first = Array.from({ length: 40 }, (_, i) => append(i))
  await Promise.race(first)
  sigtermAt = performance.now()
  server.child.kill('SIGTERM')
  const second = Array.from({ length: 20 }, (_, i) => append(100 + i))
  const results = await Promise.all([...first, ...second])
  t.equal(await server.exited, 0, 'exit 0')
  if (process.env.SHUTDOWN_LOG) await fs.writeFile(process.env.SHUTDOWN_LOG_FILE ?? '/tmp/shutdown.log', server.stdout() + server.stderr())

  const statuses = results.map((r) => r.status)
  expectEvery(t, statuses, (s) => s === 201 || s === 503 || s === 0, `only 201, 503 or a refused connection (${[...new Set(statuses)].join(', ')})`)
  const stored = statuses.filter((s) => s === 201).length
  const finishedAfterSigterm = results.slice(0, first.length).filter((r) => r.status === 201 && r.at > sigtermAt).length
  t.ok(finishedAfterSigterm > 0, `${finishedAfterSigterm} requests in flight at SIGTERM finished`)

  // Every acknowledged write is stored, and only those.
  const handle: DatabaseHandle = database ? connectPostgres(database.url!, 1) : await openEmbedded(path.join(dataDir, 'pgdata'))
  const notes = await handle.db
    .selectFrom('case_events')
    .select(handle.db.fn.countAll().as('n'))
    .where('case_id', '=', caseId)
    .where('type', '=', 'note')
    .executeTakeFirstOrThrow()
  await handle.close()
  t.equal(Number(notes.n), stored, 'the events stored are exactly those acknowledged')
})
