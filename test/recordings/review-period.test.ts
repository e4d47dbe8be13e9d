import t from 'tap'
import { addDays, todayInTokyo, tokyoDate } from '../../src/kernel/time.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { daysAgo, register } from '../helpers/fixtures.ts'

// No automatic purge before a person could look (issue 10, item 2): an unclassified recording is
// kept at least a review period (retention policy, default 30 days) after its registration.
t.test('an unclassified recording is never purged before the review period after its registration', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit, db } = test
  const unit = await orgUnit('denwa-review')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-r' }
  const rm: Identity = { roles: ['records_manager'], sub: 'rm-r' }
  const today = todayInTokyo()
  const reviewUntil = addDays(today, 29)

  // Recorded 120 days ago, registered today: its 90 days of personal information are long over.
  const old = await register(test, sup, { started_at: daysAgo(120) })
  t.match(old.retention, { end: reviewUntil, review_until: reviewUntil }, 'kept through the 30th day from registration')
  t.equal(old.classification.provisional, true)

  const first = await sweepRetention(db)
  t.equal(first.purged, 0, 'the next sweep purges nothing')
  const still = await injectAs(sup, { method: 'GET', url: `/v1/recordings/${old.id}` })
  t.match(still.json(), { status: 'active', storage_uri: old.storage_uri }, 'the media address is kept')

  const explained = (await injectAs(rm, { method: 'GET', url: `/v1/recordings/${old.id}/retention` })).json()
  t.match(explained, {
    schedule_end: addDays(tokyoDate(new Date(old.started_at)), 89),
    review_until: reviewUntil,
    effective_end: reviewUntil,
    next: { step: 'purge', on: addDays(today, 30) },
  })
  t.ok(
    explained.explanation.some((line: string) => line.includes(reviewUntil) && line.includes('review period') && line.includes(today)),
    `the explanation says the date and why: ${explained.explanation.join(' / ')}`,
  )

  t.equal((await sweepRetention(db, { today: reviewUntil })).purged, 0, 'not on the last day of the review period')
  t.equal((await sweepRetention(db, { today: addDays(today, 30) })).purged, 1, 'from the day after, the sweep purges it')

  t.test('the due list shows the review date of an unclassified recording', async (t) => {
    const due = await register(test, sup, { started_at: daysAgo(200) })
    // As if registered 40 days ago (the review period ended ten days ago).
    const ended = addDays(today, -11)
    await db.updateTable('recordings').set({ review_until: ended, retention_end: ended }).where('id', '=', due.id).execute()
    const list = (await injectAs(rm, { method: 'GET', url: `/v1/dispositions/due?org_unit_id=${unit}` })).json().items
    t.match(
      list.find((d: { recording_id: string }) => d.recording_id === due.id),
      { review_until: ended, effective_end: ended, due_since: addDays(ended, 1), action_due: 'purge' },
    )
  })

  t.test("a records manager's classification may make it purgeable at once", async (t) => {
    const stray = await register(test, sup, { started_at: daysAgo(120) })
    const classified = await injectAs(rm, {
      method: 'PUT',
      url: `/v1/recordings/${stray.id}/classification`,
      payload: {
        administrative_document: false,
        personal_information: true,
        record_category: 'interaction_recording',
        reason: '確認済み: 案件に使われていない',
      },
    })
    expectStatus(t, classified, 200)
    const startDate = tokyoDate(new Date(stray.started_at))
    t.match(classified.json().retention, { end: addDays(startDate, 89), review_until: null })
    const explained = (await injectAs(rm, { method: 'GET', url: `/v1/recordings/${stray.id}/retention` })).json()
    t.match(explained, { review_until: null, next: { step: 'purge', on: addDays(startDate, 90) } })
    await sweepRetention(db)
    const row = await db.selectFrom('recordings').select(['status']).where('id', '=', stray.id).executeTakeFirstOrThrow()
    t.equal(row.status, 'purged', 'purged by the next sweep')
  })

  t.test('the review period is a retention-policy value', async (t) => {
    const inForce = (await injectAs('admin', { method: 'GET', url: '/v1/policies/retention' })).json()
    const created = await injectAs('admin', {
      method: 'POST',
      url: '/v1/policies/retention/versions',
      payload: { effective_from: today, body: { ...inForce.body, review_period_days: 45 }, note: '見直し期間 45日' },
    })
    expectStatus(t, created, 201)
    const later = await register(test, sup, { started_at: daysAgo(120) })
    t.match(later.retention, { end: addDays(today, 44), review_until: addDays(today, 44), policy_version_id: created.json().id })
  })
})
