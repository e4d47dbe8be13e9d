import t from 'tap'
import { runDeadlineRound } from '../../src/disclosure-requests/deadline-notices.ts'
import { todayInTokyo } from '../../src/kernel/time.ts'
import { startSecondInstance, buildTestApp, type Identity, type TestApp } from '../helpers/app.ts'
import { expectSome, expectStatus } from '../helpers/expect.ts'
import { disclosureRequestBody } from '../helpers/fixtures.ts'

/**
 * The deadline job on two instances of the service sharing one database: each notice of each
 * deadline is published once, whichever instance runs and however often; a deadline the
 * extension moves gets notices of its own; a deadline the calendar moves after the fact is
 * counted again.
 */
const desk: Identity = { roles: ['desk'], sub: 'desk-n' }
const admin: Identity = { roles: ['admin'], sub: 'admin-n' }

async function create(test: TestApp, extra: Record<string, unknown> = {}) {
  const res = await test.injectAs(desk, { method: 'POST', url: '/v1/disclosure-requests', payload: disclosureRequestBody(extra) })
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`)
  return res.json()
}

async function notices(test: TestApp) {
  const rows = await test.db
    .selectFrom('changes')
    .select(['kind', 'resource_id', 'data'])
    .where('kind', 'in', ['disclosure_request.deadline_approaching', 'disclosure_request.deadline_missed'])
    .orderBy('id')
    .execute()
  return rows.map((r) => `${r.resource_id} ${r.kind.replace('disclosure_request.deadline_', '')} ${(r.data as { due_date: string }).due_date}`).sort()
}

t.test('deadline notices are published once per request and deadline across two instances', async (t) => {
  const test = await buildTestApp(t)
  const other = await startSecondInstance(t, test)
  const a = await create(test) // due 2025-07-02, warned from 2025-06-27
  const b = await create(test)
  const decided = await create(test)
  await test.injectAs(desk, {
    method: 'POST',
    url: `/v1/disclosure-requests/${decided.id}/decide`,
    payload: { decision: 'no_such_record', decided_on: '2025-06-10', reason: '不存在', items: [] },
  })
  const waiting = await create(test)
  await test.injectAs(desk, {
    method: 'POST',
    url: `/v1/disclosure-requests/${waiting.id}/request-correction`,
    payload: { requested_on: '2025-06-03', reason: '補正' },
  })

  // Both instances, twice each, at once.
  const rounds = async (today: string) => {
    const results = await Promise.all([test.db, other.db, test.db, other.db].map((db) => runDeadlineRound(db, { today })))
    return {
      approaching: results.reduce((n, r) => n + r.approaching, 0),
      missed: results.reduce((n, r) => n + r.missed, 0),
    }
  }
  t.same(await rounds('2025-06-26'), { approaching: 0, missed: 0 }, 'before the warning window')
  t.same(await rounds('2025-06-28'), { approaching: 2, missed: 0 }, 'in the warning window: two notices, not eight')
  t.same(await rounds('2025-06-29'), { approaching: 0, missed: 0 }, 'once per deadline')

  const extended = await test.injectAs(desk, {
    method: 'POST',
    url: `/v1/disclosure-requests/${b.id}/extend`,
    payload: { days: 30, reason: '大量', decided_on: '2025-06-30', notified_on: '2025-06-30' },
  })
  expectStatus(t, extended, 200)
  t.same(await rounds('2025-07-03'), { approaching: 0, missed: 1 }, 'a is missed; b has a new deadline')
  t.same(await rounds('2025-07-28'), { approaching: 1, missed: 0 }, "b's new deadline is approaching: a notice of its own")
  t.same(await rounds('2025-08-02'), { approaching: 0, missed: 1 })
  t.same(await rounds('2025-08-03'), { approaching: 0, missed: 0 })

  t.same(
    await notices(test),
    [
      `${a.id} approaching 2025-07-02`,
      `${a.id} missed 2025-07-02`,
      `${b.id} approaching 2025-07-02`,
      `${b.id} approaching 2025-08-01`,
      `${b.id} missed 2025-08-01`,
    ].sort(),
    'exactly these, each once; none for the decided request nor the one awaiting a correction',
  )
  const change = await test.db
    .selectFrom('changes')
    .selectAll()
    .where('kind', '=', 'disclosure_request.deadline_missed')
    .where('resource_id', '=', a.id)
    .executeTakeFirstOrThrow()
  t.match(change, {
    resource_type: 'disclosure_request',
    org_unit_id: a.org_unit_id,
    data: { due_date: '2025-07-02', status: 'received', kind: 'personal_information' },
  })
  const audited = await test.db.selectFrom('audit_events').select(['subject', 'details']).where('action', '=', 'disclosureDeadlines').execute()
  t.ok(audited.length >= 4, 'each round that published something is audited')
  t.ok(
    audited.every((e) => e.subject === 'system'),
    'by the system',
  )
})

t.test('a deadline the calendar moves after the fact is counted again and published', async (t) => {
  const test = await buildTestApp(t)
  const today = todayInTokyo()
  const r = await create(test, { received_date: today })
  const due = r.deadline.due_date as string
  // A closure announced today on the day the deadline falls on.
  const closure = await test.injectAs(admin, {
    method: 'POST',
    url: '/v1/policies/calendar/versions',
    payload: { effective_from: today, body: { closures: [{ from: due, to: due, reason: '庁舎設備点検' }] }, note: '臨時閉庁' },
  })
  expectStatus(t, closure, 201)
  const round = await runDeadlineRound(test.db)
  t.match(round, { moved: 1, skipped: false })
  const now = (await test.injectAs(desk, { method: 'GET', url: `/v1/disclosure-requests/${r.id}` })).json()
  t.ok(now.deadline.due_date > due, `moved from ${due} to ${now.deadline.due_date}`)
  const why = (await test.injectAs(desk, { method: 'GET', url: `/v1/disclosure-requests/${r.id}/deadline` })).json()
  t.equal(why.due_date, now.deadline.due_date, 'the stored deadline is the one explained')
  expectSome(
    t,
    why.skipped,
    (h: { date: string; reasons: Array<{ kind: string; reason?: string }> }) => h.date === due && h.reasons.some((x) => x.reason === '庁舎設備点検'),
    'the closure is among the holidays moved over',
  )
  const moved = await test.db.selectFrom('changes').selectAll().where('kind', '=', 'disclosure_request.deadline_moved').executeTakeFirstOrThrow()
  t.match(moved, { resource_id: r.id, data: { previous_due_date: due, due_date: now.deadline.due_date } })
  t.match(await runDeadlineRound(test.db), { moved: 0 }, 'counted again, nothing moves')
})
