import t from 'tap'
import { sql } from 'kysely'
import { buildTestApp, type Identity, type TestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody, register } from '../helpers/fixtures.ts'

/**
 * GET /v1/statistics/cases on a small, known set of cases in fiscal year 2024 (2024-04-01 –
 * 2025-03-31, Tokyo): every measure, each grouping, the filters, the period, and who sees what.
 */

const desk: Identity = { roles: ['desk'], sub: 'desk-1' }
const supervisorOf = (unit: string): Identity => ({ roles: ['supervisor'], unit, sub: `sv-${unit}` })

async function newCase(test: TestApp, who: Identity, extra: Record<string, unknown>) {
  const res = await test.injectAs(who, { method: 'POST', url: '/v1/cases', payload: caseBody(extra) })
  if (res.statusCode !== 201) throw new Error(`case: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string }
}

async function event(test: TestApp, who: Identity, caseId: string, type: string) {
  const res = await test.injectAs(who, {
    method: 'POST',
    url: `/v1/cases/${caseId}/events`,
    payload: { type, occurred_at: new Date(Date.now() - 60_000).toISOString(), description: type },
  })
  if (res.statusCode !== 201) throw new Error(`event ${type}: ${res.statusCode} ${res.body}`)
}

async function transition(test: TestApp, who: Identity, caseId: string, to: string) {
  const res = await test.injectAs(who, { method: 'POST', url: `/v1/cases/${caseId}/transitions`, payload: { to, reason: `to ${to}` } })
  if (res.statusCode !== 200) throw new Error(`transition ${to}: ${res.statusCode} ${res.body}`)
}

t.test('case statistics', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs } = test
  const a = await test.orgUnit('ku-a')
  const a1 = await test.orgUnit('ku-a-1', a)
  const b = await test.orgUnit('ku-b')
  const staff: Identity = { roles: ['staff'], unit: a1, sub: 'staff-2' }

  // c1: a counter case of violence nobody may handle alone, one responder (a shortfall), the
  // ladder up to the police, then closed.
  const c1 = await newCase(test, desk, {
    org_unit_id: a,
    channel: 'counter',
    categories: ['violence'],
    severity: 'high',
    occurred_at: '2024-05-10T01:00:00Z',
  })
  for (const type of ['stop_request', 'stop_request', 'exit_order', 'final_warning', 'police_called']) await event(test, desk, c1.id, type)
  await transition(test, desk, c1.id, 'in_review')
  await event(test, desk, c1.id, 'resolution')
  await transition(test, desk, c1.id, 'resolved')
  await transition(test, desk, c1.id, 'closed')
  await register(test, desk, { case_id: c1.id })
  // c2: a phone case in the sub-unit, two categories, a limited apology, a recording without notice.
  const c2 = await newCase(test, desk, {
    org_unit_id: a1,
    channel: 'phone',
    categories: ['verbal_abuse', 'intimidation'],
    severity: 'medium',
    occurred_at: '2024-05-20T03:00:00Z',
    responders: ['staff-2'],
  })
  await event(test, desk, c2.id, 'limited_apology')
  await register(test, desk, { case_id: c2.id, notice: { given: false } })
  // c3: sexual harassment at the counter with two responders (no shortfall); fault acknowledged.
  const c3 = await newCase(test, desk, {
    org_unit_id: b,
    channel: 'counter',
    categories: ['sexual_harassment'],
    severity: 'critical',
    occurred_at: '2024-06-01T00:00:00Z',
    responders: ['staff-9'],
  })
  await event(test, desk, c3.id, 'fact_check')
  await event(test, desk, c3.id, 'fault_acknowledged')
  // c4: FY2025 (outside the period); c5: 2024-12-31T16:00Z is 2025-01-01 in Tokyo.
  await newCase(test, desk, { org_unit_id: b, channel: 'email', categories: ['other'], severity: 'low', occurred_at: '2025-04-02T00:00:00Z' })
  const c5 = await newCase(test, desk, {
    org_unit_id: a,
    channel: 'counter',
    categories: ['verbal_abuse'],
    severity: 'low',
    occurred_at: '2024-12-31T16:00:00Z',
  })

  const stats = async (who: Identity, query: string) => {
    const res = await injectAs(who, { method: 'GET', url: `/v1/statistics/cases?${query}` })
    expectStatus(t, res, 200, query)
    return res.json()
  }

  t.test('every measure over the fiscal year', async (t) => {
    const s = await stats(desk, 'fiscal_year=2024')
    t.same(s.period, { from: '2024-04-01', to: '2025-03-31' })
    t.equal(s.suppressed, false)
    t.same(s.rows, [], 'no grouping: the total only')
    t.match(s.total, {
      cases: 4,
      not_handled_alone: 2,
      not_handled_alone_with_shortfall: 1,
      escalated: 2,
      stop_requests: 2,
      exit_orders: 1,
      final_warnings: 1,
      police_calls: 1,
      police_consultations: 0,
      limited_apologies: 1,
      faults_acknowledged: 1,
      closed: 1,
      with_recordings: 2,
      with_notice_missing: 1,
    })
    const events = (await injectAs(desk, { method: 'GET', url: `/v1/cases/${c1.id}/events?limit=100` })).json().items
    const closing = events.find((e: { type: string; details: { to?: string } }) => e.type === 'status_changed' && e.details.to === 'closed')
    const expected = Math.round(((Date.parse(closing.occurred_at) - Date.parse('2024-05-10T01:00:00Z')) / 86_400_000) * 10) / 10
    t.equal(s.total.days_to_close_median, expected, 'median days from occurrence to closing')
    t.equal(s.total.days_to_close_p90, expected, '90th percentile')
  })

  t.test('each grouping', async (t) => {
    const groups = async (by: string) =>
      Object.fromEntries(
        (await stats(desk, `fiscal_year=2024&group_by=${by}`)).rows.map((r: { group: Record<string, unknown>; measures: { cases: number } }) => [
          Object.values(r.group).join('|'),
          r.measures.cases,
        ]),
      )
    t.same(await groups('month'), { '2024-05': 2, '2024-06': 1, '2025-01': 1 }, 'months in Tokyo time')
    t.same(await groups('category'), { intimidation: 1, sexual_harassment: 1, verbal_abuse: 2, violence: 1 }, 'a case counts in each of its categories')
    t.same(await groups('org_unit'), { [a]: 2, [a1]: 1, [b]: 1 })
    t.same(await groups('channel'), { counter: 3, phone: 1 })
    t.same(await groups('severity'), { critical: 1, high: 1, low: 1, medium: 1 })
    t.same(await groups('status'), { closed: 1, escalated: 1, open: 2 })
    t.same(await groups('outcome'), { none: 3, police: 1 })
    t.same(await groups('month,channel'), { '2024-05|counter': 1, '2024-05|phone': 1, '2024-06|counter': 1, '2025-01|counter': 1 })
    const fy = await stats(desk, 'from=2024-05-01&to=2025-04-30&group_by=fiscal_year')
    t.same(
      fy.rows.map((r: { group: { fiscal_year: number }; measures: { cases: number } }) => [r.group.fiscal_year, r.measures.cases]),
      [
        [2024, 4],
        [2025, 1],
      ],
    )
    const byCategory = await stats(desk, 'fiscal_year=2024&group_by=category')
    t.equal(byCategory.total.cases, 4, 'the total counts each case once')
    const violence = byCategory.rows.find((r: { group: { category: string } }) => r.group.category === 'violence')
    t.match(violence.measures, { cases: 1, not_handled_alone_with_shortfall: 1, police_calls: 1, closed: 1, with_recordings: 1 })
  })

  t.test('filters and the period', async (t) => {
    t.equal((await stats(desk, `fiscal_year=2024&org_unit_id=${a}`)).total.cases, 3, 'the unit and its sub-units')
    t.equal((await stats(desk, 'fiscal_year=2024&channel=counter')).total.cases, 3)
    t.equal((await stats(desk, 'fiscal_year=2024&category=verbal_abuse')).total.cases, 2)
    t.equal((await stats(desk, 'fiscal_year=2024&severity=low')).total.cases, 1)
    t.equal((await stats(desk, 'fiscal_year=2024&status=closed')).total.cases, 1)
    t.equal((await stats(desk, 'from=2025-01-01&to=2025-01-01')).total.cases, 1, 'a one-day period, Tokyo date')
    t.equal((await stats(desk, 'from=2024-12-31&to=2024-12-31')).total.cases, 0)
    for (const bad of ['from=2024-05-01', 'fiscal_year=2024&from=2024-05-01&to=2024-06-01', 'from=2024-06-01&to=2024-05-01', 'group_by=month,month']) {
      expectStatus(t, await injectAs(desk, { method: 'GET', url: `/v1/statistics/cases?${bad}` }), 422, bad)
    }
    expectStatus(t, await injectAs(desk, { method: 'GET', url: '/v1/statistics/cases?group_by=weekday' }), 400, 'an unknown dimension')
  })

  t.test('reach: exact figures within the reach of roles that read cases', async (t) => {
    t.equal((await stats(supervisorOf(a), 'fiscal_year=2024')).total.cases, 3, 'a supervisor: own unit and below')
    t.equal((await stats(supervisorOf(b), 'fiscal_year=2024')).total.cases, 1)
    t.equal((await stats(staff, 'fiscal_year=2024')).total.cases, 1, 'staff: the cases they respond to')
    t.equal((await stats({ roles: ['records_manager'] }, 'fiscal_year=2024')).total.cases, 4)
    t.equal((await stats({ roles: ['integration'], unit: b }, 'fiscal_year=2024')).total.cases, 1)
    const sv = await stats(supervisorOf(a), `fiscal_year=2024&org_unit_id=${b}`)
    t.equal(sv.total.cases, 0, 'a filter does not widen the reach')
  })

  t.test('auditors and admins: every unit, small cells suppressed', async (t) => {
    for (const role of ['auditor', 'admin'] as const) {
      const s = await stats({ roles: [role] }, 'fiscal_year=2024&group_by=channel')
      t.equal(s.suppressed, true, role)
      t.type(s.rule, 'string')
      t.same(
        s.rows.map((r: { group: { channel: string }; measures: { cases: unknown } }) => [r.group.channel, r.measures.cases]),
        [
          ['counter', 5],
          ['phone', '<3'],
        ],
      )
      t.equal(s.total.cases, 5, 'the total is rounded, never exact beside a suppressed cell')
      t.equal(s.total.days_to_close_median, null, 'fewer than 3 closed cases: no duration')
    }
    expectStatus(t, await injectAs({ roles: ['admin'] }, { method: 'GET', url: '/v1/cases' }), 403, 'admins still read no cases')
  })

  t.test('every statistics read is audited with what it asked', async (t) => {
    await stats({ roles: ['auditor'], sub: 'auditor-7' }, 'fiscal_year=2024&group_by=severity&channel=counter')
    const entry = await test.db
      .selectFrom('audit_events')
      .selectAll()
      .where('subject', '=', 'auditor-7')
      .where('resource_type', '=', 'statistics')
      .orderBy('id', 'desc')
      .executeTakeFirst()
    t.ok(entry, 'an audit entry')
    t.match(entry?.details, { period: { from: '2024-04-01', to: '2025-03-31' }, group_by: ['severity'], filters: { channel: 'counter' }, suppressed: true })
  })
  t.test('CSV: UTF-8 with BOM, Japanese column headers with Accept-Language: ja, Tokyo dates', async (t) => {
    const csv = async (language: string | undefined) => {
      const res = await injectAs(desk, {
        method: 'GET',
        url: '/v1/statistics/cases?fiscal_year=2024&group_by=month,channel',
        headers: { accept: 'text/csv', ...(language ? { 'accept-language': language } : {}) },
      })
      expectStatus(t, res, 200)
      t.match(res.headers['content-type'], /^text\/csv; charset=utf-8/)
      t.ok(res.rawPayload.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])), 'starts with the UTF-8 byte-order mark')
      return res.rawPayload.subarray(3).toString('utf8').split('\r\n')
    }
    const ja = await csv('ja,en;q=0.8')
    t.equal(
      ja[0],
      '期間開始,期間終了,月,経路,件数,一人で対応しない事案,うち対応者不足あり,エスカレーション,中止要求,退去命令,最終警告,警察通報,警察相談,限定的な謝罪,' +
        '非を認めた謝罪,終結,録音・録画あり,告知なしの録音・録画あり,終結までの日数（中央値）,終結までの日数（90パーセンタイル）',
    )
    t.match(ja[1], /^2024-04-01,2025-03-31,2024-05,counter,1,1,1,1,2,1,1,1,0,0,0,1,/)
    t.ok(
      ja.some((l) => l.startsWith('2024-04-01,2025-03-31,2025-01,counter,1,')),
      'the case of 2024-12-31T16:00Z falls in January, Tokyo time',
    )
    t.match(ja[ja.length - 2], /^2024-04-01,2025-03-31,合計,,4,2,1,2,2,1,1,1,0,1,1,1,/)
    t.equal(ja[ja.length - 1], '', 'CRLF after the last line')
    const en = await csv('en-GB')
    t.match(en[0], /^period_from,period_to,month,channel,cases,not_handled_alone,/)
    t.match(en[en.length - 2], /,total,,4,/)
    const json = await injectAs(desk, { method: 'GET', url: '/v1/statistics/cases?fiscal_year=2024', headers: { 'accept-language': 'ja' } })
    t.match(json.headers['content-type'], /application\/json/, 'JSON unless CSV is asked for')
  })
  void c5
})

t.test('an event that changes no figure leaves the case statistics row as it was; one that does updates it', async (t) => {
  const test = await buildTestApp(t)
  const unit = await test.orgUnit('ku-c')
  const c = await newCase(test, desk, { org_unit_id: unit, occurred_at: '2024-07-01T00:00:00Z' })
  // xmin: the transaction that wrote the row's current version.
  const version = async () =>
    (await sql<{ v: string; stops: number }>`select xmin::text as v, stop_requests as stops from case_statistics where case_id = ${c.id}`.execute(test.db))
      .rows[0]!
  const before = await version()
  for (const type of ['contact', 'customer_statement', 'note', 'report_to_supervisor']) await event(test, desk, c.id, type)
  t.same(await version(), before, 'contacts, statements, notes and reports: no new row version')
  await event(test, desk, c.id, 'stop_request')
  const after = await version()
  t.not(after.v, before.v, 'a stop request rewrites the row')
  t.equal(after.stops, before.stops + 1, 'and counts')
})
