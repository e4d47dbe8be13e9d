import t from 'tap'
import { todayInTokyo } from '../../src/kernel/time.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

// 一人で対応しない means never alone: at least two responders wherever handling alone is forbidden,
// whatever the severity or channel (issue 10, item 1).
t.test('never alone: a case that may not be handled alone needs two responders at any severity, on any channel', async (t) => {
  const { injectAs, orgUnit } = await buildTestApp(t)
  const unit = await orgUnit('madoguchi-ka')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-a' }
  const create = async (extra: Record<string, unknown>) => {
    const res = await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: caseBody(extra) })
    expectStatus(t, res, 201)
    return res.json()
  }

  for (const [channel, severity] of [
    ['phone', 'low'],
    ['counter', 'medium'],
    ['email', 'low'],
  ] as const) {
    const c = await create({ channel, severity, categories: ['violence'] })
    t.equal(c.handled_alone_forbidden, true, `${channel}/${severity}: flagged 一人で対応しない`)
    t.match(
      c.responder_shortfall,
      { required: 2, actual: 1, policy_version_id: '00000000-0000-7000-8000-0000000000a3' },
      `${channel}/${severity}: one responder is a shortfall`,
    )
  }

  const harassment = await create({ channel: 'visit', severity: 'low', categories: ['sexual_harassment'] })
  t.match(harassment.responder_shortfall, { required: 2, actual: 1 }, 'sexual harassment too')
  const listed = await injectAs(staff, { method: 'GET', url: '/v1/cases' })
  t.match(
    listed.json().items.find((c: { id: string }) => c.id === harassment.id),
    { responder_shortfall: { required: 2, actual: 1 } },
    'in lists too',
  )

  const added = await injectAs(staff, { method: 'POST', url: `/v1/cases/${harassment.id}/responders`, payload: { subject: 'staff-b' } })
  expectStatus(t, added, 200)
  t.equal(added.json().responder_shortfall, null, 'the second responder clears it')

  const calm = await create({ channel: 'phone', severity: 'low', categories: ['verbal_abuse'] })
  t.equal(calm.responder_shortfall, null, 'a case that may be handled alone is not counted off the counter')

  // The number comes from the policy version in force.
  const version = await injectAs('admin', {
    method: 'POST',
    url: '/v1/policies/escalation/versions',
    payload: {
      effective_from: todayInTokyo(),
      body: {
        immediate_categories: ['violence', 'sexual_harassment'],
        min_responders: { channels: ['counter'], by_severity: { low: 1, medium: 1, high: 2, critical: 2 } },
        never_alone_min_responders: 3,
      },
      note: '暴力・セクハラは三名で対応',
    },
  })
  expectStatus(t, version, 201)
  const reread = await injectAs(staff, { method: 'GET', url: `/v1/cases/${harassment.id}` })
  t.match(reread.json().responder_shortfall, { required: 3, actual: 2, policy_version_id: version.json().id }, 'three under the new version')

  const refused = await injectAs('admin', {
    method: 'POST',
    url: '/v1/policies/escalation/versions',
    payload: {
      effective_from: todayInTokyo(),
      body: {
        immediate_categories: ['violence'],
        min_responders: { channels: ['counter'], by_severity: { low: 1, medium: 1, high: 2, critical: 2 } },
        never_alone_min_responders: 1,
      },
    },
  })
  t.ok([400, 422].includes(refused.statusCode), 'never alone is never one')
})
