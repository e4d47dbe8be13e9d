import { spawn } from 'node:child_process'
import t from 'tap'
import { connectPostgres } from '../../src/kernel/db.ts'
import { addDays, todayInTokyo, tokyoDate } from '../../src/kernel/time.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { at, createCase, daysAgo, pastReviewPeriod, register } from '../helpers/fixtures.ts'

t.test('the retention sweep purges expired non-document personal information and marks the rest due', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit, db } = test
  const unit = await orgUnit('denwa')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-s' }
  const rm: Identity = { roles: ['records_manager'], sub: 'rm-s' }
  const kase = await createCase(test, sup)

  // Phone-system recordings not used in any case: personal information only, 90 days.
  const expired = await register(test, sup, { started_at: daysAgo(120) })
  const fresh = await register(test, sup, { started_at: daysAgo(10) })
  const heldOne = await register(test, sup, { started_at: daysAgo(200) })
  // Registered long ago: no review period keeps them (test/recordings/review-period.test.ts).
  await pastReviewPeriod(db, expired.id, fresh.id, heldOne.id)
  await injectAs(sup, {
    method: 'POST',
    url: `/v1/recordings/${heldOne.id}/holds`,
    payload: { type: 'disclosure_request', reference: '保有個人情報開示請求 第9号' },
  })
  // Extracted into a case: a document, kept 5 years, then due for two-person disposition.
  const document = await register(test, sup, { case_id: kase.id, started_at: at('2015-06-01') })
  await db.updateTable('recordings').set({ status: 'active', due_since: null }).where('id', '=', document.id).execute() // as if registered before it ended

  const result = await sweepRetention(db)
  t.match(result, { today: todayInTokyo(), purged: 1, marked_due: 1, skipped: false })

  const row = await db.selectFrom('recordings').selectAll().where('id', '=', expired.id).executeTakeFirstOrThrow()
  t.match(row, {
    status: 'purged',
    storage_uri: null,
    description: null,
    participants: null,
    caller_number: null,
    sha256: expired.sha256,
    title: expired.title,
  })
  t.ok(row.disposition_id, 'points at its disposition record')
  const record = await db.selectFrom('dispositions').selectAll().where('recording_id', '=', expired.id).executeTakeFirstOrThrow()
  t.match(record, {
    id: row.disposition_id,
    action: 'purge',
    status: 'executed',
    proposed_by: 'system',
    decided_by: 'system',
    sha256: expired.sha256,
    classification: 'personal_information',
    retention_rule: { record_category: '*', classification: 'personal_information', period: { unit: 'days', value: 90 } },
    effective_end: addDays(tokyoDate(new Date(expired.started_at)), 89),
  })
  t.match(record.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7 made in SQL')
  const purgedChange = await db
    .selectFrom('changes')
    .select(['kind', 'data', 'org_unit_id'])
    .where('resource_id', '=', expired.id)
    .where('kind', '=', 'recording.purged')
    .execute()
  t.match(purgedChange, [{ kind: 'recording.purged', org_unit_id: unit, data: { status: 'purged', disposition_id: record.id } }], 'a purge event is published')

  const view = (await injectAs(sup, { method: 'GET', url: `/v1/recordings/${expired.id}` })).json()
  t.match(view, { status: 'purged', storage_uri: null, description: null, redacted: false, disposition_id: record.id }, 'a tombstone')
  const listed = (await injectAs({ roles: ['auditor'] }, { method: 'GET', url: '/v1/dispositions?action=purge' })).json().items
  t.match(
    listed,
    [{ recording_id: expired.id, proposed_by: { id: 'system' }, decided_by: { id: 'system' } }],
    'auditors list purges with the other disposition records',
  )

  for (const [id, status] of [
    [fresh.id, 'active'],
    [heldOne.id, 'active'],
    [document.id, 'due'],
  ] as const) {
    const r = await db.selectFrom('recordings').select(['status', 'storage_uri']).where('id', '=', id).executeTakeFirstOrThrow()
    t.equal(r.status, status)
    t.ok(r.storage_uri, 'media kept')
  }
  t.match(await sweepRetention(db), { purged: 0, marked_due: 0 }, 'idempotent: a second sweep finds nothing')

  const sweeps = await db.selectFrom('audit_events').select(['subject', 'action', 'details']).where('action', '=', 'sweepRetention').execute()
  t.match(sweeps, [{ subject: 'system', details: { purged: 1, marked_due: 1 } }], 'each sweep that did something is audited')

  t.test('releasing the hold lets the next sweep purge it', async (t) => {
    const holds = (await injectAs(sup, { method: 'GET', url: `/v1/recordings/${heldOne.id}/holds` })).json().items
    await injectAs(rm, { method: 'POST', url: `/v1/recordings/${heldOne.id}/holds/${holds[0].id}/release`, payload: { reason: '開示決定済み・不開示' } })
    t.match(await sweepRetention(db), { purged: 1 })
  })
})

t.test('concurrent sweeps do no double work', async (t) => {
  const test = await buildTestApp(t)
  const { orgUnit, db, database } = test
  const unit = await orgUnit('heiretsu')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-c' }
  const N = 40
  for (let i = 0; i < N; i++) await pastReviewPeriod(db, (await register(test, sup, { started_at: daysAgo(100 + i) })).id)

  // Four sweepers at once (on PostgreSQL each on its own pool, as separate instances would be),
  // in batches of 7 so that they interleave.
  const pools = database.url ? Array.from({ length: 4 }, () => connectPostgres(database.url!, 2)) : []
  t.teardown(() => Promise.all(pools.map((p) => p.close())))
  const dbs = pools.length ? pools.map((p) => p.db) : [db, db, db, db]
  const results = await Promise.all(dbs.map((d) => sweepRetention(d, { batchSize: 7 })))
  t.equal(
    results.reduce((n, r) => n + r.purged, 0),
    N,
    `every recording purged once across the sweepers (${results.map((r) => (r.skipped ? 'skipped' : r.purged)).join(', ')})`,
  )
  const records = await db
    .selectFrom('dispositions')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.count('recording_id').distinct().as('distinct')])
    .where('action', '=', 'purge')
    .executeTakeFirstOrThrow()
  t.same({ n: Number(records.n), distinct: Number(records.distinct) }, { n: N, distinct: N }, 'one purge record per recording')
  const changes = await db
    .selectFrom('changes')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('kind', '=', 'recording.purged')
    .executeTakeFirstOrThrow()
  t.equal(Number(changes.n), N, 'one purge event per recording')
  const again = await Promise.all(dbs.map((d) => sweepRetention(d)))
  t.equal(
    again.reduce((n, r) => n + r.purged, 0),
    0,
  )
})

t.test(
  'npm run retention:sweep runs one sweep on the configured database',
  { skip: process.env.TEST_DATABASE_URL ? false : 'needs PostgreSQL (the embedded test database lives in this process)' },
  async (t) => {
    const test = await buildTestApp(t)
    const sup: Identity = { roles: ['supervisor'], unit: await test.orgUnit('cli'), sub: 'sup-cli' }
    const rec = await register(test, sup, { started_at: daysAgo(365) })
    await pastReviewPeriod(test.db, rec.id)
    const output = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['src/cli/retention-sweep.ts'], {
        env: { ...process.env, DATABASE_URL: test.database.url!, LOG_LEVEL: 'silent' },
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
    t.equal(output.code, 0, output.stderr)
    t.match(JSON.parse(output.stdout), { purged: 1, marked_due: 0, skipped: false })
    const row = await test.db.selectFrom('recordings').select('status').where('id', '=', rec.id).executeTakeFirstOrThrow()
    t.equal(row.status, 'purged')
  },
)
