import t from 'tap'
import type { Metrics } from '../../src/metrics/metrics.js'
import { buildTestApp, type Identity } from '../helpers/app.js'
import { expectStatus } from '../helpers/expect.js'
import { caseBody } from '../helpers/fixtures.js'

/**
 * An event append is one statement in autocommit (events.service.ts): the case in reach, the
 * rules, the event, the audit entry and the change-feed row together, or nothing.
 */

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString()

async function statementsOf(metrics: Metrics, method: string, route: string): Promise<number> {
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (metric.name !== 'madoguchi_db_statements_total') continue
    for (const value of metric.values) if (value.labels.method === method && value.labels.route === route) return value.value
  }
  return 0
}

t.test('one statement: the event, its audit entry and its change, or nothing', async (t) => {
  const { injectAs, db, orgUnit, metrics } = await buildTestApp(t, { metrics: true })
  const unit = await orgUnit('hitotsu')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-1', name: '山田 太郎' }
  const c = (await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: caseBody({ occurred_at: minutesAgo(60) }) })).json()
  const url = `/v1/cases/${c.id}/events`
  const route = '/v1/cases/:id/events'

  const before = await statementsOf(metrics!, 'POST', route)
  const res = await injectAs(staff, { method: 'POST', url, payload: { type: 'contact', occurred_at: minutesAgo(5), description: '電話' } })
  expectStatus(t, res, 201)
  t.equal((await statementsOf(metrics!, 'POST', route)) - before, 1, 'one statement, no BEGIN or COMMIT')
  const event = res.json()
  const audit = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('request_id', '=', res.headers['x-request-id'] as string)
    .execute()
  t.match(audit, [{ action: 'appendCaseEvent', outcome: 'allowed', status: 201, resource_id: c.id, details: { event_id: event.id, event_type: 'contact' } }])
  const change = await db.selectFrom('changes').selectAll().where('kind', '=', 'event.appended').where('resource_id', '=', c.id).execute()
  t.match(change, [{ org_unit_id: unit, data: { event_id: event.id, event_type: 'contact', seq: event.seq } }])
  t.ok(await db.selectFrom('staff_profiles').select('subject').where('subject', '=', 'staff-1').executeTakeFirst(), "the writer's profile is remembered")

  // A rule refuses: nothing is written but the refusal's own entry.
  const refused = await injectAs(
    { roles: ['desk'], sub: 'desk-1' },
    { method: 'POST', url, payload: { type: 'fault_acknowledged', occurred_at: minutesAgo(1), description: 'x' } },
  )
  expectStatus(t, refused, 409)
  t.equal((await db.selectFrom('case_events').select('id').where('case_id', '=', c.id).where('type', '=', 'fault_acknowledged').execute()).length, 0)
  t.match(
    await db
      .selectFrom('audit_events')
      .selectAll()
      .where('request_id', '=', refused.headers['x-request-id'] as string)
      .execute(),
    [{ outcome: 'failed', status: 409 }],
  )
  t.equal((await db.selectFrom('changes').select('id').where('resource_id', '=', c.id).where('kind', '=', 'event.appended').execute()).length, 1)
  t.equal((await db.selectFrom('staff_profiles').select('subject').where('subject', '=', 'desk-1').execute()).length, 0, 'no profile either')

  // Out of reach: 404, as before.
  expectStatus(
    t,
    await injectAs(
      { roles: ['staff'], unit, sub: 'someone-else' },
      { method: 'POST', url, payload: { type: 'note', occurred_at: minutesAgo(1), description: 'x' } },
    ),
    404,
  )

  // With an Idempotency-Key, the request runs in a transaction that claims the key.
  const note = { type: 'note', occurred_at: minutesAgo(1), description: 'k' }
  const keyed = (key: string) => injectAs(staff, { method: 'POST', url, headers: { 'idempotency-key': key }, payload: note })
  const first = await keyed('k-1')
  const again = await keyed('k-1')
  expectStatus(t, first, 201)
  t.equal(again.json().id, first.json().id, 'replayed')
})

t.test('racing on one case: closing and an event never both succeed where one must fail', async (t) => {
  const { injectAs, db, orgUnit } = await buildTestApp(t)
  const unit = await orgUnit('kyoso')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-2', name: '佐藤 花子' }
  const desk: Identity = { roles: ['desk'], sub: 'desk-2' }
  for (let round = 0; round < 6; round++) {
    const c = (await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: caseBody({ occurred_at: minutesAgo(60) }) })).json()
    for (const to of ['escalated', 'in_review']) {
      expectStatus(t, await injectAs(desk, { method: 'POST', url: `/v1/cases/${c.id}/transitions`, payload: { to, reason: 'test' } }), 200)
    }
    expectStatus(
      t,
      await injectAs(desk, {
        method: 'POST',
        url: `/v1/cases/${c.id}/events`,
        payload: { type: 'resolution', occurred_at: minutesAgo(2), description: '解決' },
      }),
      201,
    )
    expectStatus(t, await injectAs(desk, { method: 'POST', url: `/v1/cases/${c.id}/transitions`, payload: { to: 'resolved', reason: 'test' } }), 200)

    const [closing, appending] = await Promise.all([
      injectAs(desk, { method: 'POST', url: `/v1/cases/${c.id}/transitions`, payload: { to: 'closed', reason: 'test' } }),
      injectAs(staff, { method: 'POST', url: `/v1/cases/${c.id}/events`, payload: { type: 'contact', occurred_at: minutesAgo(1), description: '再度の電話' } }),
    ])
    expectStatus(t, closing, 200)
    const events = await db.selectFrom('case_events').select(['seq', 'type', 'details']).where('case_id', '=', c.id).orderBy('seq').execute()
    const closedAt = events.find((e) => e.type === 'status_changed' && (e.details as { to?: string }).to === 'closed')
    t.ok(closedAt, 'the case was closed')
    if (appending.statusCode === 201) t.ok(appending.json().seq < closedAt!.seq, 'an event that got in came before the closing')
    else expectStatus(t, appending, 409, 'after the closing, the event is refused')
    t.notOk(
      events.some((e) => e.type === 'contact' && e.seq > closedAt!.seq),
      'no event but notes after the closing',
    )
  }
})

t.test('racing appends on one case all succeed, numbered without gaps', async (t) => {
  const { injectAs, db, orgUnit } = await buildTestApp(t)
  const unit = await orgUnit('narabi')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-3' }
  const c = (await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: caseBody({ occurred_at: minutesAgo(60) }) })).json()
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      injectAs(staff, { method: 'POST', url: `/v1/cases/${c.id}/events`, payload: { type: 'note', occurred_at: minutesAgo(1), description: `${i}` } }),
    ),
  )
  t.same(
    results.map((r) => r.statusCode),
    results.map(() => 201),
  )
  const seqs = (await db.selectFrom('case_events').select('seq').where('case_id', '=', c.id).orderBy('seq').execute()).map((r) => r.seq)
  t.same(
    seqs,
    seqs.map((_, i) => i + 1),
  )
})
