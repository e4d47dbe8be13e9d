import { sql } from 'kysely'
import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { buildTestApp, type Identity, type TestApp } from '../helpers/app.ts'
import { expectEvery, expectSome, expectStatus } from '../helpers/expect.ts'
import { createCase, incidentBody, register } from '../helpers/fixtures.ts'

/** Leak incidents (漏えい等) through HTTP: access, the judgement's history, the record of facts, actions, disclosure, reports, holds. */

async function open(test: TestApp, who: Identity, extra: Record<string, unknown> = {}) {
  const res = await test.injectAs(who, { method: 'POST', url: '/v1/incidents', payload: incidentBody(extra) })
  if (res.statusCode !== 201) throw new Error(`open: ${res.statusCode} ${res.body}`)
  return res.json()
}

const desk: Identity = { roles: ['desk'], sub: 'desk-1', name: '窓口 花子' }
const rm: Identity = { roles: ['records_manager'], sub: 'rm-1', name: '記録 一郎' }
const auditor: Identity = { roles: ['auditor'], sub: 'aud-1' }

t.test('who reaches an incident: what they opened, own or are on the team of; their unit; everything', async (t) => {
  const test = await buildTestApp(t)
  const [unitA, unitB] = [await test.orgUnit('unit-a'), await test.orgUnit('unit-b')]
  const staffA: Identity = { roles: ['staff'], unit: unitA, sub: 'staff-a', name: '山田 太郎' }
  const otherStaff: Identity = { roles: ['staff'], unit: unitA, sub: 'staff-other' }
  const supA: Identity = { roles: ['supervisor'], unit: unitA, sub: 'sup-a' }
  const supB: Identity = { roles: ['supervisor'], unit: unitB, sub: 'sup-b' }
  const kase = await createCase(test, staffA)
  const rec = await register(test, staffA, { case_id: kase.id })

  // Staff discover a leak and open it; the desk is the point of contact.
  const inc = await open(test, staffA, { owner: 'desk-1', records: [{ type: 'recording', id: rec.id }] })
  t.match(inc, { owner: { id: 'desk-1' }, opened_by: { id: 'staff-a', display_name: '山田' }, org_unit_id: unitA, personal_data_redacted: false })
  const get = (who: Identity) => test.injectAs(who, { method: 'GET', url: `/v1/incidents/${inc.id}` })

  expectStatus(t, await get(staffA), 200, 'who opened it reads it')
  expectStatus(t, await get(otherStaff), 404, 'other staff do not')
  const bySup = await get(supA)
  expectStatus(t, bySup, 200, 'the supervisor of the unit whose recording it touches')
  t.equal(bySup.json().summary, incidentBody().summary)
  expectStatus(t, await get(supB), 404, 'a supervisor of another unit does not')
  expectStatus(t, await get(desk), 200)
  const byAuditor = (await get(auditor)).json()
  t.match(byAuditor, { summary: null, discovery: null, personal_data_redacted: true, data_items: ['氏名', '音声'] }, 'auditors: text redacted')
  expectStatus(t, await get({ roles: ['admin'] }), 403)
  expectStatus(t, await get({ roles: ['integration'], unit: unitA }), 403)

  const listed = (who: Identity) => test.injectAs(who, { method: 'GET', url: '/v1/incidents' }).then((r) => r.json().items.map((i: { id: string }) => i.id))
  t.same(await listed(otherStaff), [])
  t.same(await listed(supB), [])
  t.same(await listed(supA), [inc.id])

  // Reading is not handling: who opened it is not on the team, nor is the unit's supervisor.
  const entry = (who: Identity) =>
    test.injectAs(who, { method: 'POST', url: `/v1/incidents/${inc.id}/entries`, payload: { type: 'fact', text: '送信先を確認', confirmed: true } })
  expectStatus(t, await entry(staffA), 403, 'who opened it does not handle it')
  expectStatus(t, await entry(supA), 403, 'nor does the supervisor')
  expectStatus(t, await entry(supB), 404, 'out of reach: not found')
  const added = await test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${inc.id}/team`, payload: { subject: 'sup-a', role: 'records' } })
  expectStatus(t, added, 200)
  t.match(added.json().team, [{ member: { id: 'sup-a' }, role: 'records', added_by: { id: 'desk-1' } }])
  expectStatus(t, await entry(supA), 201, 'a team member handles it')
  const again = await test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${inc.id}/team`, payload: { subject: 'sup-a', role: 'records' } })
  expectStatus(t, again, 409, 'once per role')
  const memberId = added.json().team[0].id
  expectStatus(t, await test.injectAs(desk, { method: 'DELETE', url: `/v1/incidents/${inc.id}/team/${memberId}` }), 200)
  expectStatus(t, await entry(supA), 403, 'off the team, no longer')

  // An incident that touches no record of unit A is not the supervisor's.
  const elsewhere = await open(test, desk)
  expectStatus(t, await test.injectAs(supA, { method: 'GET', url: `/v1/incidents/${elsewhere.id}` }), 404)

  t.test('the change feed carries ids and kinds, never the text', async (t) => {
    const changes = await test.db.selectFrom('changes').select(['kind', 'data']).where('resource_type', '=', 'incident').execute()
    expectSome(t, changes, (c) => c.kind === 'incident.opened')
    expectEvery(t, changes, (c) => !JSON.stringify(c.data).includes('誤った宛先'), 'no summary in the feed')
  })
})

t.test('the judgement follows the facts, and every change of it is recorded', async (t) => {
  const test = await buildTestApp(t)
  const inc = await open(test, desk)
  t.match(inc.judgement, { reportable: false, reasons: [], exemption: null })
  t.equal(inc.deadlines, null)
  const patch = (body: object, version: number | null) =>
    test.injectAs(desk, { method: 'PATCH', url: `/v1/incidents/${inc.id}`, headers: version === null ? {} : { 'if-match': `"v${version}"` }, payload: body })

  expectStatus(t, await patch({ persons_affected: 150 }, null), 428, 'If-Match required')
  expectStatus(t, await patch({ persons_affected: 150 }, 9), 412, 'stale')
  const more = await patch({ persons_affected: 150, persons_affected_basis: 'estimated' }, 1)
  expectStatus(t, more, 200)
  t.match(more.json().judgement, { reportable: true, reasons: ['persons_over_threshold'] })
  t.ok(more.json().deadlines.final_report.due_date, 'deadlines once reportable')

  const text = await patch({ summary: '送信先は2件だった' }, more.json().version)
  expectStatus(t, text, 200)
  const encrypted = await patch({ reporting_facts: { strongly_encrypted: true } }, text.json().version)
  t.match(encrypted.json().judgement, { reportable: false, reasons: ['persons_over_threshold'], exemption: 'strong_encryption' }, 'the grounds stay named')
  t.equal(encrypted.json().deadlines, null)

  const history = (await test.injectAs(auditor, { method: 'GET', url: `/v1/incidents/${inc.id}/judgements` })).json().items
  t.match(history, [
    { seq: 1, reportable: false, changed_facts: [], judged_by: { id: 'desk-1' } },
    { seq: 2, reportable: true, reasons: ['persons_over_threshold'], changed_facts: ['persons_affected'], facts: { persons_affected: 150 } },
    { seq: 3, reportable: false, exemption: 'strong_encryption', changed_facts: ['strongly_encrypted'], facts: { strongly_encrypted: true } },
  ])
  t.equal(history.length, 3, 'a change of the text alone changes no judgement')
  const changes = await test.db
    .selectFrom('changes')
    .select('kind')
    .where('resource_id', '=', inc.id)
    .where('kind', '=', 'incident.judgement_changed')
    .execute()
  t.equal(changes.length, 2)
  await t.rejects(sql`update incident_judgements set reportable = true`.execute(test.db), /append-only/)

  t.test('times as reported', async (t) => {
    const future = await test.injectAs(desk, {
      method: 'POST',
      url: '/v1/incidents',
      payload: incidentBody({ aware_at: `${addDays(todayInTokyo(), 3)}T10:00:00+09:00` }),
    })
    expectStatus(t, future, 422)
    const before = await test.injectAs(desk, {
      method: 'POST',
      url: '/v1/incidents',
      payload: incidentBody({ aware_at: '2025-06-01T10:00:00+09:00', occurred_at: '2025-06-02T10:00:00+09:00' }),
    })
    expectStatus(t, before, 422)
    t.same(
      before.json().errors.map((e: { pointer: string }) => e.pointer),
      ['body/occurred_at'],
    )
  })

  t.test("the ordinance's categories and the plan's counting rule are policy values", async (t) => {
    const unknown = await test.injectAs(desk, {
      method: 'POST',
      url: '/v1/incidents',
      payload: incidentBody({ reporting_facts: { ordinance_sensitive_categories: ['sexual_orientation'] } }),
    })
    expectStatus(t, unknown, 422)
    t.same(unknown.json().errors, [
      {
        pointer: 'body/reporting_facts/ordinance_sensitive_categories/0',
        message: 'is not an ordinance-sensitive category of the response plan (version 00000000-0000-7000-8000-0000000015a1)',
      },
    ])
    const today = todayInTokyo()
    const plan = await test.injectAs(
      { roles: ['admin'] },
      {
        method: 'POST',
        url: '/v1/policies/incident_response/versions',
        payload: {
          effective_from: today,
          note: '条例要配慮個人情報を追加; 初日不算入で数え、閉庁日も繰り延べない',
          body: {
            contacts: [{ role: '保護管理者', name: '総務課長', contact: '内線 1234' }],
            persons_threshold: 100,
            ordinance_sensitive_categories: [{ code: 'sexual_orientation', label: '性的指向・性自認に関する情報' }],
            reporting: {
              first_report_days: 3,
              final_report_days: 30,
              final_report_days_wrongful_purpose: 60,
              day_one: 'day_after_awareness',
              roll_forward_office_holidays: false,
              warn_days_before: 1,
            },
          },
        },
      },
    )
    expectStatus(t, plan, 201)
    const now = new Date().toISOString()
    const res = await test.injectAs(desk, {
      method: 'POST',
      url: '/v1/incidents',
      payload: incidentBody({ aware_at: now, reporting_facts: { ordinance_sensitive_categories: ['sexual_orientation'] } }),
    })
    expectStatus(t, res, 201)
    const body = res.json()
    t.match(body.judgement, { reportable: true, reasons: ['ordinance_sensitive_information'], policy_version_id: plan.json().id })
    const aware = body.aware_date
    t.match(body.deadlines, {
      day_one_rule: 'day_after_awareness',
      roll_forward_office_holidays: false,
      first_report: { day_one: addDays(aware, 1), due_date: addDays(aware, 3), moved_over: [] },
      final_report: { day_one: addDays(aware, 1), due_date: addDays(aware, 30), moved_over: [] },
    })
    t.same(body.contacts, [{ role: '保護管理者', name: '総務課長', contact: '内線 1234' }], 'whom to notify, from the plan')
  })
})

t.test('one owner, changed only by a recorded handover', async (t) => {
  const test = await buildTestApp(t)
  const unit = await test.orgUnit('somu')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-h', name: '佐藤 一' }
  const member: Identity = { roles: ['staff'], unit, sub: 'staff-m' }
  const inc = await open(test, staff, { team: [{ subject: 'staff-m', role: 'technical' }] })
  t.equal(inc.owner.id, 'staff-h', 'who opens it owns it until handed over (no point of contact in the plan)')
  const handover = (who: Identity, to: string) =>
    test.injectAs(who, { method: 'POST', url: `/v1/incidents/${inc.id}/handover`, payload: { to, reason: '相談窓口が窓口を引き継ぐ' } })
  expectStatus(t, await handover(member, 'staff-m'), 403, 'a team member is not the owner')
  expectStatus(t, await handover(staff, 'staff-h'), 409, 'already the owner')
  const done = await handover(staff, 'desk-1')
  expectStatus(t, done, 200)
  t.equal(done.json().owner.id, 'desk-1')
  expectStatus(t, await handover(staff, 'staff-h'), 403, 'the former owner no longer handles it')
  expectStatus(t, await handover(desk, 'rm-1'), 200, 'the desk hands over')
  const history = (await test.injectAs(rm, { method: 'GET', url: `/v1/incidents/${inc.id}/handovers` })).json().items
  t.match(history, [
    { from: { id: 'staff-h' }, to: { id: 'desk-1' }, handed_over_by: { id: 'staff-h' } },
    { from: { id: 'desk-1' }, to: { id: 'rm-1' }, handed_over_by: { id: 'desk-1' } },
  ])
  const audited = await test.db
    .selectFrom('audit_events')
    .select(['subject', 'details', 'outcome'])
    .where('action', '=', 'handOverIncident')
    .where('resource_id', '=', inc.id)
    .orderBy('occurred_at')
    .execute()
  t.match(audited, [
    { subject: 'staff-m', outcome: 'denied' },
    { subject: 'staff-h', outcome: 'failed' },
    { subject: 'staff-h', outcome: 'allowed', details: { from: 'staff-h', to: 'desk-1' } },
    { subject: 'staff-h', outcome: 'denied' },
    { subject: 'desk-1', outcome: 'allowed', details: { from: 'desk-1', to: 'rm-1' } },
  ])
  const patched = await test.injectAs(desk, { method: 'PATCH', url: `/v1/incidents/${inc.id}`, headers: { 'if-match': '*' }, payload: { owner: 'x' } })
  expectStatus(t, patched, 422, 'the owner changes by handover only')
})

t.test('the record of facts: confirmed or not, corrected, and statements on confirmed facts only', async (t) => {
  const test = await buildTestApp(t)
  const inc = await open(test, desk)
  const other = await open(test, desk)
  const add = (body: object, id = inc.id) => test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${id}/entries`, payload: body })

  const guess = await add({ type: 'fact', text: '誤送信先は外部の事業者と思われる', confirmed: false })
  expectStatus(t, guess, 201)
  const statement = { type: 'statement', text: '本日、誤送信が判明しました', audience: 'press' }
  const onGuess = await add({ ...statement, relies_on: [guess.json().id] })
  expectStatus(t, onGuess, 409, 'no statement on an unconfirmed fact')
  t.match(onGuess.json(), { code: 'conflict', refused: [{ id: guess.json().id, reason: 'unconfirmed' }] })

  const confirmed = await add({ type: 'correction', corrects_entry_id: guess.json().id, text: '誤送信先は市内の個人1名と確認', confirmed: true })
  expectStatus(t, confirmed, 201)
  t.match(confirmed.json(), { seq: 2, type: 'correction', confirmed: true, corrects_entry_id: guess.json().id })
  expectStatus(t, await add({ ...statement, relies_on: [guess.json().id] }), 409, 'nor on a fact corrected since')
  const said = await add({ ...statement, relies_on: [confirmed.json().id] })
  expectStatus(t, said, 201, 'a statement on the confirmed correction')
  t.match(said.json(), { type: 'statement', confirmed: null, audience: 'press', relies_on: [confirmed.json().id] })
  expectStatus(t, await add({ ...statement, relies_on: [said.json().id] }), 409, 'nor on another statement')

  for (const [body, pointers] of [
    [{ type: 'statement', text: 'x', relies_on: [confirmed.json().id] }, ['body/audience']],
    [{ type: 'fact', text: 'x' }, ['body/confirmed']],
    [{ type: 'fact', text: 'x', confirmed: true, audience: 'press' }, ['body/audience']],
    [{ type: 'correction', text: 'x', confirmed: true }, ['body/corrects_entry_id']],
    [{ type: 'statement', text: 'x', audience: 'press', relies_on: [crypto.randomUUID()] }, ['body/relies_on/0']],
  ] as const) {
    const res = await add(body)
    expectStatus(t, res, 422, JSON.stringify(body))
    t.same(
      res.json().errors.map((e: { pointer: string }) => e.pointer),
      pointers,
    )
  }
  const foreign = await add({ type: 'correction', corrects_entry_id: guess.json().id, text: 'x', confirmed: true }, other.id)
  expectStatus(t, foreign, 422, "another incident's entry is not corrected here")

  const page = (await test.injectAs(desk, { method: 'GET', url: `/v1/incidents/${inc.id}/entries` })).json().items
  t.match(page, [
    { seq: 1, confirmed: false, corrected_by: [confirmed.json().id] },
    { seq: 2, corrected_by: [] },
    { seq: 3, type: 'statement' },
  ])
  const audited = (await test.injectAs(auditor, { method: 'GET', url: `/v1/incidents/${inc.id}/entries` })).json().items
  expectEvery(t, audited, (e: { text: string | null; redacted: boolean }) => e.text === null && e.redacted, 'auditors read the record without its text')
  await t.rejects(sql`update incident_entries set confirmed = true`.execute(test.db), /append-only/)
  await t.rejects(sql`delete from incident_entries`.execute(test.db), /append-only/)
})

t.test('actions, and closing', async (t) => {
  const test = await buildTestApp(t)
  const inc = await open(test, desk)
  const action = (body: object) => test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${inc.id}/actions`, payload: body })
  const containment = await action({ kind: 'containment', title: '誤送信先に削除を依頼', owner: 'desk-1', due_on: todayInTokyo() })
  expectStatus(t, containment, 201)
  const prevention = await action({ kind: 'recurrence_prevention', title: '送信前の宛先確認を二人で行う', owner: 'rm-1', due_on: addDays(todayInTokyo(), 30) })
  const close = (body: object) => test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${inc.id}/close`, payload: body })

  const refused = await close({ reason: '対応完了' })
  expectStatus(t, refused, 409)
  t.equal(refused.json().open_actions.length, 2)
  const change = (id: string, body: object, etag?: string) =>
    test.injectAs(desk, { method: 'PATCH', url: `/v1/incidents/${inc.id}/actions/${id}`, headers: etag ? { 'if-match': etag } : {}, payload: body })
  expectStatus(t, await change(containment.json().id, { status: 'done' }, '"v9"'), 412)
  const done = await change(containment.json().id, { status: 'done' }, '"v1"')
  t.match(done.json(), { status: 'done', version: 2 })
  t.ok(done.json().completed_at)
  const still = await close({ reason: '対応完了' })
  expectStatus(t, still, 409)
  t.match(still.json().open_actions, [{ id: prevention.json().id, status: 'open' }])
  const closed = await close({ reason: '対応完了', open_actions_reason: '再発防止策は来年度の研修計画で実施' })
  expectStatus(t, closed, 200)
  t.match(closed.json(), { status: 'closed', closed_by: { id: 'desk-1' }, open_actions_reason: '再発防止策は来年度の研修計画で実施', open_actions: 1 })
  expectStatus(t, await close({ reason: 'again' }), 409)
  expectStatus(
    t,
    await test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${inc.id}/entries`, payload: { type: 'fact', text: 'x', confirmed: true } }),
    409,
    'a closed incident takes no more entries',
  )
})

t.test('disclosure, reports to the Commission and notifications of the persons affected', async (t) => {
  const test = await buildTestApp(t)
  const inc = await open(test, desk, { aware_at: '2025-12-01T10:00:00+09:00', reporting_facts: { sensitive_personal_information: true } })
  const post = (path: string, body: object) => test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${inc.id}/${path}`, payload: body })

  const noGround = await post('disclosure-decisions', { decision: 'withhold', reason: '公表しない' })
  expectStatus(t, noGround, 422)
  t.same(
    noGround.json().errors.map((e: { pointer: string }) => e.pointer),
    ['body/exception'],
  )
  const withheld = await post('disclosure-decisions', {
    decision: 'withhold',
    exception: 'publication_would_widen_damage',
    reason: '回収前の公表は二次被害を招くおそれ',
  })
  expectStatus(t, withheld, 200)
  t.match(withheld.json().disclosure, { decision: 'withhold', exception: 'publication_would_widen_damage', decided_by: { id: 'desk-1' } })
  const published = await post('disclosure-decisions', { decision: 'publish', reason: '回収完了', published_on: todayInTokyo(), channel: '市ウェブサイト' })
  t.match(published.json().disclosure, { decision: 'publish', exception: null, channel: '市ウェブサイト' })

  expectStatus(t, await post('reports', { kind: 'first', submitted_on: '2025-11-30', content_summary: '速報' }), 422, 'not before the awareness date')
  const first = await post('reports', { kind: 'first', submitted_on: '2025-12-03', content_summary: '速報の内容', reference_number: 'PPC-2025-001' })
  expectStatus(t, first, 200)
  t.match(first.json().deadlines, { first_report: { status: 'met', filed_on: '2025-12-03' }, final_report: { status: 'overdue', filed_on: null } })
  expectStatus(t, await post('reports', { kind: 'first', submitted_on: '2025-12-04', content_summary: '二度目' }), 409)
  const final = await post('reports', { kind: 'final', submitted_on: '2026-01-05', content_summary: '確報の内容' })
  t.match(final.json().deadlines.final_report, { status: 'met', filed_on: '2026-01-05', due_date: '2026-01-05' })
  t.equal((await test.injectAs(auditor, { method: 'GET', url: `/v1/incidents/${inc.id}` })).json().reports[0].content_summary, null, 'contents redacted')

  for (const [body, pointers] of [
    [{ notified_on: '2025-12-05' }, ['body/method', 'body/persons']],
    [{ not_possible_reason: 'notification_difficult' }, ['body/alternative']],
    [{ notified_on: '2025-12-05', method: 'letter', persons: 1, alternative: 'publication' }, ['body/alternative']],
  ] as const) {
    const res = await post('notifications', body)
    expectStatus(t, res, 422, JSON.stringify(body))
    t.same(
      res.json().errors.map((e: { pointer: string }) => e.pointer),
      pointers,
    )
  }
  expectStatus(t, await post('notifications', { notified_on: '2025-12-05', method: 'letter', persons: 1 }), 200)
  const alternative = await post('notifications', {
    not_possible_reason: 'notification_difficult',
    alternative: 'publication',
    alternative_detail: '連絡先不明のため公表',
  })
  t.match(alternative.json().notifications, [
    { notified_on: '2025-12-05', method: 'letter', persons: 1 },
    { not_possible_reason: 'notification_difficult', alternative: 'publication' },
  ])
})

t.test('incident holds: placed when a recording is linked, released only through the closed incident', async (t) => {
  const test = await buildTestApp(t)
  const unit = await test.orgUnit('kokuho')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-k' }
  const rec = await register(test, sup)
  const inc = await open(test, desk, { records: [{ type: 'recording', id: rec.id }] })
  const other = await open(test, desk, { records: [{ type: 'recording', id: rec.id }] })
  const [hold, otherHold] = [inc.records[0].hold_id, other.records[0].hold_id]
  t.ok(hold && otherHold && hold !== otherHold, 'each incident holds it')

  const generic = await test.injectAs(rm, { method: 'POST', url: `/v1/recordings/${rec.id}/holds/${hold}/release`, payload: { reason: 'x' } })
  expectStatus(t, generic, 409, 'not released like other holds')
  t.match(generic.json().detail, `/v1/incidents/${inc.id}/holds/release`)
  const placed = await test.injectAs(rm, { method: 'POST', url: `/v1/recordings/${rec.id}/holds`, payload: { type: 'incident', reference: 'x' } })
  expectStatus(t, placed, 422, 'nor placed by hand')

  const release = (who: Identity) => test.injectAs(who, { method: 'POST', url: `/v1/incidents/${inc.id}/holds/release`, payload: { reason: '事案終結' } })
  expectStatus(t, await release(rm), 409, 'not while the incident is open')
  await test.injectAs(desk, { method: 'POST', url: `/v1/incidents/${inc.id}/close`, payload: { reason: '対応完了' } })
  expectStatus(t, await release(desk), 403, 'only a records manager releases')
  const released = await release(rm)
  expectStatus(t, released, 200)
  t.same(released.json(), { incident_id: inc.id, released_hold_ids: [hold] })
  t.same((await release(rm)).json().released_hold_ids, [], 'nothing left the second time')

  const holds = (await test.injectAs(rm, { method: 'GET', url: `/v1/recordings/${rec.id}/holds` })).json().items
  t.match(holds, [
    { id: hold, type: 'incident', reference: inc.id, status: 'released', released_by: { id: 'rm-1' }, release_reason: '事案終結' },
    { id: otherHold, type: 'incident', reference: other.id, status: 'active' },
  ])
  const recording = (await test.injectAs(rm, { method: 'GET', url: `/v1/recordings/${rec.id}` })).json()
  t.match(recording.retention, { on_hold: true, effective_end: null }, 'the other incident still keeps it')
})

t.test('drills are listed apart', async (t) => {
  const test = await buildTestApp(t)
  const real = await open(test, desk)
  const drill = await open(test, desk, { drill: true, reporting_facts: { financial_harm_risk: true } })
  t.match(drill.judgement, { reportable: false, reasons: ['financial_harm_risk'], exemption: 'drill' })
  const list = (query: string) =>
    test.injectAs(desk, { method: 'GET', url: `/v1/incidents${query}` }).then((r) => r.json().items.map((i: { id: string }) => i.id))
  t.same(await list(''), [real.id])
  t.same(await list('?drill=false'), [real.id])
  t.same(await list('?drill=true'), [drill.id])
})
