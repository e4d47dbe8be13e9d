import t from 'tap'
import type { Schema } from '@madoguchi/sdk'
import { startTestServer, type ApiClient, type Identity } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { validCase } from '../helpers/fixtures.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * The rules from the seeds, through the SDK generated from the contract:
 * 一人で対応しない, 複数名で対応, limited apology vs acknowledging fault after a fact check,
 * closing after a resolution, the status machine, and the timeline report.
 */
const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString()

t.test('case rules through the generated client', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const unit = await server.orgUnit('shimin-ka')
  const staffA: Identity = { roles: ['staff'], unit, sub: 'staff-a', name: '山田 太郎' }
  const staffB: Identity = { roles: ['staff'], unit, sub: 'staff-b', name: '佐藤 花子' }
  const supervisor: Identity = { roles: ['supervisor'], unit, sub: 'sup-1', name: '鈴木 一郎' }
  const desk: Identity = { roles: ['desk'], sub: 'desk-1', name: '田中 次郎' }
  const a = await server.client(staffA)
  const sup = await server.client(supervisor)
  const deskClient = await server.client(desk)

  const newCase = async (client: ApiClient, body: Partial<Schema<'CreateCase'>> = {}) => {
    const res = await client.POST('/v1/cases', {
      body: validCase({ channel: 'counter', occurred_at: minutesAgo(30), summary: '窓口で大声を出し続けた', ...body }),
    })
    if (!res.data) throw new Error(`create failed: ${res.response.status} ${JSON.stringify(res.error)}`)
    return res.data
  }

  t.test('violence escalates at once, forbids handling alone, and comes first for supervisors and the desk', async (t) => {
    const calm = await newCase(a)
    const violent = await newCase(a, { categories: ['verbal_abuse', 'violence'], severity: 'high' })
    t.equal(calm.status, 'open')
    t.equal(calm.handled_alone_forbidden, false)
    t.equal(violent.status, 'escalated', 'escalated on creation')
    t.equal(violent.handled_alone_forbidden, true)
    t.match(violent.escalation_policy_version_id, /^[0-9a-f-]{36}$/, 'the policy version that decided is recorded')

    const events = await a.GET('/v1/cases/{id}/events', { params: { path: { id: violent.id } } })
    const escalation = events.data?.items.find((e) => e.type === 'escalation')
    t.ok(escalation, 'an escalation event was written')
    t.equal(escalation?.actor.id, 'system')
    t.equal(escalation?.policy_version_id, violent.escalation_policy_version_id)

    const later = await newCase(a) // newer than the violent case
    for (const client of [sup, deskClient]) {
      const list = await client.GET('/v1/cases', {})
      t.equal(list.data?.items[0]?.id, violent.id, 'the case nobody may handle alone is first')
      t.ok(list.data!.items.findIndex((c) => c.id === later.id) > 0)
    }

    // Adding sexual harassment by PATCH escalates too.
    const current = await a.GET('/v1/cases/{id}', { params: { path: { id: calm.id } } })
    const etag = current.response.headers.get('etag')!
    const patched = await a.PATCH('/v1/cases/{id}', {
      params: { path: { id: calm.id }, header: { 'if-match': etag } },
      body: { categories: ['verbal_abuse', 'sexual_harassment'] },
    })
    expectStatus(t, patched, 200)
    t.equal(patched.data?.status, 'escalated')
    t.equal(patched.data?.handled_alone_forbidden, true)
  })

  t.test('a counter case with too few responders for its severity is flagged until enough are added', async (t) => {
    const high = await newCase(a, { severity: 'high' })
    t.match(high.responder_shortfall, { required: 2, actual: 1 }, '複数名で対応: high severity at the counter needs two')
    const phone = await newCase(a, { severity: 'high', channel: 'phone' })
    t.equal(phone.responder_shortfall, null, 'only counter cases are counted')
    const listed = await sup.GET('/v1/cases', { params: { query: { severity: 'high', status: 'open' } } })
    t.ok(listed.data?.items.find((c) => c.id === high.id)?.responder_shortfall, 'flagged in lists too')

    // A responder brings in a colleague.
    const added = await a.POST('/v1/cases/{id}/responders', { params: { path: { id: high.id } }, body: { subject: 'staff-b' } })
    expectStatus(t, added, 200)
    t.equal(added.data?.responder_shortfall, null, 'no longer flagged')
    t.same(
      added.data?.responders.map((r) => r.id),
      ['staff-a', 'staff-b'],
    )
    const b = await server.client(staffB)
    expectStatus(t, await b.GET('/v1/cases/{id}', { params: { path: { id: high.id } } }), 200, 'the colleague now reaches the case')
  })

  t.test('apology for discomfort by anyone; fault only by supervisor or desk after a fact check', async (t) => {
    const c = await newCase(a)
    const event = (client: ApiClient, type: Schema<'CreateCaseEvent'>['type']) =>
      client.POST('/v1/cases/{id}/events', {
        params: { path: { id: c.id } },
        body: { type, occurred_at: minutesAgo(5), description: `${type} を記録` },
      })

    expectStatus(t, await event(a, 'limited_apology'), 201, 'staff may apologise for the discomfort caused')
    const staffFault = await event(a, 'fault_acknowledged')
    expectStatus(t, staffFault, 403, 'staff may not acknowledge fault')
    const tooEarly = await event(sup, 'fault_acknowledged')
    expectStatus(t, tooEarly, 409)
    t.match(tooEarly.error?.detail, /fact_check/, 'the refusal says why: check the facts first')
    expectStatus(t, await event(sup, 'fact_check'), 201)
    expectStatus(t, await event(sup, 'fault_acknowledged'), 201, 'after a fact check the supervisor may')
  })

  t.test('the status machine: transitions write events, illegal ones name the allowed, closing needs a resolution', async (t) => {
    const c = await newCase(a)
    const move = (client: ApiClient, to: Schema<'CaseTransition'>['to']) =>
      client.POST('/v1/cases/{id}/transitions', { params: { path: { id: c.id } }, body: { to, reason: `to ${to}` } })

    const illegal = await move(sup, 'closed')
    expectStatus(t, illegal, 409)
    t.same(illegal.error?.allowed, ['escalated'], 'names the allowed transitions')
    expectStatus(t, await move(a, 'escalated'), 200, 'staff hand over to the supervisor')
    expectStatus(t, await move(a, 'in_review'), 403, 'staff may not take a case into review')
    expectStatus(t, await move(sup, 'in_review'), 200)
    expectStatus(t, await move(sup, 'resolved'), 200)
    const noResolution = await move(sup, 'closed')
    expectStatus(t, noResolution, 409)
    t.match(noResolution.error?.detail, /resolution/)
    expectStatus(t, await move(sup, 'in_review'), 200, 'reopen from resolved')
    expectStatus(t, await move(sup, 'resolved'), 200)
    await sup.POST('/v1/cases/{id}/events', {
      params: { path: { id: c.id } },
      body: { type: 'resolution', occurred_at: minutesAgo(1), description: '謝罪を受け入れ終了' },
    })
    const closed = await move(sup, 'closed')
    t.equal(closed.data?.status, 'closed')

    const events = await sup.GET('/v1/cases/{id}/events', { params: { path: { id: c.id }, query: { limit: 200 } } })
    expectStatus(t, events, 200, JSON.stringify(events.error))
    const transitions = events.data!.items.filter((e) => e.type === 'status_changed' || e.type === 'escalation')
    t.same(
      transitions.map((e) => `${e.details.from}→${e.details.to}`),
      ['open→escalated', 'escalated→in_review', 'in_review→resolved', 'resolved→in_review', 'in_review→resolved', 'resolved→closed'],
      'every transition wrote an event',
    )

    // A closed case: notes by supervisor/desk only.
    const staffNote = await a.POST('/v1/cases/{id}/events', {
      params: { path: { id: c.id } },
      body: { type: 'note', occurred_at: minutesAgo(0), description: 'x' },
    })
    expectStatus(t, staffNote, 409)
    const other = await sup.POST('/v1/cases/{id}/events', {
      params: { path: { id: c.id } },
      body: { type: 'contact', occurred_at: minutesAgo(0), description: 'x' },
    })
    expectStatus(t, other, 409)
    const supNote = await sup.POST('/v1/cases/{id}/events', {
      params: { path: { id: c.id } },
      body: { type: 'note', occurred_at: minutesAgo(0), description: '後日、本人から謝罪の電話' },
    })
    expectStatus(t, supNote, 201)
  })

  t.test('the timeline: time order, corrections against the original, warnings before police, CSV', async (t) => {
    const c = await newCase(a, { categories: ['intimidation'] })
    const post = (type: Schema<'CreateCaseEvent'>['type'], minutes: number, extra: Partial<Schema<'CreateCaseEvent'>> = {}) =>
      a.POST('/v1/cases/{id}/events', {
        params: { path: { id: c.id } },
        body: { type, occurred_at: minutesAgo(minutes), description: `${type}`, ...extra },
      })
    // Written out of order: the timeline sorts by when things happened.
    await post('stop_request', 20)
    const statement = await post('customer_statement', 25, { quote: '=責任者を出せ、ネットに晒すぞ' })
    await post('exit_order', 15)
    await post('final_warning', 10)
    await post('police_called', 8, { details: { police_via: '110' } })
    await post('stop_request', 5) // after the police: not counted before it
    const correction = await post('correction', 2, { corrects_event_id: statement.data!.id, description: '発言は「責任者を出せ」のみ' })
    expectStatus(t, correction, 201)

    const response = await a.GET('/v1/cases/{id}/timeline', { params: { path: { id: c.id } } })
    const timeline = response.data as Exclude<typeof response.data, string | undefined>
    const entries = timeline.entries
    t.same(
      entries.map((e) => e.type),
      ['customer_statement', 'stop_request', 'exit_order', 'final_warning', 'police_called', 'stop_request'],
      'in occurred order; the correction is not a line of its own',
    )
    t.equal(entries[0]!.corrections[0]?.id, correction.data!.id, 'the correction is shown against what it corrects')
    t.equal(entries[0]!.quote, '=責任者を出せ、ネットに晒すぞ', 'the original stays as it was')
    t.equal(timeline.escalation_ladder.warnings_before_police, 3)
    t.equal(timeline.escalation_ladder.counts.stop_request, 2)

    const csv = await fetch(`${server.baseUrl}/v1/cases/${c.id}/timeline`, {
      headers: { authorization: `Bearer ${await server.token(staffA)}`, accept: 'text/csv' },
    })
    expectStatus(t, csv, 200)
    t.match(csv.headers.get('content-type'), /^text\/csv/)
    const bytes = Buffer.from(await csv.arrayBuffer())
    t.same([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'a UTF-8 byte-order mark, for spreadsheets')
    const text = bytes.subarray(3).toString('utf8')
    t.ok(text.startsWith('occurred_at,'), 'then the header')
    t.match(text, /,'=責任者を出せ、ネットに晒すぞ,/, 'a formula-looking cell is defused')
    t.equal(text.trim().split('\r\n').length, 1 + 7, 'a header and the seven events, the correction included')
  })

  t.test('staff appear by the name the policy allows, never the legal name', async (t) => {
    const c = await newCase(a)
    t.same(c.created_by, { id: 'staff-a', display_name: '山田' }, 'surname only by default')
    t.notMatch(JSON.stringify(c), /太郎/)
    const timeline = await sup.GET('/v1/cases/{id}/timeline', { params: { path: { id: c.id } } })
    t.notMatch(JSON.stringify(timeline.data), /太郎/)
  })
})
