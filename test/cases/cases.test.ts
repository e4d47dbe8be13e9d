import t from 'tap'
import { fiscalYear, todayInTokyo } from '../../src/kernel/time.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString()
const body = (extra: Record<string, unknown> = {}) =>
  caseBody({
    channel: 'counter',
    occurred_at: minutesAgo(60),
    summary: '窓口で職員に暴言',
    customer: { name: '顧客 一郎', phone: '03-1234-5678', email: 'ichiro@example.jp', address: '東京都千代田区' },
    ...extra,
  })

t.test('cases: numbering, reading, optimistic concurrency, idempotent creation', async (t) => {
  const { injectAs, orgUnit, db } = await buildTestApp(t)
  const unit = await orgUnit('kuyakusho')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-1', name: '山田 太郎' }

  t.test('numbers run per fiscal year and stay unique under concurrent creation', async (t) => {
    const created = await Promise.all(Array.from({ length: 12 }, () => injectAs(staff, { method: 'POST', url: '/v1/cases', payload: body() })))
    expectEvery(t, created, (r) => r.statusCode === 201)
    const numbers = created.map((r) => r.json().number as string).sort()
    const fy = fiscalYear(todayInTokyo())
    t.same(
      numbers,
      Array.from({ length: 12 }, (_, i) => `${fy}-${String(i + 1).padStart(6, '0')}`),
      'no gaps, no repeats',
    )
    t.equal(created[0]!.headers.location, `/v1/cases/${created[0]!.json().id}`)
  })

  t.test('GET sets an ETag; PATCH needs If-Match: 428 without, 412 when stale', async (t) => {
    const c = (await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: body() })).json()
    const got = await injectAs(staff, { method: 'GET', url: `/v1/cases/${c.id}` })
    t.equal(got.headers.etag, '"v1"')
    t.match(got.json(), { id: c.id, customer: { name: '顧客 一郎' }, customer_redacted: false })
    const notModified = await injectAs(staff, { method: 'GET', url: `/v1/cases/${c.id}`, headers: { 'if-none-match': '"v1"' } })
    expectStatus(t, notModified, 304, 'conditional GET')

    const without = await injectAs(staff, { method: 'PATCH', url: `/v1/cases/${c.id}`, payload: { severity: 'high' } })
    expectStatus(t, without, 428)
    const ok = await injectAs(staff, {
      method: 'PATCH',
      url: `/v1/cases/${c.id}`,
      headers: { 'if-match': '"v1"' },
      payload: { severity: 'high', customer: null },
    })
    expectStatus(t, ok, 200)
    t.equal(ok.headers.etag, '"v2"')
    t.match(ok.json(), { severity: 'high', version: 2, customer: null, customer_redacted: false })
    const stale = await injectAs(staff, { method: 'PATCH', url: `/v1/cases/${c.id}`, headers: { 'if-match': '"v1"' }, payload: { severity: 'low' } })
    expectStatus(t, stale, 412)
    const empty = await injectAs(staff, { method: 'PATCH', url: `/v1/cases/${c.id}`, headers: { 'if-match': '"v2"' }, payload: {} })
    expectStatus(t, empty, 422, 'an empty change is refused')
    const customer = await db.selectFrom('case_customers').selectAll().where('case_id', '=', c.id).execute()
    t.same(customer, [], 'customer details removed with customer: null')
  })

  t.test('Idempotency-Key: a retry returns the first response; another body with the key is 422', async (t) => {
    const headers = { 'idempotency-key': 'kiosk-42-retry' }
    // A retry sends the very same body (body() stamps the time, so build it once).
    const same = body({ summary: '同じ依頼' })
    const [first, second] = await Promise.all([
      injectAs(staff, { method: 'POST', url: '/v1/cases', headers, payload: same }),
      injectAs(staff, { method: 'POST', url: '/v1/cases', headers, payload: same }),
    ])
    expectStatus(t, first, 201)
    expectStatus(t, second, 201)
    t.equal(first.json().id, second.json().id, 'one case, even for concurrent retries')
    const count = await db.selectFrom('cases').select(db.fn.countAll().as('n')).where('summary', '=', '同じ依頼').executeTakeFirstOrThrow()
    t.equal(Number(count.n), 1)
    const other = await injectAs(staff, { method: 'POST', url: '/v1/cases', headers, payload: body({ summary: '別の依頼' }) })
    expectStatus(t, other, 422)
    const someoneElse = await injectAs({ ...staff, sub: 'staff-2' }, { method: 'POST', url: '/v1/cases', headers, payload: same })
    t.not(someoneElse.json().id, first.json().id, 'keys belong to their caller')
  })

  t.test('bad input is a problem, never a 500 nor a partial write', async (t) => {
    const before = await db.selectFrom('cases').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()
    const cases = [
      body({ categories: [] }),
      body({ categories: ['kicking'] }),
      body({ severity: 'extreme' }),
      body({ occurred_at: 'yesterday' }),
      body({ summary: '' }),
      body({ customer: { email: 'not-an-email' } }),
      body({ org_unit_id: '0190f3c4-1111-7000-8000-000000000000' }),
      body({ external_ref: { system: 'BAD SYSTEM', ref: 'x' } }),
    ]
    for (const payload of cases) {
      const res = await injectAs(staff, { method: 'POST', url: '/v1/cases', payload })
      expectStatus(t, res, 422, JSON.stringify(payload).slice(0, 80))
      t.match(res.headers['content-type'], /problem\+json/)
    }
    const after = await db.selectFrom('cases').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()
    t.equal(Number(after.n), Number(before.n), 'nothing written')
    const bad = await injectAs(staff, { method: 'GET', url: '/v1/cases/not-a-uuid' })
    expectStatus(t, bad, 400)
  })
})

t.test('reach: who sees which case, with personal data redacted where it must be', async (t) => {
  const { injectAs, orgUnit, db } = await buildTestApp(t)
  const city = await orgUnit('city')
  const ward = await orgUnit('ward', city)
  const other = await orgUnit('other')
  const staffWard: Identity = { roles: ['staff'], unit: ward, sub: 'staff-ward' }
  const staffOther: Identity = { roles: ['staff'], unit: ward, sub: 'staff-other' }
  const create = async (who: Identity, extra: Record<string, unknown> = {}) =>
    (await injectAs(who, { method: 'POST', url: '/v1/cases', payload: body(extra) })).json()

  const inWard = await create(staffWard)
  const supervisorOther = { roles: ['supervisor' as const], unit: other, sub: 'sup-other' }
  const inOther = await create(supervisorOther)

  const read = (who: Identity, id: string) => injectAs(who, { method: 'GET', url: `/v1/cases/${id}` })
  expectStatus(t, await read(staffWard, inWard.id), 200, 'staff read cases they respond to')
  expectStatus(t, await read(staffOther, inWard.id), 404, 'not other staff of the same unit: 404, not 403')
  expectStatus(t, await read({ roles: ['supervisor'], unit: city }, inWard.id), 200, 'a supervisor reads the units below theirs')
  expectStatus(t, await read({ roles: ['supervisor'], unit: ward }, inOther.id), 404, 'but not another branch')
  expectStatus(t, await read({ roles: ['desk'], unit: ward }, inOther.id), 200, 'the desk reads every case')
  expectStatus(t, await read({ roles: ['integration'], unit: other }, inOther.id), 200)
  expectStatus(t, await read({ roles: ['integration'], unit: other }, inWard.id), 404)
  expectStatus(t, await read({ roles: ['admin'] }, inWard.id), 403, 'admins see no case content')

  for (const role of ['records_manager', 'auditor'] as const) {
    const res = await injectAs({ roles: [role], unit: city }, { method: 'GET', url: `/v1/cases/${inWard.id}` })
    expectStatus(t, res, 200)
    t.match(res.json(), { customer: null, customer_redacted: true, number: inWard.number }, `${role}: header without personal data`)
  }
  const stored = await db.selectFrom('case_customers').select('name').where('case_id', '=', inWard.id).executeTakeFirst()
  t.equal(stored?.name, '顧客 一郎', 'redacted in the response, kept in the database')

  expectStatus(
    t,
    await injectAs(staffWard, { method: 'POST', url: '/v1/cases', payload: body({ org_unit_id: city }) }),
    403,
    'staff create only in their own unit',
  )
  const denied = await db.selectFrom('audit_events').select(['outcome', 'status', 'resource_id']).where('subject', '=', 'staff-other').execute()
  t.match(denied, [{ outcome: 'denied', status: 404, resource_id: inWard.id }], 'an out-of-reach read is audited')

  const list = await injectAs(staffOther, { method: 'GET', url: '/v1/cases' })
  t.same(list.json().items, [], 'staff lists only show their own cases')
  const supList = await injectAs({ roles: ['supervisor'], unit: city }, { method: 'GET', url: '/v1/cases' })
  t.same(
    supList.json().items.map((c: { id: string }) => c.id),
    [inWard.id],
  )
})

t.test('list: every filter, cursor pagination, newest first', async (t) => {
  const { injectAs, orgUnit } = await buildTestApp(t)
  const unitA = await orgUnit('a')
  const unitB = await orgUnit('b')
  const desk: Identity = { roles: ['desk'], sub: 'desk-1' }
  const make = (n: number, extra: Record<string, unknown>) =>
    injectAs(desk, { method: 'POST', url: '/v1/cases', payload: body({ occurred_at: minutesAgo(1000 - n), summary: `案件 ${n}`, ...extra }) }).then((r) =>
      r.json(),
    )

  const c1 = await make(1, { org_unit_id: unitA, severity: 'low', categories: ['prolonged_detention'], responders: ['staff-x'] })
  const c2 = await make(2, { org_unit_id: unitB, severity: 'high', channel: 'phone', external_ref: { system: 'kikan', ref: 'K-2' } })
  const c3 = await make(3, { org_unit_id: unitA, severity: 'critical', categories: ['excessive_demand'], summary: '長時間にわたり土下座を要求' })
  const c4 = await make(4, { org_unit_id: unitB, categories: ['online_exposure'] })

  const ids = async (query: string) => (await injectAs(desk, { method: 'GET', url: `/v1/cases?${query}` })).json().items.map((c: { id: string }) => c.id)
  t.same(await ids(''), [c4.id, c3.id, c2.id, c1.id], 'newest first')
  t.same(await ids('severity=high'), [c2.id])
  t.same(await ids('category=prolonged_detention'), [c1.id])
  t.same(await ids(`org_unit_id=${unitA}`), [c3.id, c1.id])
  t.same(await ids('responder=staff-x'), [c1.id])
  t.same(await ids('external_ref=K-2'), [c2.id])
  t.same(await ids(`q=${encodeURIComponent('土下座')}`), [c3.id], 'text in the summary, Japanese included')
  t.same(await ids(`q=${encodeURIComponent('100%')}`), [], 'LIKE wildcards are literal')
  t.same(await ids(`occurred_from=${encodeURIComponent(c2.occurred_at)}&occurred_to=${encodeURIComponent(c4.occurred_at)}`), [c3.id, c2.id])
  t.same(await ids('status=escalated'), [])

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: { items: { id: string }[]; next_cursor: string | null } = (
      await injectAs(desk, { method: 'GET', url: `/v1/cases?limit=1${cursor ? `&cursor=${cursor}` : ''}` })
    ).json()
    seen.push(...page.items.map((c) => c.id))
    cursor = page.next_cursor
  } while (cursor)
  t.same(seen, [c4.id, c3.id, c2.id, c1.id], 'pages of one walk the whole list once')
  expectStatus(t, await injectAs(desk, { method: 'GET', url: '/v1/cases?cursor=garbage' }), 400)
  expectStatus(t, await injectAs(desk, { method: 'GET', url: '/v1/cases?limit=1000' }), 400)
})

t.test("integration: upsert by the other system's id, idempotently, within its unit", async (t) => {
  const { injectAs, orgUnit } = await buildTestApp(t)
  const unit = await orgUnit('soudan')
  const otherUnit = await orgUnit('other')
  const system: Identity = { roles: ['integration'], unit, sub: 'svc-kikan' }
  const url = '/v1/cases/by-external-ref/kikan/R-2025-001'
  const payload = { channel: 'phone', occurred_at: minutesAgo(90), categories: ['verbal_abuse'], severity: 'low', summary: '電話で威圧的な発言' }

  const created = await injectAs(system, { method: 'PUT', url, payload })
  expectStatus(t, created, 201)
  t.match(created.json(), { external_ref: { system: 'kikan', ref: 'R-2025-001' }, org_unit_id: unit, responders: [] })
  const again = await injectAs(system, { method: 'PUT', url, payload })
  expectStatus(t, again, 200)
  t.equal(again.json().version, created.json().version, 'the same body changes nothing')
  const updated = await injectAs(system, { method: 'PUT', url, payload: { ...payload, severity: 'high' } })
  t.match(updated.json(), { id: created.json().id, severity: 'high', version: created.json().version + 1 })
  const escalated = await injectAs(system, { method: 'PUT', url, payload: { ...payload, categories: ['violence'] } })
  t.match(escalated.json(), { status: 'escalated', handled_alone_forbidden: true }, 'the escalation rule applies to upserts too')

  const stranger: Identity = { roles: ['integration'], unit: otherUnit, sub: 'svc-other' }
  const theirs = await injectAs(stranger, { method: 'PUT', url, payload })
  expectStatus(t, theirs, 201, "another unit's reference is scoped to that unit: a new case of the stranger's own")
  t.not(theirs.json().id, created.json().id)
  expectStatus(t, await injectAs({ roles: ['staff'], unit }, { method: 'PUT', url, payload }), 403, 'integration clients only')
})
