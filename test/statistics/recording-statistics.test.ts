import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { at, createCase, daysAgo, incidentBody, pastReviewPeriod, register } from '../helpers/fixtures.ts'

/** GET /v1/statistics/recordings: the retention programme at a glance. */
t.test('recording statistics', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, db } = test
  const unit = await test.orgUnit('kuyakusho')
  const other = await test.orgUnit('betsu')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-1' }
  const desk: Identity = { roles: ['desk'], sub: 'desk-1' }
  const rmA: Identity = { roles: ['records_manager'], sub: 'rm-a' }
  const rmB: Identity = { roles: ['records_manager'], sub: 'rm-b' }
  const kase = await createCase(test, sup, { org_unit_id: unit })

  // Personal information only (no case): 90 days. One expired (purged by the sweep), one fresh.
  const expired = await register(test, sup, { started_at: daysAgo(120) })
  const fresh = await register(test, sup, { started_at: daysAgo(10) })
  // As if registered when recorded: past the review period that keeps unclassified recordings.
  await pastReviewPeriod(db, expired.id, fresh.id)
  await sweepRetention(db)
  // A case recording whose retention ended long ago: due, then disposed by two records managers.
  const old = await register(test, sup, { case_id: kase.id, started_at: at('2015-06-01') })
  const proposed = await injectAs(rmA, {
    method: 'POST',
    url: `/v1/recordings/${old.id}/disposition`,
    payload: { action: 'dispose', reason: '保存期間満了' },
  })
  expectStatus(t, proposed, 201)
  expectStatus(t, await injectAs(rmB, { method: 'POST', url: `/v1/dispositions/${proposed.json().id}/approve`, payload: { reason: '確認済み' } }), 200)
  const due = await register(test, sup, { case_id: kase.id, started_at: at('2015-07-01') })
  // Case recordings held: audit; a disclosure request holding two; an incident holding one.
  const audited = await register(test, sup, { case_id: kase.id })
  const requested1 = await register(test, sup, { case_id: kase.id })
  const requested2 = await register(test, sup, { case_id: kase.id })
  const hold = async (id: string, type: string, reference: string) =>
    expectStatus(t, await injectAs(desk, { method: 'POST', url: `/v1/recordings/${id}/holds`, payload: { type, reference } }), 201, `${type} hold`)
  await hold(audited.id, 'audit', '令和6年度 定期監査')
  await hold(requested1.id, 'disclosure_request', 'DR-2024-1')
  await hold(requested2.id, 'disclosure_request', 'DR-2024-1')
  const incident = await injectAs(desk, {
    method: 'POST',
    url: '/v1/incidents',
    payload: incidentBody({ records: [{ type: 'recording', id: requested2.id }] }),
  })
  expectStatus(t, incident, 201)
  // Another unit's recording, outside the supervisor's reach.
  await register(test, { roles: ['supervisor'], unit: other, sub: 'sup-2' }, {})

  const get = async (who: Identity, query = '') => {
    const res = await injectAs(who, { method: 'GET', url: `/v1/statistics/recordings?${query}` })
    expectStatus(t, res, 200, query)
    return res.json()
  }

  t.test('every measure, within reach', async (t) => {
    const s = await get(sup)
    t.equal(s.as_of, todayInTokyo())
    t.equal(s.suppressed, false)
    t.same(s.total, {
      recordings: 7,
      active: 4,
      on_hold: 3,
      on_hold_audit: 1,
      on_hold_litigation: 0,
      on_hold_appeal: 0,
      on_hold_disclosure_request: 2,
      on_hold_incident: 1,
      on_hold_other: 0,
      due: 1,
      disposed: 1,
      transferred: 0,
      purged: 1,
      disclosure_requests_holding: 1,
      incidents_holding: 1,
    })
    t.equal((await get(desk)).total.recordings, 8, 'the desk: every unit')
    t.equal((await get(desk, `org_unit_id=${other}`)).total.recordings, 1)
  })

  t.test('upcoming disposals per month, 12 months', async (t) => {
    const s = await get(sup)
    t.equal(s.upcoming_disposals.length, 12)
    t.equal(s.upcoming_disposals[0].month, todayInTokyo().slice(0, 7))
    const freshEnd = (await injectAs(sup, { method: 'GET', url: `/v1/recordings/${fresh.id}` })).json().retention.end as string
    const month = addDays(freshEnd, 1).slice(0, 7)
    const row = s.upcoming_disposals.find((m: { month: string }) => m.month === month)
    t.equal(row?.recordings, 1, 'the fresh personal-information recording runs out within 12 months')
    t.equal(
      s.upcoming_disposals.reduce((n: number, m: { recordings: number }) => n + m.recordings, 0),
      1,
      'held and 5-year recordings are not upcoming',
    )
  })

  t.test('grouped by classification, status and unit', async (t) => {
    const byStatus = await get(sup, 'group_by=status')
    t.same(
      Object.fromEntries(byStatus.rows.map((r: { group: { status: string }; measures: { recordings: number } }) => [r.group.status, r.measures.recordings])),
      { active: 4, disposed: 1, due: 1, purged: 1 },
    )
    const byClass = await get(sup, 'group_by=classification,org_unit')
    t.ok(byClass.rows.every((r: { group: { org_unit_id: string } }) => r.group.org_unit_id === unit))
    const docs = byClass.rows.find((r: { group: { classification: string } }) => r.group.classification === 'both')
    t.match(docs?.measures, { recordings: 5, disclosure_requests_holding: 1, incidents_holding: 1 })
    const desks = await get(desk, 'group_by=org_unit')
    t.equal(desks.rows.length, 2)
    void due
  })

  t.test('CSV with Japanese column headers', async (t) => {
    const res = await injectAs(sup, {
      method: 'GET',
      url: '/v1/statistics/recordings?group_by=status',
      headers: { accept: 'text/csv', 'accept-language': 'ja-JP' },
    })
    expectStatus(t, res, 200)
    const lines = res.body.replace(/^\uFEFF/, '').split('\r\n')
    t.match(lines[0], /^基準日,状態,録音・録画,保存中,保存延長中,延長（監査・検査）,/)
    t.match(lines[0], new RegExp(`廃棄予定 ${todayInTokyo().slice(0, 7)}`))
    t.match(
      lines.find((l) => l.includes('合計')),
      new RegExp(`^${todayInTokyo()},合計,7,4,3,1,`),
    )
  })

  t.test('auditors: suppressed', async (t) => {
    const s = await get({ roles: ['auditor'] }, 'group_by=status')
    t.equal(s.suppressed, true)
    t.match(s.total, { recordings: 10, active: 5 }, '8 and 5, rounded to base 5')
    t.equal(s.total.due, 5, 'a total is rounded, never "<3"')
    const purged = s.rows.find((r: { group: { status: string } }) => r.group.status === 'purged')
    t.equal(purged.measures.recordings, '<3')
  })
})
