import { sql } from 'kysely'
import t from 'tap'
import { todayInTokyo } from '../../src/kernel/time.ts'
import { insertPolicyVersion } from '../../src/policies/policies.repository.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectEvery, expectSome, expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString()

t.test('the chronological record', async (t) => {
  const { injectAs, orgUnit, db } = await buildTestApp(t)
  const unit = await orgUnit('madoguchi')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-1', name: '山田 太郎', familyName: '山田', businessName: 'ヤマ' }
  const c = (
    await injectAs(staff, {
      method: 'POST',
      url: '/v1/cases',
      payload: caseBody({ occurred_at: minutesAgo(60), severity: 'low', summary: '電話での暴言' }),
    })
  ).json()
  const post = (payload: Record<string, unknown>, who: Identity = staff) => injectAs(who, { method: 'POST', url: `/v1/cases/${c.id}/events`, payload })

  t.test('occurred_at may be past, not future; recorded_at is the server time', async (t) => {
    const when = minutesAgo(50)
    const past = await post({ type: 'contact', occurred_at: when, description: '折り返し電話' })
    expectStatus(t, past, 201)
    t.equal(past.json().occurred_at, when)
    t.ok(Date.now() - Date.parse(past.json().recorded_at) < 10_000)
    const future = await post({ type: 'contact', occurred_at: new Date(Date.now() + 3600_000).toISOString(), description: 'x' })
    expectStatus(t, future, 422)
    t.same(future.json().errors, [{ pointer: 'body/occurred_at', message: 'is in the future' }])
    const skewed = await post({ type: 'contact', occurred_at: new Date(Date.now() + 30_000).toISOString(), description: 'clock a little ahead' })
    expectStatus(t, skewed, 201, 'small clock skew is tolerated')
  })

  t.test('system event types cannot be posted; corrections must name an event of this case', async (t) => {
    expectStatus(t, await post({ type: 'escalation', occurred_at: minutesAgo(1), description: 'x' }), 422)
    expectStatus(t, await post({ type: 'correction', occurred_at: minutesAgo(1), description: 'x' }), 422)
    expectStatus(t, await post({ type: 'note', occurred_at: minutesAgo(1), description: 'x', corrects_event_id: c.id }), 422)
    expectStatus(
      t,
      await post({ type: 'correction', occurred_at: minutesAgo(1), description: 'x', corrects_event_id: '0190f3c4-1111-7000-8000-000000000000' }),
      422,
    )
  })

  t.test('append-only in the database: no update, no delete', async (t) => {
    await t.rejects(sql`update case_events set description = 'rewritten'`.execute(db), /append-only/)
    await t.rejects(sql`delete from case_events`.execute(db), /append-only/)
  })

  t.test('concurrent appends get distinct sequence numbers', async (t) => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => post({ type: 'note', occurred_at: minutesAgo(10), description: `note ${i}` })))
    expectEvery(t, results, (r) => r.statusCode === 201)
    const seqs = (await db.selectFrom('case_events').select('seq').where('case_id', '=', c.id).orderBy('seq').execute()).map((r) => r.seq)
    t.same(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
      'gap-free 1..n',
    )
  })

  t.test('listing in written order with cursor pages; auditors see the structure, not the words', async (t) => {
    const first = (await injectAs(staff, { method: 'GET', url: `/v1/cases/${c.id}/events?limit=5` })).json()
    t.equal(first.items.length, 5)
    const second = (await injectAs(staff, { method: 'GET', url: `/v1/cases/${c.id}/events?limit=5&cursor=${first.next_cursor}` })).json()
    t.equal(second.items[0].seq, first.items[4].seq + 1)
    const audited = (await injectAs({ roles: ['auditor'] }, { method: 'GET', url: `/v1/cases/${c.id}/events` })).json()
    expectEvery(t, audited.items, (e: { description: unknown; quote: unknown; redacted: boolean }) => e.description === null && e.quote === null && e.redacted)
    expectStatus(t, await injectAs({ roles: ['records_manager'] }, { method: 'GET', url: `/v1/cases/${c.id}/events` }), 403)
  })

  t.test('names follow the name-display policy in force', async (t) => {
    const event = (await post({ type: 'note', occurred_at: minutesAgo(1), description: '名前の表示' })).json()
    t.same(event.actor, { id: 'staff-1', display_name: '山田' }, 'surname only (default)')
    // A new version in force from today: business names (ビジネスネーム).
    const policy = await insertPolicyVersion(db, {
      type: 'name_display',
      effectiveFrom: todayInTokyo(),
      body: { mode: 'business_name' },
      note: 'test',
      createdBy: 'test',
    })
    const reread = (await injectAs(staff, { method: 'GET', url: `/v1/cases/${c.id}` })).json()
    t.same(reread.created_by, { id: 'staff-1', display_name: 'ヤマ' })
    t.equal(reread.name_display_policy_version_id, policy.id, 'the response names the policy version it followed')
    const added = (
      await injectAs({ roles: ['desk'], sub: 'desk-9' }, { method: 'POST', url: `/v1/cases/${c.id}/responders`, payload: { subject: 'never-seen' } })
    ).json()
    expectSome(
      t,
      added.responders,
      (r: { id: string; display_name: string }) => r.id === 'never-seen' && r.display_name === 'never-seen',
      'without a known name, the staff id',
    )
    t.notMatch(JSON.stringify(reread), /太郎/)
  })
})
