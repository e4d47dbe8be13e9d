import t from 'tap'
import { warnIncidentDeadlines } from '../../src/incidents/deadline-warnings.ts'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { type ApiClient, type Identity, startSecondInstance, startTestServer } from '../helpers/app.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'
import { caseBody, daysAgo, incidentBody, pastReviewPeriod, recordingBody } from '../helpers/fixtures.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * Leak incidents (漏えい等) through the SDK generated from the contract, on a real port: the
 * reporting duty and its deadlines, one owner, closing, the holds that keep the evidence from the
 * sweep and from disposition, drills, redaction for auditors, and deadline warnings published
 * once by two instances of the service on one database.
 */

const desk: Identity = { roles: ['desk'], sub: 'desk-e', name: '相談 窓口' }
const rmA: Identity = { roles: ['records_manager'], sub: 'rm-a', name: '青木 一' }
const rmB: Identity = { roles: ['records_manager'], sub: 'rm-b', name: '伊藤 二' }
const auditor: Identity = { roles: ['auditor'], sub: 'aud-e' }

async function open(api: ApiClient, extra: Record<string, unknown> = {}) {
  const res = await api.POST('/v1/incidents', { body: incidentBody(extra) as never })
  if (!res.data) throw new Error(`open: ${res.response.status} ${JSON.stringify(res.error)}`)
  return res.data
}

t.test('the reporting duty: each reason and none, the threshold, encryption, the deadlines', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const d = await server.client(desk)

  const none = await open(d)
  t.match(none.judgement, { reportable: false, reasons: [], exemption: null }, 'one person, nothing sensitive: not reportable')
  t.equal(none.deadlines, null)

  for (const [facts, reason] of [
    [{ sensitive_personal_information: true }, 'sensitive_personal_information'],
    [{ financial_harm_risk: true }, 'financial_harm_risk'],
    [{ wrongful_purpose_suspected: true }, 'wrongful_purpose'],
  ] as const) {
    const inc = await open(d, { reporting_facts: facts })
    t.match(inc.judgement, { reportable: true, reasons: [reason], exemption: null }, reason)
  }

  const hundred = await open(d, { persons_affected: 100 })
  t.match(hundred.judgement, { reportable: false, reasons: [] }, '100 persons: not more than the threshold')
  const hundredOne = await open(d, { persons_affected: 101 })
  t.match(hundredOne.judgement, { reportable: true, reasons: ['persons_over_threshold'] }, '101 persons: reportable')

  const encrypted = await open(d, { persons_affected: 5000, reporting_facts: { sensitive_personal_information: true, strongly_encrypted: true } })
  t.match(
    encrypted.judgement,
    { reportable: false, reasons: ['sensitive_personal_information', 'persons_over_threshold'], exemption: 'strong_encryption' },
    'strong encryption exempts, and the grounds it exempts are named',
  )

  // Day 1 is the day of becoming aware; a due date on an office holiday moves to the next office day.
  const normal = await open(d, { aware_at: '2025-12-01T09:30:00+09:00', reporting_facts: { sensitive_personal_information: true } })
  t.match(normal.deadlines, {
    day_one_rule: 'awareness_date',
    roll_forward_office_holidays: true,
    first_report: { days: 5, day_one: '2025-12-01', raw_due_date: '2025-12-05', due_date: '2025-12-05', moved_over: [] },
    final_report: {
      days: 30,
      day_one: '2025-12-01',
      raw_due_date: '2025-12-30',
      due_date: '2026-01-05',
      moved_over: ['2025-12-30', '2025-12-31', '2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04'],
    },
  })
  const wrongful = await open(d, { aware_at: '2025-12-03T16:00:00+09:00', reporting_facts: { wrongful_purpose_suspected: true } })
  t.match(wrongful.deadlines, {
    first_report: { days: 5, raw_due_date: '2025-12-07', due_date: '2025-12-08', moved_over: ['2025-12-07'] },
    final_report: { days: 60, raw_due_date: '2026-01-31', due_date: '2026-02-02', moved_over: ['2026-01-31', '2026-02-01'] },
  })
  t.equal(wrongful.deadlines?.final_report.status, 'overdue', 'nothing filed: overdue')

  // The ordinance's own sensitive categories come from the response plan.
  const admin = await server.client({ roles: ['admin'], sub: 'admin-e' })
  const plan = await admin.POST('/v1/policies/incident_response/versions', {
    body: {
      effective_from: todayInTokyo(),
      note: '条例要配慮個人情報',
      body: {
        contacts: [],
        persons_threshold: 100,
        ordinance_sensitive_categories: [{ code: 'sexual_orientation', label: '性的指向・性自認に関する情報' }],
        reporting: {
          first_report_days: 5,
          final_report_days: 30,
          final_report_days_wrongful_purpose: 60,
          day_one: 'awareness_date',
          roll_forward_office_holidays: true,
          warn_days_before: 2,
        },
      },
    },
  })
  expectStatus(t, plan, 201)
  const ordinance = await open(d, { aware_at: new Date().toISOString(), reporting_facts: { ordinance_sensitive_categories: ['sexual_orientation'] } })
  t.match(ordinance.judgement, { reportable: true, reasons: ['ordinance_sensitive_information'], policy_version_id: plan.data?.id })
})

t.test('one owner changed by a handover; no closing with an open action; auditors read it redacted', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const unit = await server.orgUnit('shiminka')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-e', name: '山田 太郎' }
  const [s, d, aud] = await Promise.all([server.client(staff), server.client(desk), server.client(auditor)])

  const inc = await open(s, { team: [{ subject: 'desk-e', role: 'public_relations' }] })
  t.equal(inc.owner.id, 'staff-e')
  const handover = await s.POST('/v1/incidents/{id}/handover', { params: { path: { id: inc.id } }, body: { to: 'desk-e', reason: '相談窓口に一本化' } })
  expectStatus(t, handover, 200)
  t.equal(handover.data?.owner.id, 'desk-e')
  const history = await aud.GET('/v1/incidents/{id}/handovers', { params: { path: { id: inc.id } } })
  t.match(history.data?.items, [{ from: { id: 'staff-e' }, to: { id: 'desk-e' }, reason: '相談窓口に一本化', handed_over_by: { id: 'staff-e' } }])

  const action = await d.POST('/v1/incidents/{id}/actions', {
    params: { path: { id: inc.id } },
    body: { kind: 'containment', title: '誤送信メールの削除依頼', owner: 'desk-e', due_on: todayInTokyo() },
  })
  expectStatus(t, action, 201)
  const refused = await d.POST('/v1/incidents/{id}/close', { params: { path: { id: inc.id } }, body: { reason: '対応完了' } })
  expectStatus(t, refused, 409, 'an open action keeps the incident open')
  t.equal(refused.error?.code, 'conflict')
  const done = await d.PATCH('/v1/incidents/{id}/actions/{actionId}', {
    params: { path: { id: inc.id, actionId: action.data!.id } },
    body: { status: 'done' },
  })
  t.equal(done.data?.status, 'done')
  const closed = await d.POST('/v1/incidents/{id}/close', { params: { path: { id: inc.id } }, body: { reason: '対応完了' } })
  expectStatus(t, closed, 200)
  t.equal(closed.data?.status, 'closed')

  const fact = await d.GET('/v1/incidents/{id}', { params: { path: { id: inc.id } } })
  t.equal(fact.data?.summary, incidentBody().summary, 'the desk reads what happened')
  const redacted = await aud.GET('/v1/incidents/{id}', { params: { path: { id: inc.id } } })
  t.match(redacted.data, { summary: null, discovery: null, personal_data_redacted: true, owner: { id: 'desk-e' }, status: 'closed' })
  const listed = await aud.GET('/v1/incidents', {})
  expectEvery(t, listed.data?.items ?? [], (i) => i.summary === null && i.personal_data_redacted, 'redacted in lists too')
})

t.test(
  'incident holds keep the evidence from the sweep and from disposition; drills hold nothing and are never reportable',
  { skip: databaseIndependent },
  async (t) => {
    const server = await startTestServer(t)
    const unit = await server.orgUnit('denwa')
    const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-e' }
    const [su, d, a, b] = await Promise.all([server.client(sup), server.client(desk), server.client(rmA), server.client(rmB)])

    // Personal information only, past its 90 days: the sweep would purge it. A case recording of
    // 2015: due for a two-person disposal.
    const expired = (await su.POST('/v1/recordings', { body: recordingBody({ started_at: daysAgo(120) }) as never })).data!
    const practice = (await su.POST('/v1/recordings', { body: recordingBody({ started_at: daysAgo(130) }) as never })).data!
    await pastReviewPeriod(server.db, expired.id, practice.id) // registered long ago: no review period keeps them
    const kase = (await su.POST('/v1/cases', { body: caseBody() as never })).data!
    const old = (
      await su.POST('/v1/recordings', {
        body: recordingBody({ case_id: kase.id, started_at: '2015-06-01T10:00:00+09:00', ended_at: '2015-06-01T10:30:00+09:00' }) as never,
      })
    ).data!
    t.equal(old.status, 'due')

    const inc = await open(d, {
      records: [
        { type: 'recording', id: expired.id },
        { type: 'recording', id: old.id },
        { type: 'case', id: kase.id },
      ],
    })
    expectEvery(
      t,
      inc.records.filter((r) => r.type === 'recording'),
      (r) => r.hold_id !== null,
      'every linked recording is held',
    )
    const drill = await open(d, {
      drill: true,
      persons_affected: 5000,
      reporting_facts: { sensitive_personal_information: true },
      records: [{ type: 'recording', id: practice.id }],
    })
    t.match(
      drill.judgement,
      { reportable: false, exemption: 'drill', reasons: ['sensitive_personal_information', 'persons_over_threshold'] },
      'a drill is never reportable',
    )
    t.equal(drill.deadlines, null)
    t.equal(drill.records[0]?.hold_id, null, 'a drill holds no real record')
    const practiceHolds = await a.GET('/v1/recordings/{id}/holds', { params: { path: { id: practice.id } } })
    t.same(practiceHolds.data?.items, [])

    const real = await d.GET('/v1/incidents', { params: { query: {} } })
    t.same(
      real.data?.items.map((i) => i.id),
      [inc.id],
      'drills are listed apart',
    )
    const drills = await d.GET('/v1/incidents', { params: { query: { drill: true } } })
    t.same(
      drills.data?.items.map((i) => i.id),
      [drill.id],
    )

    const swept = await sweepRetention(server.db)
    t.equal(swept.purged, 1, 'the sweep purges only what no hold keeps')
    t.equal((await a.GET('/v1/recordings/{id}', { params: { path: { id: expired.id } } })).data?.status, 'active', 'the held recording stays')
    t.equal((await a.GET('/v1/recordings/{id}', { params: { path: { id: practice.id } } })).data?.status, 'purged', "the drill's recording was not held")

    const proposal = await a.POST('/v1/recordings/{id}/disposition', { params: { path: { id: old.id } }, body: { action: 'dispose', reason: '保存期間満了' } })
    expectStatus(t, proposal, 409, 'no disposition while the incident holds it')
    t.match(proposal.error, { holds: [{ type: 'incident', reference: inc.id }] })

    const early = await a.POST('/v1/incidents/{id}/holds/release', { params: { path: { id: inc.id } }, body: { reason: '事案終結' } })
    expectStatus(t, early, 409, 'not released while the incident is open')
    expectStatus(t, await d.POST('/v1/incidents/{id}/close', { params: { path: { id: inc.id } }, body: { reason: '対応完了' } }), 200)
    const released = await a.POST('/v1/incidents/{id}/holds/release', { params: { path: { id: inc.id } }, body: { reason: '事案終結' } })
    t.equal(released.data?.released_hold_ids.length, 2)

    const swept2 = await sweepRetention(server.db)
    t.equal(swept2.purged, 1, 'released: the sweep purges it now')
    const proposed = await a.POST('/v1/recordings/{id}/disposition', { params: { path: { id: old.id } }, body: { action: 'dispose', reason: '保存期間満了' } })
    expectStatus(t, proposed, 201)
    const approved = await b.POST('/v1/dispositions/{id}/approve', { params: { path: { id: proposed.data!.id } }, body: {} })
    t.equal(approved.data?.status, 'executed')
  },
)

t.test('deadline warnings on the feed, once each, with two instances of the service at work', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const second = await startSecondInstance(t, server)
  const d = await server.client(desk)

  const late = await open(d, { aware_at: '2025-12-01T09:30:00+09:00', reporting_facts: { sensitive_personal_information: true } })
  const soon = await open(d, { aware_at: daysAgo(1), reporting_facts: { financial_harm_risk: true } })
  const filed = await open(d, { aware_at: '2025-12-01T09:30:00+09:00', reporting_facts: { wrongful_purpose_suspected: true } })
  await d.POST('/v1/incidents/{id}/reports', {
    params: { path: { id: filed.id } },
    body: { kind: 'final', submitted_on: '2025-12-04', content_summary: '速報を兼ねた確報' },
  })
  await open(d, { drill: true, aware_at: '2025-12-01T09:30:00+09:00', reporting_facts: { sensitive_personal_information: true } })
  await open(d, { aware_at: '2025-12-01T09:30:00+09:00' })

  // Two days: the first report of `soon` comes due (within its two warning days), then it is overdue.
  const firstDue = soon.deadlines!.first_report.due_date
  const days = [addDays(firstDue, -1), addDays(firstDue, 1)]
  const published: number[] = []
  for (const today of days) {
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([server.db, second.db, server.db, second.db].map((db) => warnIncidentDeadlines(db, { today })))
      published.push(...results.map((r) => r.published))
    }
  }

  const expected = [
    `${late.id} first_report 2025-12-05 incident.report_overdue`,
    `${late.id} final_report 2026-01-05 incident.report_overdue`,
    `${soon.id} first_report ${firstDue} incident.report_due`,
    `${soon.id} first_report ${firstDue} incident.report_overdue`,
  ].sort()
  t.equal(
    published.reduce((a, b) => a + b, 0),
    expected.length,
    'the instances published each warning once between them',
  )
  for (const [name, client] of [
    ['first instance', await server.client(auditor)],
    ['second instance', await second.client(auditor)],
  ] as const) {
    const feed = await client.GET('/v1/changes', { params: { query: { after: 0, limit: 1000 } } })
    expectStatus(t, feed, 200)
    const warnings = (feed.data?.items ?? [])
      .filter((c) => c.kind === 'incident.report_due' || c.kind === 'incident.report_overdue')
      .map((c) => `${c.resource_id} ${(c.data as { deadline: string }).deadline} ${(c.data as { due_date: string }).due_date} ${c.kind}`)
      .sort()
    t.same(warnings, expected, `${name}: every warning once, none for drills, reports filed or incidents not reportable`)
  }
  const view = await d.GET('/v1/incidents/{id}', { params: { path: { id: filed.id } } })
  t.match(
    view.data?.deadlines,
    { first_report: { status: 'met', filed_on: '2025-12-04' }, final_report: { status: 'met' } },
    'a final report meets both deadlines',
  )
})
