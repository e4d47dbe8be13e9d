import { sql } from 'kysely'
import t from 'tap'
import { publishChanges } from '../../src/kernel/outbox.ts'
import { sequenceAllPendingChanges } from '../../src/kernel/sequencer.ts'
import type { Trx } from '../../src/kernel/db.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { buildTestApp, startTestServer } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/database.ts'
import { expectStatus } from '../helpers/expect.ts'

t.test('a committed change appears in the feed with a position; reads are audited', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  const created = await injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'shimin', name: '市民課' } })
  expectStatus(t, created, 201)

  const res = await injectAs({ roles: ['auditor'], sub: 'auditor-1' }, { method: 'GET', url: '/v1/changes', headers: { 'x-request-id': 'feed-1' } })
  expectStatus(t, res, 200)
  const page = res.json()
  t.match(page, {
    items: [
      {
        position: 1,
        kind: 'org_unit.created',
        resource_type: 'org_unit',
        resource_id: created.json().id,
        org_unit_id: created.json().id,
        data: { code: 'shimin' },
      },
    ],
    next_after: 1,
    head: 1,
  })
  t.notMatch(JSON.stringify(page), /市民課/, 'ids and kinds, not the values written')

  const again = await injectAs('auditor', { method: 'GET', url: '/v1/changes?after=1' })
  t.same(again.json(), { items: [], next_after: 1, head: 1 }, 'nothing after the head')

  const entry = await db.selectFrom('audit_events').selectAll().where('request_id', '=', 'feed-1').executeTakeFirstOrThrow()
  t.match(entry, { action: 'listChanges', subject: 'auditor-1', outcome: 'allowed', status: 200, details: { after: 0, count: 1, next_after: 1 } })

  expectStatus(t, await injectAs('staff', { method: 'GET', url: '/v1/changes' }), 403)
  expectStatus(t, await injectAs('admin', { method: 'GET', url: '/v1/changes' }), 403)
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/changes?limit=1001' }), 400)
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/changes?wait=31' }), 400)
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/changes?after=-1' }), 400)
})

t.test('pages: limit, next_after, and integration clients see their unit subtree and organisation-wide changes', async (t) => {
  const { db, injectAs, orgUnit } = await buildTestApp(t)
  const fukushi = await orgUnit('fukushi')
  const fukushi1 = await orgUnit('fukushi-1', fukushi)
  const zeimu = await orgUnit('zeimu')
  await db.transaction().execute(async (trx) => {
    await publishChanges(trx, [
      { kind: 'case.created', resourceType: 'case', resourceId: 'c-fukushi', orgUnitId: fukushi },
      { kind: 'case.created', resourceType: 'case', resourceId: 'c-zeimu', orgUnitId: zeimu },
      { kind: 'case.created', resourceType: 'case', resourceId: 'c-fukushi-1', orgUnitId: fukushi1 },
      { kind: 'policy.version_created', resourceType: 'policy', resourceId: 'p-1', orgUnitId: null },
      { kind: 'case.updated', resourceType: 'case', resourceId: 'c-zeimu', orgUnitId: zeimu, data: { version: 2 } },
    ])
  })

  const integration = { roles: ['integration' as const], unit: fukushi }
  const first = (await injectAs(integration, { method: 'GET', url: '/v1/changes?limit=2' })).json()
  t.same(
    first.items.map((c: { resource_id: string }) => c.resource_id),
    ['c-fukushi', 'c-fukushi-1'],
    'own unit and below, not the other unit',
  )
  t.equal(first.next_after, 3, 'resume after the last change shown')
  const second = (await injectAs(integration, { method: 'GET', url: `/v1/changes?after=${first.next_after}&limit=2` })).json()
  t.same(
    second.items.map((c: { resource_id: string }) => c.resource_id),
    ['p-1'],
    'organisation-wide changes too',
  )
  t.equal(second.next_after, 5, "a short page resumes from the head: the other unit's change at 5 is skipped for good")

  const auditor = (await injectAs('auditor', { method: 'GET', url: '/v1/changes?limit=10' })).json()
  t.same(
    auditor.items.map((c: { position: number }) => c.position),
    [1, 2, 3, 4, 5],
    'auditors see everything, positions without gaps',
  )
  t.same(
    auditor.items.map((c: { resource_id: string }) => c.resource_id),
    ['c-fukushi', 'c-zeimu', 'c-fukushi-1', 'p-1', 'c-zeimu'],
    'one transaction: in the order written',
  )

  const sub = (await injectAs({ roles: ['integration'], unit: fukushi1 }, { method: 'GET', url: '/v1/changes' })).json()
  t.same(
    sub.items.map((c: { resource_id: string }) => c.resource_id),
    ['c-fukushi-1', 'p-1'],
    "a sub-unit does not see its parent's changes",
  )
})

t.test('long poll: waits for a change, or answers empty when the wait is over', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  const started = Date.now()
  const empty = await injectAs('auditor', { method: 'GET', url: '/v1/changes?wait=1' })
  t.same(empty.json(), { items: [], next_after: 0, head: 0 })
  t.ok(Date.now() - started >= 900, 'waited about a second')

  const polling = injectAs('auditor', { method: 'GET', url: '/v1/changes?wait=10' })
  await new Promise((r) => setTimeout(r, 400))
  const writeAt = Date.now()
  await db.transaction().execute((trx) => publishChanges(trx, [{ kind: 'case.created', resourceType: 'case', resourceId: 'late', orgUnitId: null }]))
  const res = await polling
  t.match(res.json(), { items: [{ position: 1, resource_id: 'late' }], next_after: 1 })
  t.ok(Date.now() - writeAt < 3000, 'answered soon after the commit, not at the end of the wait')
})

t.test('a rolled-back transaction leaves no change and no hole', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await db.transaction().execute((trx) => publishChanges(trx, [{ kind: 'case.created', resourceType: 'case', resourceId: 'kept-1', orgUnitId: null }]))
  await t.rejects(
    db.transaction().execute(async (trx) => {
      await publishChanges(trx, [{ kind: 'case.created', resourceType: 'case', resourceId: 'gone', orgUnitId: null }])
      throw new Error('rolled back')
    }),
  )
  await db.transaction().execute((trx) => publishChanges(trx, [{ kind: 'case.created', resourceType: 'case', resourceId: 'kept-2', orgUnitId: null }]))
  const page = (await injectAs('auditor', { method: 'GET', url: '/v1/changes' })).json()
  t.same(
    page.items.map((c: { position: number; resource_id: string }) => [c.position, c.resource_id]),
    [
      [1, 'kept-1'],
      [2, 'kept-2'],
    ],
  )
  t.equal(Number((await sql<{ n: number }>`select count(*) as n from change_commits`.execute(db)).rows[0]!.n), 0, 'tickets are cleaned up once numbered')
})

t.test('same record, sequential transactions: the feed follows commit order where txid order would not', async (t) => {
  // Needs two transactions open at once: the embedded database has a single connection.
  if (!testDatabaseUrl) return t.pass('two open transactions', { skip: 'needs PostgreSQL (TEST_DATABASE_URL)' })
  const { db, injectAs } = await buildTestApp(t)
  await sql`create table feed_test_records (id text primary key, version integer not null)`.execute(db)
  await sql`insert into feed_test_records values ('R', 1)`.execute(db)
  const bump = async (trx: Trx) => {
    const row = await sql<{ version: number }>`update feed_test_records set version = version + 1 where id = 'R' returning version`.execute(trx)
    return row.rows[0]!.version
  }

  // T-low writes first (smaller txid), then waits; T-high bumps R to version 2 and commits;
  // only then does T-low bump R to version 3 and commit.
  let releaseLow!: () => void
  const lowMayGo = new Promise<void>((r) => (releaseLow = r))
  let lowStarted!: () => void
  const lowHasWritten = new Promise<void>((r) => (lowStarted = r))
  const low = db.transaction().execute(async (trx) => {
    await publishChanges(trx, [{ kind: 'case.updated', resourceType: 'case', resourceId: 'other', orgUnitId: null }])
    lowStarted()
    await lowMayGo
    const version = await bump(trx)
    await publishChanges(trx, [{ kind: 'case.updated', resourceType: 'case', resourceId: 'R', orgUnitId: null, data: { version } }])
  })
  await lowHasWritten
  await db.transaction().execute(async (trx) => {
    const version = await bump(trx)
    await publishChanges(trx, [{ kind: 'case.updated', resourceType: 'case', resourceId: 'R', orgUnitId: null, data: { version } }])
  })
  releaseLow()
  await low

  const byTxid = await db.selectFrom('changes').select(['data']).where('resource_id', '=', 'R').orderBy('txid').orderBy('id').execute()
  t.same(
    byTxid.map((r) => r.data.version),
    [3, 2],
    '(txid, id) order would show version 3 before version 2',
  )
  await sequenceAllPendingChanges(db)
  const feed = (await injectAs('auditor', { method: 'GET', url: '/v1/changes' })).json()
  t.same(
    feed.items.filter((c: { resource_id: string }) => c.resource_id === 'R').map((c: { data: { version: number } }) => c.data.version),
    [2, 3],
    'the feed shows version 2, then version 3',
  )
})

t.test('a long poll ends at once when the service shuts down', async (t) => {
  const { app, injectAs } = await buildTestApp(t)
  await injectAs('auditor', { method: 'GET', url: '/v1/changes' })
  const started = Date.now()
  const polling = injectAs('auditor', { method: 'GET', url: '/v1/changes?wait=30' })
  await new Promise((r) => setTimeout(r, 300))
  await app.close()
  const res = await polling
  t.ok(Date.now() - started < 5000, `the poll ended after ${Date.now() - started} ms, not 30 s`)
  t.ok([200, 503].includes(res.statusCode), `answered ${res.statusCode}`)
})

t.test('a long poll stops looking when its client goes away', async (t) => {
  const server = await startTestServer(t)
  const aborted = new AbortController()
  const started = Date.now()
  const poll = fetch(`${server.baseUrl}/v1/changes?wait=30`, {
    headers: { authorization: `Bearer ${await server.token({ roles: ['auditor'], sub: 'leaver' })}`, 'x-request-id': 'leaver-1' },
    signal: aborted.signal,
  }).catch(() => null)
  await new Promise((r) => setTimeout(r, 400))
  aborted.abort()
  await poll
  // The request ends (its audit entry is written) soon after, not when the 30 s are over.
  let entry = null
  while (!entry && Date.now() - started < 10_000) {
    entry = await server.db.selectFrom('audit_events').select(['action', 'subject']).where('request_id', '=', 'leaver-1').executeTakeFirst()
    if (!entry) await new Promise((r) => setTimeout(r, 100))
  }
  t.match(entry, { action: 'listChanges', subject: 'leaver' })
  t.ok(Date.now() - started < 10_000, `ended ${Date.now() - started} ms after it began`)
})
