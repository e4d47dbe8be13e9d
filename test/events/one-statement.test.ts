import t from 'tap'
import type { Metrics } from '../../src/metrics/metrics.ts'
import { buildTestApp, type Identity, type TestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

/**
 * An event append is one statement in autocommit (events.service.ts): the case in reach, the
 * rules, the event, the audit entry and the change-feed row together, or nothing.
 */

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString()
/** The audit entries a response's request left. */
const auditOf = (db: TestApp['db'], res: { headers: Record<string, unknown> }) =>
  db
    .selectFrom('audit_events')
    .selectAll()
    .where('request_id', '=', res.headers['x-request-id'] as string)
    .execute()

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
  const audit = await auditOf(db, res)
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
  t.match(await auditOf(db, refused), [{ outcome: 'failed', status: 409 }])
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

/**
 * Creating a case is one statement too (cases.service.ts): the number drawn from the fiscal
 * year's counter, the case, its people, the escalation rule's outcome, the audit entry and the
 * changes; a case that opens short of responders adds the note on its statistics in a transaction.
 */
t.test('creating a case: one statement, everything or nothing', async (t) => {
  const { injectAs, db, orgUnit, metrics } = await buildTestApp(t, { metrics: true })
  const unit = await orgUnit('hajime')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-4', name: '鈴木 一郎' }
  const create = async (payload: Record<string, unknown>, statements: number, message: string) => {
    const before = await statementsOf(metrics!, 'POST', '/v1/cases')
    const res = await injectAs(staff, { method: 'POST', url: '/v1/cases', payload })
    expectStatus(t, res, 201)
    t.equal((await statementsOf(metrics!, 'POST', '/v1/cases')) - before, statements, message)
    return res
  }
  // The policies in force are read once per instance: by the first request, not counted below.
  expectStatus(t, await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: caseBody() }), 201)

  const plain = await create(caseBody({ severity: 'low', customer: { name: '顧客 次郎' } }), 1, 'one statement, no BEGIN or COMMIT')
  const c = plain.json()
  t.equal(plain.headers.etag, '"v1"')
  t.match(c, { status: 'open', version: 1, responders: [{ id: 'staff-4', display_name: '鈴木' }], customer: { name: '顧客 次郎', phone: null } })
  t.same(c, (await injectAs(staff, { method: 'GET', url: `/v1/cases/${c.id}` })).json(), 'answered as a read shows it')
  t.match(await auditOf(db, plain), [{ action: 'createCase', outcome: 'allowed', status: 201, resource_id: c.id }])
  t.match(await db.selectFrom('changes').select(['kind', 'data']).where('resource_id', '=', c.id).execute(), [
    { kind: 'case.created', data: { number: c.number, status: 'open', version: 1 } },
  ])

  // Violence escalates at once; with two responders nobody is short, so still one statement.
  const violent = (await create(caseBody({ categories: ['violence'], responders: ['staff-5'] }), 1, 'escalated in the same statement')).json()
  t.match(violent, { status: 'escalated', version: 2, handled_alone_forbidden: true, responder_shortfall: null })
  t.same(
    (await db.selectFrom('changes').select(['kind', 'data']).where('resource_id', '=', violent.id).orderBy('id').execute()).map((r) => r.kind),
    ['case.created', 'case.escalated'],
  )
  t.match(await db.selectFrom('case_events').selectAll().where('case_id', '=', violent.id).execute(), [
    { seq: 1, type: 'escalation', actor: 'system', details: { from: 'open', to: 'escalated', automatic: true } },
  ])
  t.match(await db.selectFrom('case_statistics').selectAll().where('case_id', '=', violent.id).executeTakeFirst(), {
    status: 'escalated',
    escalations: 1,
    responder_shortfall_seen: false,
  })

  // Alone with a violent customer: the shortfall is noted in the same transaction.
  const alone = (await create(caseBody({ categories: ['violence'] }), 4, 'BEGIN, the statement, the shortfall, COMMIT')).json()
  t.match(alone, { status: 'escalated', responder_shortfall: { required: 2, actual: 1 } })
  t.match(await db.selectFrom('case_statistics').selectAll().where('case_id', '=', alone.id).executeTakeFirst(), {
    escalations: 1,
    responder_shortfall_seen: true,
  })

  // Refused by the unit: nothing written but the refusal's own entry, and no number drawn.
  const elsewhere = await orgUnit('yoso')
  const refused = await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: caseBody({ org_unit_id: elsewhere }) })
  expectStatus(t, refused, 403)
  t.match(await auditOf(db, refused), [{ outcome: 'denied', status: 403, resource_id: null }])
  t.equal((await db.selectFrom('staff_profiles').select('subject').where('subject', '=', 'staff-5').execute()).length, 0, 'responders are not profiled')
  const next = (await create(caseBody(), 1, 'one statement')).json()
  t.equal(Number(next.number.slice(-6)), Number(alone.number.slice(-6)) + 1, 'the refusal drew no number')
})

t.test('racing creations in one fiscal year: distinct numbers without gaps, refusals included', async (t) => {
  const { injectAs, db, orgUnit } = await buildTestApp(t)
  const unit = await orgUnit('renban')
  const other = await orgUnit('tonari')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-6' }
  const post = (payload: Record<string, unknown>) => injectAs(staff, { method: 'POST', url: '/v1/cases', payload })
  const results = await Promise.all([
    ...Array.from({ length: 16 }, (_, i) => post(caseBody({ summary: `並行 ${i}` }))),
    // Refused before the counter: another unit (403).
    post(caseBody({ org_unit_id: other })),
    post(caseBody({ org_unit_id: other })),
    // Refused after drawing a number: the same reference twice is a unique violation (409).
    ...Array.from({ length: 3 }, () => post(caseBody({ external_ref: { system: 'kikan', ref: 'SAME-1' } }))),
  ])
  t.same(
    results.slice(16, 18).map((r) => r.statusCode),
    [403, 403],
  )
  t.same(
    results
      .slice(18)
      .map((r) => r.statusCode)
      .sort(),
    [201, 409, 409],
    'one case per reference',
  )
  const conflicts = results.filter((r) => r.statusCode === 409).map((r) => r.headers['x-request-id'] as string)
  t.match(await db.selectFrom('audit_events').select(['outcome', 'resource_id']).where('request_id', 'in', conflicts).execute(), [
    { outcome: 'failed', resource_id: null },
    { outcome: 'failed', resource_id: null },
  ])
  const created = results.filter((r) => r.statusCode === 201).map((r) => r.json())
  t.equal(created.length, 17)
  const numbers = created.map((c) => c.number as string).sort()
  t.same(
    numbers.map((n) => Number(n.slice(-6))),
    numbers.map((_, i) => i + 1),
    'consecutive from the first of the year',
  )
  t.equal(new Set(numbers.map((n) => n.slice(0, 4))).size, 1, 'one fiscal year')
  const desk: Identity = { roles: ['desk'], sub: 'desk-6' }
  const reads = await Promise.all(created.map((c) => injectAs(desk, { method: 'GET', url: `/v1/cases/${c.id}` })))
  t.same(
    reads.map((r) => r.json().number),
    created.map((c) => c.number),
    'every case readable',
  )
  t.equal(Number((await db.selectFrom('cases').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), 17)
})
