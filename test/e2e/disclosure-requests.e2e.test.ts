import t from 'tap'
import { runDeadlineRound } from '../../src/disclosure-requests/deadline-notices.ts'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { startSecondInstance, startTestServer, type Identity } from '../helpers/app.ts'
import { expectSome, expectStatus } from '../helpers/expect.ts'
import { caseBody, daysAgo, derivativeBody, disclosureRequestBody, pastReviewPeriod, recordingBody } from '../helpers/fixtures.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * Disclosure requests (開示請求) through the SDK generated from the contract, on a real port:
 * deadlines of both kinds under the national 30 days and an ordinance's 14, a correction that
 * stops the clock, the one extension, the office-holiday switch, the holds a request places and
 * their end, removal and appeal holds, a redaction derivative beside an untouched original, the
 * requester redacted for auditors, and the deadline notices published once across two instances.
 */
t.test('disclosure requests through the generated client', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const unit = await server.orgUnit('shiminka')
  const deskId: Identity = { roles: ['desk'], sub: 'desk-e', name: '田中 次郎' }
  const [desk, rmA, rmB, auditor, admin, sup] = await Promise.all(
    [
      deskId,
      { roles: ['records_manager' as const], sub: 'rm-a', name: '青木 一' },
      { roles: ['records_manager' as const], sub: 'rm-b', name: '伊藤 二' },
      { roles: ['auditor' as const], sub: 'aud-e' },
      { roles: ['admin' as const], sub: 'adm-e' },
      { roles: ['supervisor' as const], unit, sub: 'sup-e' },
    ].map((who) => server.client(who)),
  )
  const today = todayInTokyo()
  const request = async (extra: Record<string, unknown> = {}) => {
    const res = await desk!.POST('/v1/disclosure-requests', { body: disclosureRequestBody(extra) as never })
    expectStatus(t, res, 201)
    return res.data!
  }
  const path = (id: string) => ({ params: { path: { id } } })

  t.test('deadlines of both kinds under the national 30 days', async (t) => {
    const personal = await request({ kind: 'personal_information', received_date: '2025-06-02' })
    const information = await request({ kind: 'information_disclosure', received_date: '2025-06-02' })
    for (const r of [personal, information]) {
      t.equal(r.deadline.due_date, '2025-07-02', `${r.kind}: 2025-06-02 + 30 days`)
      const why = await auditor!.GET('/v1/disclosure-requests/{id}/deadline', path(r.id))
      t.match(why.data, { counted_from: '2025-06-03', rule: { decision_period_days: 30 }, period_days: 30, due_date: '2025-07-02' })
    }
  })

  t.test("an ordinance's 14 days, and the holiday switch on and off", async (t) => {
    // A closure on the 14th day, announced today; the ordinance moves information-disclosure
    // deadlines off office holidays and keeps personal-information deadlines on them.
    const day14 = addDays(today, 14)
    const closure = await admin!.POST('/v1/policies/calendar/versions', {
      body: { effective_from: today, body: { closures: [{ from: day14, to: day14, reason: '臨時閉庁' }] }, note: '臨時閉庁の告示' },
    })
    expectStatus(t, closure, 201)
    const rules = (roll: boolean) => ({ decision_period_days: 14, max_extension_days: 14, warning_days: 3, roll_forward_off_holidays: roll })
    const ordinance = await admin!.POST('/v1/policies/disclosure/versions', {
      body: {
        effective_from: today,
        body: { kinds: { personal_information: rules(false), information_disclosure: rules(true) } },
        note: '情報公開条例・個人情報保護法施行条例: 14日',
      },
    })
    expectStatus(t, ordinance, 201)
    const stays = await request({ kind: 'personal_information', received_date: today })
    const moves = await request({ kind: 'information_disclosure', received_date: today })
    t.equal(stays.deadline.due_date, day14, 'switch off: the deadline stays on the closed day')
    t.equal(stays.deadline.policy_version_id, ordinance.data!.id)
    const calendar = await desk!.GET('/v1/calendar/deadline', { params: { query: { start: today, days: 14, kind: 'filing' } } })
    t.ok(calendar.data!.due_date > day14)
    t.equal(moves.deadline.due_date, calendar.data!.due_date, 'switch on: the next working day, as the calendar counts it')
    const why = await desk!.GET('/v1/disclosure-requests/{id}/deadline', path(moves.id))
    t.match(why.data, {
      rule: { decision_period_days: 14, holidays: 'disclosure_policy' },
      raw_due_date: day14,
      raw_due_date_is_holiday: true,
      roll_forward: true,
    })
    expectSome(t, why.data!.skipped, (h) => h.date === day14 && h.reasons.some((r) => r.kind === 'closure'))
  })

  t.test('a correction stops the clock', async (t) => {
    const r = await request()
    const asked = await desk!.POST('/v1/disclosure-requests/{id}/request-correction', {
      ...path(r.id),
      body: { requested_on: '2025-06-05', reason: '対象の特定' },
    })
    t.match(asked.data, { status: 'correction_requested', deadline: { due_date: null, suspended: true } })
    const stopped = await desk!.GET('/v1/disclosure-requests/{id}/deadline', path(r.id))
    t.match(stopped.data, { suspended: true, due_date: null, state: 'suspended' })
    const answered = await desk!.POST('/v1/disclosure-requests/{id}/receive-correction', { ...path(r.id), body: { corrected_on: '2025-06-12' } })
    // 7 days (06-06 through 06-12) do not count: 2025-06-02 + 37 = 2025-07-09.
    t.match(answered.data, { status: 'received', deadline: { due_date: '2025-07-09' }, corrections: [{ excluded_days: 7 }] })
  })

  t.test('one extension, refused after the deadline and the second time', async (t) => {
    const r = await request()
    const late = await desk!.POST('/v1/disclosure-requests/{id}/extend', {
      ...path(r.id),
      body: { days: 30, reason: '大量', decided_on: '2025-07-03', notified_on: '2025-07-03' },
    })
    expectStatus(t, late, 409, 'decided after the deadline of 2025-07-02')
    const extended = await desk!.POST('/v1/disclosure-requests/{id}/extend', {
      ...path(r.id),
      body: { days: 30, reason: '対象文書が大量', decided_on: '2025-06-30', notified_on: '2025-07-01' },
    })
    t.match(extended.data, { status: 'extended', deadline: { due_date: '2025-08-01' }, extension: { days: 30, notified_on: '2025-07-01' } })
    const twice = await desk!.POST('/v1/disclosure-requests/{id}/extend', {
      ...path(r.id),
      body: { days: 5, reason: 'さらに', decided_on: '2025-07-10', notified_on: '2025-07-10' },
    })
    expectStatus(t, twice, 409, 'only once')
  })

  // Records: a case, an old case recording whose retention ended (due), a stray phone recording
  // past its 90 days (the sweep would purge it), and two fresh ones.
  const kase = (await desk!.POST('/v1/cases', { body: caseBody({ org_unit_id: unit }) as never })).data!
  const register = async (extra: Record<string, unknown>) => {
    const res = await rmA!.POST('/v1/recordings', { body: recordingBody({ org_unit_id: unit, ...extra }) as never })
    expectStatus(t, res, 201)
    return res.data!
  }
  const old = await register({ case_id: kase.id, started_at: '2015-06-01T10:00:00+09:00', ended_at: '2015-06-01T10:30:00+09:00' })
  const stray = await register({ started_at: daysAgo(120) })
  await pastReviewPeriod(server.db, stray.id) // registered long ago: no review period keeps it

  t.test('automatic holds: disposition and the sweep refused under them, and their decision-date end', async (t) => {
    const r = await request({ received_date: '2024-05-01' })
    for (const id of [old.id, stray.id]) {
      const added = await desk!.POST('/v1/disclosure-requests/{id}/records', { ...path(r.id), body: { type: 'recording', id } })
      expectStatus(t, added, 200)
    }
    const holds = await rmA!.GET('/v1/recordings/{id}/holds', path(old.id))
    t.match(holds.data?.items, [{ type: 'disclosure_request', reference: `開示請求 ${r.id}`, status: 'active', until: null }])
    const refused = await rmA!.POST('/v1/recordings/{id}/disposition', { ...path(old.id), body: { action: 'dispose', reason: '保存期間満了' } })
    expectStatus(t, refused, 409)
    t.match(refused.error, { holds: [{ type: 'disclosure_request' }] })
    await sweepRetention(server.db)
    t.equal((await rmA!.GET('/v1/recordings/{id}', path(stray.id))).data?.status, 'active', 'the sweep leaves a held recording alone')

    const decided = await desk!.POST('/v1/disclosure-requests/{id}/decide', {
      ...path(r.id),
      body: {
        decision: 'full_disclosure',
        decided_on: '2024-05-20',
        reason: '全部開示',
        items: [old.id, stray.id].map((id) => ({ record_type: 'recording' as const, record_id: id, outcome: 'disclosed' as const })),
      },
    })
    t.match(decided.data, { status: 'decided', decision: { decision: 'full_disclosure' } })
    const ended = await rmA!.GET('/v1/recordings/{id}/holds', path(old.id))
    // One year from the day after the decision of 2024-05-20: through 2025-05-20, now past.
    t.match(ended.data?.items, [{ decision_date: '2024-05-20', until: '2025-05-20', status: 'lapsed' }])
    t.match(await sweepRetention(server.db), { purged: 1 })
    t.equal((await rmA!.GET('/v1/recordings/{id}', path(stray.id))).data?.status, 'purged', 'once the hold ended, the sweep purges it')
    const proposed = await rmA!.POST('/v1/recordings/{id}/disposition', { ...path(old.id), body: { action: 'dispose', reason: '保存期間満了' } })
    expectStatus(t, proposed, 201)
    const approved = await rmB!.POST('/v1/dispositions/{id}/approve', { ...path(proposed.data!.id), body: {} })
    t.equal(approved.data?.status, 'executed')
  })

  t.test('removing a recording from an open request releases its hold', async (t) => {
    const rec = await register({ started_at: daysAgo(3) })
    const r = await request()
    const added = await desk!.POST('/v1/disclosure-requests/{id}/records', { ...path(r.id), body: { type: 'recording', id: rec.id } })
    const entry = added.data!.records[0]!
    const removed = await desk!.POST('/v1/disclosure-requests/{id}/records/{entryId}/remove', {
      params: { path: { id: r.id, entryId: entry.id } },
      body: { reason: '別の請求で対応' },
    })
    t.match(removed.data?.records, [{ id: entry.id, removal_reason: '別の請求で対応' }])
    const holds = await rmA!.GET('/v1/recordings/{id}/holds', path(rec.id))
    t.match(holds.data?.items, [{ id: entry.hold_id, status: 'released', release_reason: /別の請求で対応/ }])
  })

  t.test('partial disclosure through a derivative, an appeal hold, the requester redacted for auditors', async (t) => {
    const rec = await register({ started_at: daysAgo(2) })
    const before = (await rmA!.GET('/v1/recordings/{id}', path(rec.id))).data!
    const derivative = await rmA!.POST('/v1/recordings/{id}/derivatives', { ...path(rec.id), body: derivativeBody(rec) as never })
    expectStatus(t, derivative, 201)
    const after = (await rmA!.GET('/v1/recordings/{id}', path(rec.id))).data!
    t.same(
      { sha256: after.sha256, storage_uri: after.storage_uri, version: after.version, updated_at: after.updated_at },
      { sha256: before.sha256, storage_uri: before.storage_uri, version: before.version, updated_at: before.updated_at },
      "the original's hash and storage are untouched",
    )
    t.not(derivative.data!.sha256, before.sha256)
    t.equal(derivative.data!.original_sha256, before.sha256)

    const r = await request()
    await desk!.POST('/v1/disclosure-requests/{id}/records', { ...path(r.id), body: { type: 'recording', id: rec.id } })
    const decided = await desk!.POST('/v1/disclosure-requests/{id}/decide', {
      ...path(r.id),
      body: {
        decision: 'partial_disclosure',
        decided_on: '2025-06-20',
        reason: '第三者の音声を除き開示',
        items: [
          {
            record_type: 'recording',
            record_id: rec.id,
            outcome: 'partially_disclosed',
            derivative_id: derivative.data!.id,
            grounds: ['個人情報保護法第78条第1項第2号'],
          },
        ],
      },
    })
    expectStatus(t, decided, 200)
    const handed = await desk!.POST('/v1/disclosure-requests/{id}/handovers', {
      ...path(r.id),
      body: { record_type: 'recording', record_id: rec.id, derivative_id: derivative.data!.id, method: 'media_grant' },
    })
    expectStatus(t, handed, 201)
    t.match(handed.data, { grant: { derivative_id: derivative.data!.id, sha256: derivative.data!.sha256 }, request: { status: 'disclosed' } })

    const appealed = await desk!.POST('/v1/disclosure-requests/{id}/appeal', { ...path(r.id), body: { filed_on: '2025-07-01', reason: '不開示部分に不服' } })
    t.match(appealed.data, { status: 'under_appeal', appeal: { filed_on: '2025-07-01', outcome: null } })
    const appealHold = appealed.data!.records[0]!.appeal_hold_id!
    const holds = await rmA!.GET('/v1/recordings/{id}/holds', path(rec.id))
    t.match(holds.data?.items, [
      { type: 'disclosure_request', decision_date: '2025-06-20', until: '2026-06-20' },
      { id: appealHold, type: 'appeal', status: 'active', until: null },
    ])
    const outcome = await desk!.POST('/v1/disclosure-requests/{id}/appeal-outcome', {
      ...path(r.id),
      body: { outcome: 'rejected', decided_on: '2025-09-01', reason: '原処分維持' },
    })
    t.match(outcome.data, { status: 'appeal_decided', appeal: { outcome: 'rejected', decided_on: '2025-09-01' } })
    const dated = await rmA!.GET('/v1/recordings/{id}/holds', path(rec.id))
    t.match(dated.data?.items?.[1], { id: appealHold, decision_date: '2025-09-01', until: '2026-09-01' }, 'ended by the outcome date plus a year')

    const forDesk = await desk!.GET('/v1/disclosure-requests/{id}', path(r.id))
    t.match(forDesk.data, { requester: { name: '開示 花子' }, requester_redacted: false })
    const forAuditor = await auditor!.GET('/v1/disclosure-requests/{id}', path(r.id))
    t.match(forAuditor.data, {
      requester: null,
      requester_redacted: true,
      decision: { items: [{ derivative_id: derivative.data!.id, grounds: ['個人情報保護法第78条第1項第2号'] }] },
    })
    const forSupervisor = await sup!.GET('/v1/disclosure-requests/{id}', path(r.id))
    t.match(forSupervisor.data, { requester: null, requester_redacted: true }, "a supervisor of the recording's unit reads it, redacted")
  })

  t.test('deadline notices are published once across two instances', async (t) => {
    const other = await startSecondInstance(t, server)
    const rounds = (day: string) => Promise.all([server.db, other.db, server.db, other.db].map((db) => runDeadlineRound(db, { today: day })))
    await rounds('2025-06-28')
    await rounds('2025-06-29')
    await rounds('2025-07-03')
    await rounds('2025-07-04')
    const feed = await auditor!.GET('/v1/changes', { params: { query: { after: 0, limit: 1000 } } })
    const notices = feed.data!.items.filter((c) => c.kind.startsWith('disclosure_request.deadline_'))
    const counts = new Map<string, number>()
    for (const c of notices) {
      const key = `${c.resource_id} ${c.kind} ${String(c.data.due_date)}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    t.ok(notices.length >= 4, `${notices.length} notices`)
    t.same(
      [...counts.entries()].filter(([, n]) => n !== 1),
      [],
      'each notice of each deadline once',
    )
    const running = await desk!.GET('/v1/disclosure-requests', { params: { query: { due_before: '2025-07-04', limit: 200 } } })
    for (const r of running.data!.items) {
      t.equal(counts.get(`${r.id} disclosure_request.deadline_approaching ${r.deadline.due_date}`), 1, `${r.id}: approaching once`)
      t.equal(counts.get(`${r.id} disclosure_request.deadline_missed ${r.deadline.due_date}`), 1, `${r.id}: missed once`)
    }
    t.ok(running.data!.items.length >= 2)
  })
})
