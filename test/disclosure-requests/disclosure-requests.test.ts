import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { buildTestApp, type Identity, type TestApp } from '../helpers/app.ts'
import { expectEvery, expectSome, expectStatus } from '../helpers/expect.ts'
import { createCase, daysAgo, derivativeBody, disclosureRequestBody, register } from '../helpers/fixtures.ts'

/**
 * Disclosure requests through HTTP (app.inject): creation and its checks, who reads what, the
 * deadline counting rule (初日不算入, 補正, 延長, office holidays), the state machine, the records a
 * request covers and the holds they get, the decision's items, hand-overs, withdrawal.
 */
const desk: Identity = { roles: ['desk'], sub: 'desk-1', name: '窓口 太郎' }
const rm: Identity = { roles: ['records_manager'], sub: 'rm-1', name: '文書 一郎' }
const auditor: Identity = { roles: ['auditor'], sub: 'aud-1' }
const admin: Identity = { roles: ['admin'], sub: 'admin-1' }

async function create(test: TestApp, extra: Record<string, unknown> = {}, who: Identity = desk) {
  const res = await test.injectAs(who, { method: 'POST', url: '/v1/disclosure-requests', payload: disclosureRequestBody(extra) })
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`)
  return res.json()
}

const post = (test: TestApp, who: Identity, url: string, payload: unknown) => test.injectAs(who, { method: 'POST', url, payload: payload as object })
const pointers = (res: { json(): { errors?: { pointer: string }[] } }) => (res.json().errors ?? []).map((e) => e.pointer).sort()

t.test('creating a request: its checks, its deadline, who sees the requester', async (t) => {
  const test = await buildTestApp(t)
  const res = await test.injectAs(desk, {
    method: 'POST',
    url: '/v1/disclosure-requests',
    payload: disclosureRequestBody(),
    headers: { 'x-request-id': 'dr-1' },
  })
  expectStatus(t, res, 201)
  const created = res.json()
  t.match(created, {
    kind: 'personal_information',
    received_date: '2025-06-02',
    status: 'received',
    requester: { name: '開示 花子', identity_confirmation: { method: 'driving_licence' } },
    requester_redacted: false,
    // 2025-06-02 + 30 days: the period counts from the day after receipt.
    deadline: { due_date: '2025-07-02', warn_from: '2025-06-27', suspended: false, policy_version_id: '00000000-0000-7000-8000-0000000000d1' },
    allowed_steps: ['request_correction', 'extend', 'decide', 'withdraw'],
    created_by: { id: 'desk-1', display_name: '窓口' },
  })
  t.equal(res.headers.location, `/v1/disclosure-requests/${created.id}`)

  const entry = await test.db.selectFrom('audit_events').selectAll().where('request_id', '=', 'dr-1').executeTakeFirstOrThrow()
  t.match(entry, { action: 'createDisclosureRequest', resource_type: 'disclosure_request', resource_id: created.id })
  t.notMatch(JSON.stringify(entry.details), /花子|丸の内|090/, 'the audit trail holds no requester data')
  const change = await test.db.selectFrom('changes').selectAll().where('resource_id', '=', created.id).executeTakeFirstOrThrow()
  t.match(change, { kind: 'disclosure_request.received', resource_type: 'disclosure_request', data: { due_date: '2025-07-02' } })
  t.notMatch(JSON.stringify(change.data), /花子/, 'nor does the feed')

  const noIdentity = await post(test, desk, '/v1/disclosure-requests', disclosureRequestBody({ requester: { name: '本人 確認なし' } }))
  expectStatus(t, noIdentity, 422)
  t.same(pointers(noIdentity), ['body/requester/identity_confirmation'], '本人確認 is required for personal information')
  const needless = await post(
    test,
    desk,
    '/v1/disclosure-requests',
    disclosureRequestBody({ kind: 'information_disclosure', requester: { name: '誰でも', identity_confirmation: { method: 'passport' } } }),
  )
  t.same(pointers(needless), ['body/requester/identity_confirmation'], 'anyone may ask for administrative documents')
  const future = await post(test, desk, '/v1/disclosure-requests', disclosureRequestBody({ received_date: addDays(todayInTokyo(), 1) }))
  t.same(pointers(future), ['body/received_date'])
  const ancient = await post(test, desk, '/v1/disclosure-requests', disclosureRequestBody({ received_date: '1969-12-31' }))
  t.same(pointers(ancient), ['body/received_date'], 'before any policy is in force')

  const forAuditor = await test.injectAs(auditor, { method: 'GET', url: `/v1/disclosure-requests/${created.id}` })
  expectStatus(t, forAuditor, 200)
  t.match(forAuditor.json(), { requester: null, requester_redacted: true, subject_matter: created.subject_matter })
  t.equal(forAuditor.headers.etag, '"v1"')
  const list = (await test.injectAs(auditor, { method: 'GET', url: '/v1/disclosure-requests' })).json()
  expectEvery(t, list.items, (i: { requester: unknown; requester_redacted: boolean }) => i.requester === null && i.requester_redacted, 'redacted in lists')

  for (const role of ['staff', 'integration', 'admin'] as const) {
    expectStatus(t, await test.injectAs({ roles: [role] }, { method: 'GET', url: `/v1/disclosure-requests/${created.id}` }), 403, `${role} reads none`)
  }
  expectStatus(t, await post(test, auditor, '/v1/disclosure-requests', disclosureRequestBody()), 403, 'auditors never write')

  t.test('Idempotency-Key: a retried creation answers the first response', async (t) => {
    const request = { method: 'POST' as const, url: '/v1/disclosure-requests', headers: { 'idempotency-key': 'dr-retry' }, payload: disclosureRequestBody() }
    const first = await test.injectAs(desk, request)
    const again = await test.injectAs(desk, request)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.json().id, first.json().id)
  })

  t.test('PATCH changes descriptive fields with If-Match', async (t) => {
    const url = `/v1/disclosure-requests/${created.id}`
    expectStatus(t, await test.injectAs(desk, { method: 'PATCH', url, payload: { subject_matter: 'x' } }), 428)
    expectStatus(t, await test.injectAs(desk, { method: 'PATCH', url, payload: { subject_matter: 'x' }, headers: { 'if-match': '"v9"' } }), 412)
    const noIdentity = await test.injectAs(desk, { method: 'PATCH', url, payload: { requester: { name: '変更' } }, headers: { 'if-match': '"v1"' } })
    t.same(pointers(noIdentity), ['body/requester/identity_confirmation'])
    const changed = await test.injectAs(desk, {
      method: 'PATCH',
      url,
      payload: {
        subject_matter: '2025年5月20日及び21日の電話応対の録音',
        requester: { name: '開示 花子', identity_confirmation: { method: 'my_number_card' } },
      },
      headers: { 'if-match': '"v1"' },
    })
    expectStatus(t, changed, 200)
    t.match(changed.json(), { version: 2, subject_matter: /21日/, requester: { identity_confirmation: { method: 'my_number_card' }, address: null } })
    t.equal(changed.json().deadline.due_date, '2025-07-02', 'the deadline does not change')
  })
})

t.test('supervisors read the requests that cover records of their unit', async (t) => {
  const test = await buildTestApp(t)
  const unitA = await test.orgUnit('a-ka')
  const unitB = await test.orgUnit('b-ka')
  const supA: Identity = { roles: ['supervisor'], unit: unitA, sub: 'sup-a' }
  const supB: Identity = { roles: ['supervisor'], unit: unitB, sub: 'sup-b' }
  const request = await create(test)
  const url = `/v1/disclosure-requests/${request.id}`
  expectStatus(t, await test.injectAs(supA, { method: 'GET', url }), 404, 'covers nothing of unit A yet')
  const rec = await register(test, supA)
  expectStatus(t, await post(test, desk, `${url}/records`, { type: 'recording', id: rec.id }), 200)
  const seen = await test.injectAs(supA, { method: 'GET', url })
  expectStatus(t, seen, 200)
  t.match(seen.json(), { requester: null, requester_redacted: true }, 'without the requester')
  expectStatus(t, await test.injectAs(supB, { method: 'GET', url }), 404, 'another unit')
  const listA = (await test.injectAs(supA, { method: 'GET', url: '/v1/disclosure-requests' })).json()
  t.same(
    listA.items.map((i: { id: string }) => i.id),
    [request.id],
  )
  t.same((await test.injectAs(supB, { method: 'GET', url: '/v1/disclosure-requests' })).json().items, [])
  expectStatus(t, await post(test, supA, `${url}/decide`, { decision: 'no_such_record', decided_on: '2025-06-10', reason: 'x', items: [] }), 403, 'read only')
})

t.test('the deadline: 初日不算入, corrections, the extension, office holidays', async (t) => {
  const test = await buildTestApp(t)

  t.test('a deadline on a Saturday moves to Monday when the calendar policy says so (the default)', async (t) => {
    // 2025-06-05 + 30 = 2025-07-05, a Saturday.
    const r = await create(test, { received_date: '2025-06-05' })
    t.equal(r.deadline.due_date, '2025-07-07')
    const why = (await test.injectAs(auditor, { method: 'GET', url: `/v1/disclosure-requests/${r.id}/deadline` })).json()
    t.match(why, {
      counted_from: '2025-06-06',
      rule: { decision_period_days: 30, max_extension_days: 30, warning_days: 5, holidays: 'calendar_policy' },
      period_days: 30,
      raw_due_date: '2025-07-05',
      raw_due_date_is_holiday: true,
      roll_forward: true,
      due_date: '2025-07-07',
      skipped: [{ date: '2025-07-05' }, { date: '2025-07-06' }],
      state: 'overdue',
    })
    expectSome(t, why.explanation, (l: string) => l.includes('初日不算入'))
  })

  t.test('correction rounds add up; an open one stops the clock', async (t) => {
    const r = await create(test)
    const url = `/v1/disclosure-requests/${r.id}`
    const bad = await post(test, desk, `${url}/request-correction`, { requested_on: '2025-06-01', reason: '対象文書の特定' })
    t.same(pointers(bad), ['body/requested_on'], 'not before receipt')
    const asked = await post(test, desk, `${url}/request-correction`, { requested_on: '2025-06-05', reason: '対象文書の特定' })
    expectStatus(t, asked, 200)
    t.match(asked.json(), { status: 'correction_requested', deadline: { due_date: null, suspended: true }, allowed_steps: ['receive_correction', 'withdraw'] })
    const suspended = (await test.injectAs(desk, { method: 'GET', url: `${url}/deadline` })).json()
    t.match(suspended, { suspended: true, due_date: null, state: 'suspended' })
    expectSome(t, suspended.explanation, (l: string) => l.includes('outstanding'))
    expectStatus(t, await post(test, desk, `${url}/decide`, { decision: 'no_such_record', decided_on: '2025-06-06', reason: 'x', items: [] }), 409)
    const early = await post(test, desk, `${url}/receive-correction`, { corrected_on: '2025-06-04' })
    t.same(pointers(early), ['body/corrected_on'])
    expectStatus(t, await post(test, desk, `${url}/receive-correction`, { corrected_on: '2025-06-12' }), 200)
    await post(test, desk, `${url}/request-correction`, { requested_on: '2025-06-20', reason: '再度の補正' })
    const done = await post(test, desk, `${url}/receive-correction`, { corrected_on: '2025-06-23', note: '郵送で到達' })
    // 30 days + 7 (06-06 … 06-12) + 3 (06-21 … 06-23) = 40: 2025-07-12, a Saturday → Monday 2025-07-14.
    t.match(done.json(), {
      status: 'received',
      deadline: { due_date: '2025-07-14', suspended: false },
      corrections: [
        { round: 1, excluded_days: 7 },
        { round: 2, excluded_days: 3 },
      ],
    })
    const why = (await test.injectAs(desk, { method: 'GET', url: `${url}/deadline` })).json()
    t.match(why, { excluded_days: 10, period_days: 40, raw_due_date: '2025-07-12', due_date: '2025-07-14' })
  })

  t.test('one extension, at most the maximum, decided by the original deadline', async (t) => {
    const r = await create(test)
    const url = `/v1/disclosure-requests/${r.id}/extend`
    const ok = { days: 30, reason: '対象文書が大量', decided_on: '2025-06-30', notified_on: '2025-07-01' }
    const tooLong = await post(test, desk, url, { ...ok, days: 31 })
    t.same(pointers(tooLong), ['body/days'])
    const backwards = await post(test, desk, url, { ...ok, notified_on: '2025-06-29' })
    t.same(pointers(backwards), ['body/notified_on'])
    const late = await post(test, desk, url, { ...ok, decided_on: '2025-07-03', notified_on: '2025-07-03' })
    expectStatus(t, late, 409, 'after the deadline of 2025-07-02')
    const extended = await post(test, desk, url, ok)
    expectStatus(t, extended, 200)
    // 30 + 30 days from 2025-06-02: 2025-08-01 (a Friday).
    t.match(extended.json(), { status: 'extended', deadline: { due_date: '2025-08-01' }, extension: { days: 30, decided_on: '2025-06-30' } })
    const twice = await post(test, desk, url, { ...ok, days: 5 })
    expectStatus(t, twice, 409, 'only once')
    t.same(twice.json().allowed, ['decide', 'withdraw'])
    const why = (await test.injectAs(desk, { method: 'GET', url: `/v1/disclosure-requests/${r.id}/deadline` })).json()
    t.match(why, { original_due_date: '2025-07-02', period_days: 60, due_date: '2025-08-01', extension: { days: 30 } })
  })

  t.test('the holiday switch: the disclosure policy decides, or defers to the calendar', async (t) => {
    const today = todayInTokyo()
    // A period that ends on a Saturday when counted from today.
    const toSaturday = ((6 - new Date(`${today}T00:00:00Z`).getUTCDay() + 7) % 7) + 7
    const saturday = addDays(today, toSaturday)
    const kinds = (personal: Record<string, unknown>, information: Record<string, unknown>) => ({
      personal_information: { decision_period_days: toSaturday, max_extension_days: 30, warning_days: 2, ...personal },
      information_disclosure: { decision_period_days: toSaturday, max_extension_days: 30, warning_days: 2, ...information },
    })
    const version = await post(test, admin, '/v1/policies/disclosure/versions', {
      effective_from: today,
      body: { kinds: kinds({ roll_forward_off_holidays: false }, {}) },
      note: '条例: 土日の期限は延ばさない (個人情報)',
    })
    expectStatus(t, version, 201)
    const stays = await create(test, { received_date: today })
    t.equal(stays.deadline.due_date, saturday, 'switch off: the deadline stays on the Saturday')
    const why = (await test.injectAs(desk, { method: 'GET', url: `/v1/disclosure-requests/${stays.id}/deadline` })).json()
    t.match(why, { rule: { holidays: 'disclosure_policy' }, roll_forward: false, raw_due_date_is_holiday: true, due_date: saturday, skipped: [] })
    const calendar = (await test.injectAs(desk, { method: 'GET', url: `/v1/calendar/deadline?start=${today}&days=${toSaturday}&kind=filing` })).json()
    const moves = await create(test, { kind: 'information_disclosure', received_date: today })
    t.equal(moves.deadline.due_date, calendar.due_date, 'no switch in the disclosure policy: the calendar policy moves it (default)')
    t.not(calendar.due_date, saturday)

    const off = await post(test, admin, '/v1/policies/calendar/versions', {
      effective_from: today,
      body: { closures: [], office_decisions_roll_forward: false },
      note: '自らの決定期限は延ばさない',
    })
    expectStatus(t, off, 201)
    const stays2 = await create(test, { kind: 'information_disclosure', received_date: today })
    t.equal(stays2.deadline.due_date, saturday, 'the calendar switch off: it stays')
    const why2 = (await test.injectAs(desk, { method: 'GET', url: `/v1/disclosure-requests/${stays2.id}/deadline` })).json()
    t.match(why2, { rule: { holidays: 'calendar_policy' }, roll_forward: false, calendar_version_ids: [off.json().id] })
  })

  t.test('the disclosure policy rules', async (t) => {
    const today = addDays(todayInTokyo(), 3)
    const bad = await post(test, admin, '/v1/policies/disclosure/versions', {
      effective_from: today,
      body: {
        kinds: {
          personal_information: { decision_period_days: 45, max_extension_days: 40, warning_days: 3 },
          information_disclosure: { decision_period_days: 14, max_extension_days: 46, warning_days: 14 },
        },
      },
      note: 'x',
    })
    expectStatus(t, bad, 422)
    t.same(pointers(bad), [
      'body/body/kinds/information_disclosure/warning_days',
      'body/body/kinds/personal_information/decision_period_days',
      'body/body/kinds/personal_information/max_extension_days',
    ])
  })
})

t.test('records, holds and the decision', async (t) => {
  const test = await buildTestApp(t)
  const unit = await test.orgUnit('shimin')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-1' }
  const kase = await createCase(test, sup)
  const recA = await register(test, sup, { case_id: kase.id })
  const recB = await register(test, sup, { case_id: kase.id })
  const r = await create(test)
  const url = `/v1/disclosure-requests/${r.id}`

  const added = await post(test, desk, `${url}/records`, { type: 'recording', id: recA.id, note: '5月20日の通話' })
  expectStatus(t, added, 200)
  const entryA = added.json().records[0]
  t.match(entryA, { type: 'recording', record_id: recA.id, hold_id: /./, removed_at: null, added_by: { id: 'desk-1' } })
  const holds = (await test.injectAs(rm, { method: 'GET', url: `/v1/recordings/${recA.id}/holds` })).json().items
  t.match(holds, [{ id: entryA.hold_id, type: 'disclosure_request', reference: `開示請求 ${r.id}`, status: 'active', until: null }])
  expectStatus(t, await post(test, desk, `${url}/records`, { type: 'recording', id: recA.id }), 409, 'covered once')
  const unknown = await post(test, desk, `${url}/records`, { type: 'recording', id: crypto.randomUUID() })
  t.same(pointers(unknown), ['body/id'])
  expectStatus(t, await post(test, desk, `${url}/records`, { type: 'case', id: kase.id }), 200)
  const withB = await post(test, desk, `${url}/records`, { type: 'recording', id: recB.id })
  const entryB = withB.json().records[2]

  t.test('removing a recording releases its hold with the reason', async (t) => {
    const removed = await post(test, rm, `${url}/records/${entryB.id}/remove`, { reason: '請求の対象外と確認' })
    expectStatus(t, removed, 200)
    t.match(removed.json().records[2], { removed_by: { id: 'rm-1' }, removal_reason: '請求の対象外と確認' })
    const hold = (await test.injectAs(rm, { method: 'GET', url: `/v1/recordings/${recB.id}/holds` })).json().items[0]
    t.match(hold, { status: 'released', release_reason: /請求の対象外と確認/, released_by: { id: 'rm-1' } })
    expectStatus(t, await post(test, rm, `${url}/records/${entryB.id}/remove`, { reason: 'again' }), 409)
  })

  t.test('the decision names every covered record, grounds for what is withheld, a redacted copy for a partly disclosed recording', async (t) => {
    const decide = (body: Record<string, unknown>) => post(test, desk, `${url}/decide`, { decided_on: '2025-06-20', reason: '審査の結果', ...body })
    const missing = await decide({ decision: 'full_disclosure', items: [{ record_type: 'recording', record_id: recA.id, outcome: 'disclosed' }] })
    t.same(pointers(missing), ['body/items'], 'the case is not named')
    const noGrounds = await decide({
      decision: 'partial_disclosure',
      items: [
        { record_type: 'recording', record_id: recA.id, outcome: 'partially_disclosed' },
        { record_type: 'case', record_id: kase.id, outcome: 'disclosed' },
      ],
    })
    t.same(pointers(noGrounds), ['body/items/0/derivative_id', 'body/items/0/grounds'])
    const existence = await decide({
      decision: 'existence_neither_confirmed_nor_denied',
      items: [{ record_type: 'case', record_id: kase.id, outcome: 'withheld' }],
    })
    t.same(pointers(existence), ['body/items'], 'naming a record would answer whether it exists')
    const stranger = await decide({
      decision: 'non_disclosure',
      items: [
        { record_type: 'recording', record_id: recB.id, outcome: 'withheld', grounds: ['x'] },
        { record_type: 'recording', record_id: recA.id, outcome: 'withheld', grounds: ['x'] },
        { record_type: 'case', record_id: kase.id, outcome: 'withheld', grounds: ['x'] },
      ],
    })
    t.same(pointers(stranger), ['body/items/0/record_id'], 'a removed record is no longer covered')

    const derivative = await post(test, rm, `/v1/recordings/${recA.id}/derivatives`, derivativeBody(recA))
    expectStatus(t, derivative, 201)
    const decided = await decide({
      decision: 'partial_disclosure',
      items: [
        {
          record_type: 'recording',
          record_id: recA.id,
          outcome: 'partially_disclosed',
          derivative_id: derivative.json().id,
          grounds: ['個人情報保護法第78条第1項第2号'],
        },
        { record_type: 'case', record_id: kase.id, outcome: 'disclosed' },
      ],
    })
    expectStatus(t, decided, 200)
    t.match(decided.json(), {
      status: 'decided',
      decision: {
        decision: 'partial_disclosure',
        decided_on: '2025-06-20',
        items: [{ derivative_id: derivative.json().id, grounds: ['個人情報保護法第78条第1項第2号'] }, {}],
      },
      allowed_steps: ['hand_over', 'appeal'],
    })
    const hold = (await test.injectAs(rm, { method: 'GET', url: `/v1/recordings/${recA.id}/holds` })).json().items[0]
    // 決定の日の翌日から起算して一年間: a decision of 2025-06-20 keeps the recording through 2026-06-20.
    t.match(hold, { id: entryA.hold_id, decision_date: '2025-06-20', until: '2026-06-20' })
    expectStatus(t, await post(test, desk, `${url}/records/${entryA.id}/remove`, { reason: 'x' }), 409, 'covered records stay after the decision')
    expectStatus(t, await post(test, desk, `${url}/records`, { type: 'recording', id: recB.id }), 409)
    const forAuditor = (await test.injectAs(auditor, { method: 'GET', url })).json()
    t.match(forAuditor.decision.items[0], { outcome: 'partially_disclosed', grounds: ['個人情報保護法第78条第1項第2号'] }, 'auditors read what was disclosed')

    t.test('hand-overs: what the decision discloses, by a grant or on a medium', async (t) => {
      const original = await post(test, desk, `${url}/handovers`, { record_type: 'recording', record_id: recA.id, method: 'media_grant' })
      t.same(pointers(original), ['body/derivative_id'], 'the decision discloses the redacted copy, not the original')
      const noMedium = await post(test, desk, `${url}/handovers`, { record_type: 'case', record_id: kase.id, method: 'medium' })
      t.same(pointers(noMedium), ['body/handed_over_on', 'body/medium'])
      const grant = await post(test, desk, `${url}/handovers`, {
        record_type: 'recording',
        record_id: recA.id,
        derivative_id: derivative.json().id,
        method: 'media_grant',
      })
      expectStatus(t, grant, 201)
      t.match(grant.json(), {
        handover: { method: 'media_grant', derivative_id: derivative.json().id, handed_over_on: todayInTokyo() },
        grant: { derivative_id: derivative.json().id, sha256: derivative.json().sha256, recording_id: recA.id },
        request: { status: 'disclosed', disclosed_on: todayInTokyo() },
      })
      t.equal(grant.json().handover.grant_jti, grant.json().grant.jti)
      const paper = await post(test, desk, `${url}/handovers`, {
        record_type: 'case',
        record_id: kase.id,
        method: 'medium',
        medium: '写し (紙) 3枚',
        handed_over_on: '2025-06-25',
      })
      expectStatus(t, paper, 201)
      t.equal(paper.json().request.disclosed_on, todayInTokyo(), 'disclosed since the first hand-over')
      t.equal(paper.json().request.handovers.length, 2)
    })
  })

  t.test('every step is in the history, with who and why', async (t) => {
    const history = (await test.injectAs(auditor, { method: 'GET', url: `${url}/history` })).json().items
    t.same(
      history.map((s: { action: string }) => s.action),
      ['received', 'record_added', 'record_added', 'record_added', 'record_removed', 'decide', 'hand_over', 'hand_over'],
    )
    t.match(history[4], { reason: '請求の対象外と確認', actor: { id: 'rm-1' } })
    t.match(history[5], { from_status: 'received', to_status: 'decided', on_date: '2025-06-20', details: { decision: 'partial_disclosure' } })
  })
})

t.test('withdrawal releases the holds; the due list', async (t) => {
  const test = await buildTestApp(t)
  const sup: Identity = { roles: ['supervisor'], unit: await test.orgUnit('w'), sub: 'sup-w' }
  const rec = await register(test, sup, { started_at: daysAgo(10) })
  const r = await create(test, { kind: 'information_disclosure', received_date: '2025-06-10' })
  const url = `/v1/disclosure-requests/${r.id}`
  await post(test, desk, `${url}/records`, { type: 'recording', id: rec.id })
  const withdrawn = await post(test, desk, `${url}/withdraw`, { withdrawn_on: '2025-06-12', reason: '請求者から取下書の提出' })
  expectStatus(t, withdrawn, 200)
  t.match(withdrawn.json(), { status: 'withdrawn', withdrawn_on: '2025-06-12', deadline: { due_date: null }, allowed_steps: [] })
  const hold = (await test.injectAs(rm, { method: 'GET', url: `/v1/recordings/${rec.id}/holds` })).json().items[0]
  t.match(hold, { status: 'released', release_reason: /取下げ/ })
  expectStatus(t, await post(test, desk, `${url}/decide`, { decision: 'no_such_record', decided_on: '2025-06-13', reason: 'x', items: [] }), 409)

  const soon = await create(test, { received_date: '2025-06-01' }) // due 2025-07-01
  const later = await create(test, { received_date: '2025-06-20' }) // due 2025-07-20 (a Sunday) → 07-22 (07-21 is 海の日)
  const decided = await create(test, { received_date: '2025-05-01' })
  await post(test, desk, `/v1/disclosure-requests/${decided.id}/decide`, { decision: 'no_such_record', decided_on: '2025-05-10', reason: '不存在', items: [] })
  t.equal(later.deadline.due_date, '2025-07-22')
  const due = (await test.injectAs(desk, { method: 'GET', url: '/v1/disclosure-requests?due_before=2025-08-01&limit=1' })).json()
  t.same(
    due.items.map((i: { id: string }) => i.id),
    [soon.id],
    'soonest first',
  )
  const next = (await test.injectAs(desk, { method: 'GET', url: `/v1/disclosure-requests?due_before=2025-08-01&limit=1&cursor=${due.next_cursor}` })).json()
  t.same(
    next.items.map((i: { id: string }) => i.id),
    [later.id],
  )
  t.equal(next.next_cursor, null, 'withdrawn and decided requests are not due')
  const before = (await test.injectAs(desk, { method: 'GET', url: '/v1/disclosure-requests?due_before=2025-07-02' })).json()
  t.same(
    before.items.map((i: { id: string }) => i.id),
    [soon.id],
  )
})
