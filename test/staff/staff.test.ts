import t from 'tap'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectEvery } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

t.test('staff names are kept from their tokens and follow changes, without locking on every request', async (t) => {
  const { injectAs, orgUnit, db } = await buildTestApp(t)
  const unit = await orgUnit('koseki')
  const before: Identity = { roles: ['staff'], unit, sub: 'staff-7', name: '高橋 美咲', familyName: '高橋' }
  const c = (
    await injectAs(before, {
      method: 'POST',
      url: '/v1/cases',
      payload: caseBody({ channel: 'counter', occurred_at: new Date().toISOString(), categories: ['other'], severity: 'low', summary: '改姓の確認' }),
    })
  ).json()
  t.same(c.created_by, { id: 'staff-7', display_name: '高橋' })

  // The same person, renamed (e.g. after marriage): the next write updates the profile.
  const after: Identity = { ...before, name: '伊藤 美咲', familyName: '伊藤' }
  const event = await injectAs(after, {
    method: 'POST',
    url: `/v1/cases/${c.id}/events`,
    payload: { type: 'note', occurred_at: new Date().toISOString(), description: '氏名変更後' },
  })
  t.same(event.json().actor, { id: 'staff-7', display_name: '伊藤' })
  const profile = await db.selectFrom('staff_profiles').selectAll().where('subject', '=', 'staff-7').executeTakeFirstOrThrow()
  t.match(profile, { full_name: '伊藤 美咲', family_name: '伊藤', business_name: null })

  // Concurrent writes by one person neither fail nor duplicate the profile.
  const results = await Promise.all(
    Array.from({ length: 8 }, () =>
      injectAs(after, {
        method: 'POST',
        url: `/v1/cases/${c.id}/events`,
        payload: { type: 'note', occurred_at: new Date().toISOString(), description: '同時' },
      }),
    ),
  )
  expectEvery(t, results, (r) => r.statusCode === 201)
  const count = await db.selectFrom('staff_profiles').select(db.fn.countAll().as('n')).where('subject', '=', 'staff-7').executeTakeFirstOrThrow()
  t.equal(Number(count.n), 1)
})
