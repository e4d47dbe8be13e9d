import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { escalationFor } from '../../src/policies/policies.decisions.ts'
import { findRule } from '../../src/recordings/retention.ts'
import { policyInForce } from '../../src/policies/policies.repository.ts'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

// Decisions take the version in force at the moment that matters and answer with its id.
t.test('decisions follow the version in force at the moment that matters, and name it', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  const today = todayInTokyo()
  const later = addDays(today, 10)

  const created = await injectAs('admin', {
    method: 'POST',
    url: '/v1/policies/escalation/versions',
    payload: {
      effective_from: later,
      body: {
        immediate_categories: ['violence', 'sexual_harassment', 'intimidation'],
        min_responders: { channels: ['counter', 'visit'], by_severity: { low: 1, medium: 2, high: 2, critical: 3 } },
      },
      note: '威嚇・脅迫も即時エスカレーション',
    },
  })
  expectStatus(t, created, 201)

  const counterCase = { categories: ['intimidation', 'verbal_abuse'], channel: 'counter', severity: 'critical' } as const
  const now = escalationFor(await policyInForce(db, 'escalation', today), counterCase)
  t.same(
    now,
    { escalate_immediately: false, because_of: [], min_responders: 2, policy_version_id: '00000000-0000-7000-8000-0000000000a3' },
    'today: the default',
  )
  const then = escalationFor(await policyInForce(db, 'escalation', later), counterCase)
  t.same(
    then,
    { escalate_immediately: true, because_of: ['intimidation'], min_responders: 3, policy_version_id: created.json().id },
    'from its date: the new version',
  )
  t.equal(
    escalationFor(await policyInForce(db, 'escalation', later), { categories: ['verbal_abuse'], channel: 'phone', severity: 'critical' }).min_responders,
    1,
    'responders are counted at the counter and visits only',
  )
  t.equal(
    escalationFor(await policyInForce(db, 'escalation', later), { categories: ['violence'], channel: 'phone', severity: 'low' }).min_responders,
    2,
    'but never alone is at least two on any channel (一人で対応しない)',
  )

  const retention = await policyInForce(db, 'retention', today)
  t.equal(retention.id, '00000000-0000-7000-8000-0000000000a4', 'the shipped retention schedule is in force')
  t.match(findRule(retention.body.rules, 'case_recording', 'administrative_document'), {
    rule: { record_category: 'case_recording', period: { unit: 'years', value: 5 }, start: 'next_fiscal_year', action: 'dispose' },
    match: 'exact',
  })
  t.match(
    findRule(retention.body.rules, 'phone_recording', 'personal_information'),
    {
      rule: { record_category: '*', period: { unit: 'days', value: 90 }, start: 'creation_date', action: 'dispose' },
      match: 'wildcard',
    },
    "a category without a rule of its own takes the classification's '*' rule",
  )
})
