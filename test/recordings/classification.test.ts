import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { insertPolicyVersion } from '../../src/policies/policies.repository.ts'
import type { RetentionRule } from '../../src/policies/policies.schemas.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { at, createCase, register } from '../helpers/fixtures.ts'
import { expectStatus } from '../helpers/expect.ts'

const doc = (record_category: string, years: 1 | 5 | 30, action: RetentionRule['action'] = 'dispose'): RetentionRule => ({
  record_category,
  classification: 'administrative_document',
  period: { unit: 'years', value: years },
  start: 'next_fiscal_year',
  action,
})

t.test('classification recomputes retention from the schedule in force, and is kept as history', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit, db } = test
  const unit = await orgUnit('bunsho')
  const rm: Identity = { roles: ['records_manager'], sub: 'rm-1', name: '文書 管理' }
  const desk: Identity = { roles: ['desk'], unit, sub: 'desk-1' }

  // A schedule of the municipality's own, in force from today (without a '*' rule for 'neither').
  const schedule = await insertPolicyVersion(db, {
    type: 'retention',
    effectiveFrom: todayInTokyo(),
    body: {
      rules: [
        doc('test_1y', 1),
        doc('test_5y', 5),
        doc('test_30y', 30, 'transfer'),
        { record_category: '*', classification: 'administrative_document', period: { unit: 'years', value: 10 }, start: 'next_fiscal_year', action: 'review' },
        { record_category: '*', classification: 'both', period: { unit: 'years', value: 5 }, start: 'next_fiscal_year', action: 'dispose' },
        { record_category: '*', classification: 'personal_information', period: { unit: 'days', value: 30 }, start: 'creation_date', action: 'dispose' },
      ],
    },
    note: 'test schedule',
    createdBy: 'test',
  })
  // A later version, not yet in force: classification today must not use it.
  await insertPolicyVersion(db, {
    type: 'retention',
    effectiveFrom: addDays(todayInTokyo(), 1),
    body: { rules: [doc('*', 1)] },
    note: 'tomorrow',
    createdBy: 'test',
  })

  const classify = (id: string, body: Record<string, unknown>, who: Identity = rm) =>
    injectAs(who, {
      method: 'PUT',
      url: `/v1/recordings/${id}/classification`,
      payload: { administrative_document: true, personal_information: false, reason: '組織的に用いる', ...body },
    })

  t.test('start and end for recordings made on 2025-03-31 and 2025-04-01 under 1, 5 and 30 years', async (t) => {
    const expected: Array<[string, string, string, 1 | 5 | 30, string, string]> = [
      // label, started_at, Tokyo date, years, 起算日, end
      ['2025-03-31 10:00', at('2025-03-31', '10:00'), '2025-03-31', 1, '2025-04-01', '2026-03-31'],
      ['2025-03-31 10:00', at('2025-03-31', '10:00'), '2025-03-31', 5, '2025-04-01', '2030-03-31'],
      ['2025-03-31 10:00', at('2025-03-31', '10:00'), '2025-03-31', 30, '2025-04-01', '2055-03-31'],
      ['2025-03-31 23:59 JST (14:59Z)', '2025-03-31T14:59:00Z', '2025-03-31', 5, '2025-04-01', '2030-03-31'],
      ['2025-04-01 00:01 JST (still 03-31 in UTC)', '2025-03-31T15:01:00Z', '2025-04-01', 5, '2026-04-01', '2031-03-31'],
      ['2025-04-01 10:00', at('2025-04-01', '10:00'), '2025-04-01', 1, '2026-04-01', '2027-03-31'],
      ['2025-04-01 10:00', at('2025-04-01', '10:00'), '2025-04-01', 5, '2026-04-01', '2031-03-31'],
      ['2025-04-01 10:00', at('2025-04-01', '10:00'), '2025-04-01', 30, '2026-04-01', '2056-03-31'],
    ]
    for (const [label, startedAt, date, years, start, end] of expected) {
      const rec = await register(test, desk, { started_at: startedAt })
      t.equal(rec.document_date, date, `${label}: created on ${date} in Tokyo`)
      const res = await classify(rec.id, { record_category: `test_${years}y` })
      expectStatus(t, res, 200)
      t.match(res.json().retention, { start, end, policy_version_id: schedule.id }, `${label}, ${years} years: ${start} – ${end}`)
      const why = (await injectAs(rm, { method: 'GET', url: `/v1/recordings/${rec.id}/retention` })).json()
      t.match(why, {
        document_date: date,
        document_date_basis: 'started_at',
        policy_version: { id: schedule.id, effective_from: todayInTokyo() },
        rule: { record_category: `test_${years}y`, period: { unit: 'years', value: years } },
        rule_match: 'exact',
        start,
        schedule_end: end,
        effective_end: end,
        action: years === 30 ? 'transfer' : 'dispose',
        holds: [],
      })
    }
  })

  t.test('history: the presumption at registration, then each decision with its reason and rule', async (t) => {
    const kase = await createCase(test, desk)
    const rec = await register(test, desk, { case_id: kase.id, started_at: at('2024-06-01') })
    t.match(rec.classification, { key: 'both', provisional: true })
    t.match(rec.retention, { start: '2025-04-01', end: '2030-03-31', policy_version_id: schedule.id }, "the '*' both rule: 5 years")

    const first = await classify(rec.id, { record_category: 'test_1y', reason: '市民課で組織的に用いる録音' })
    t.match(first.json(), {
      classification: { key: 'administrative_document', provisional: false, classified_by: { id: 'rm-1', display_name: '文書' } },
      retention: { end: '2026-03-31' },
    })
    const second = await classify(rec.id, { record_category: 'other_files', personal_information: true, reason: '個人が特定できる' })
    t.match(second.json().retention, { end: '2030-03-31' }, "falls back to the '*' rule for both")
    const wildcard = await classify(rec.id, { record_category: 'other_files', reason: '文書のみ' })
    t.match(wildcard.json().retention, { end: '2035-03-31', action: 'review' }, "'*' administrative_document: 10 years, review")

    const history = (await injectAs({ roles: ['auditor'] }, { method: 'GET', url: `/v1/recordings/${rec.id}/classifications` })).json().items
    t.equal(history.length, 4)
    t.match(history, [
      { provisional: true, key: 'both', classified_by: { id: 'system' }, retention: { rule_match: 'wildcard', end: '2030-03-31' } },
      {
        provisional: false,
        key: 'administrative_document',
        record_category: 'test_1y',
        reason: '市民課で組織的に用いる録音',
        retention: { rule_match: 'exact', end: '2026-03-31', policy_version_id: schedule.id },
      },
      { key: 'both', retention: { rule_match: 'wildcard', end: '2030-03-31' } },
      { key: 'administrative_document', retention: { end: '2035-03-31', action: 'review', rule: { record_category: '*' } } },
    ])
    const refused = await db
      .deleteFrom('recording_classifications')
      .where('recording_id', '=', rec.id)
      .execute()
      .then(
        () => 'deleted',
        (e: { code?: string }) => e.code,
      )
    t.equal(refused, '42501', 'the history is append-only in the database')
  })

  t.test('a classification the schedule has no rule for is 422; only records managers classify', async (t) => {
    const rec = await register(test, desk)
    const res = await classify(rec.id, { record_category: 'anything', administrative_document: false, personal_information: false })
    expectStatus(t, res, 422)
    t.same(res.json().errors, [{ pointer: 'body/record_category', message: 'no retention rule applies' }])
    for (const role of ['staff', 'supervisor', 'desk', 'auditor', 'integration'] as const) {
      expectStatus(t, await classify(rec.id, { record_category: 'test_1y' }, { roles: [role], unit }), 403, role)
    }
    const stale = await injectAs(rm, {
      method: 'PUT',
      url: `/v1/recordings/${rec.id}/classification`,
      headers: { 'if-match': '"v999"' },
      payload: { administrative_document: true, personal_information: false, record_category: 'test_1y', reason: 'x' },
    })
    expectStatus(t, stale, 412, 'If-Match is honoured when sent')
  })

  t.test('reclassification moves a recording between active and due', async (t) => {
    const old = await register(test, desk, { started_at: at('2019-05-10') })
    const due = await classify(old.id, { record_category: 'test_1y' })
    t.match(due.json(), { status: 'due', due_since: '2021-04-01', retention: { end: '2021-03-31' } }, 'FY2019 + 1 year ended long ago')
    const longer = await classify(old.id, { record_category: 'test_30y' })
    t.match(longer.json(), { status: 'active', due_since: null, retention: { end: '2050-03-31' } })
    const why = (await injectAs(rm, { method: 'GET', url: `/v1/recordings/${old.id}/retention` })).json()
    t.match(why.next, { step: 'transfer_due', on: '2050-04-01' })
    t.match(why.explanation.join('\n'), /起算日 2020-04-01: April 1 after fiscal year 2019/)
    const personal = await classify(old.id, { record_category: 'test_1y', administrative_document: false, personal_information: true })
    t.match(
      personal.json(),
      { status: 'active', retention: { start: '2019-05-10', end: '2019-06-08' } },
      'not a document: the sweep purges it, it is never "due" for people',
    )
    const next = (await injectAs(rm, { method: 'GET', url: `/v1/recordings/${old.id}/retention` })).json().next
    t.match(next, { step: 'purge', on: '2019-06-09' })
    const feed = await db.selectFrom('changes').select(['kind', 'data']).where('resource_id', '=', old.id).orderBy('id').execute()
    t.same(
      feed.map((c) => c.kind),
      ['recording.registered', 'recording.classified', 'recording.due', 'recording.classified', 'recording.classified'],
    )
    t.notMatch(JSON.stringify(feed), /顧客|03-1234/, 'no personal data in the change feed')
  })
})
