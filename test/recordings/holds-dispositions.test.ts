import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { holdEndAfterDecision } from '../../src/recordings/retention.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { at, createCase, pastReviewPeriod, register } from '../helpers/fixtures.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'

/**
 * The latest March 31 before today: the end of a 5-year schedule for a recording made in the
 * fiscal year six years earlier. Tests that need "a schedule that has just ended" use it, so
 * they hold whatever day they run on.
 */
function lastScheduleEnd(): { end: string; startedOn: string } {
  const yesterday = addDays(todayInTokyo(), -1)
  const year = Number(yesterday.slice(0, 4))
  const endYear = yesterday >= `${year}-03-31` ? year : year - 1
  return { end: `${endYear}-03-31`, startedOn: `${endYear - 6}-06-01` }
}

t.test('holds and two-person disposition', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit, db } = test
  const unit = await orgUnit('kuyakusho')
  const desk: Identity = { roles: ['desk'], unit, sub: 'desk-h' }
  const rmA: Identity = { roles: ['records_manager'], sub: 'rm-a', name: '青木 一' }
  const rmB: Identity = { roles: ['records_manager'], sub: 'rm-b', name: '伊藤 二' }
  const auditor: Identity = { roles: ['auditor'], sub: 'aud' }
  const kase = await createCase(test, desk)

  const hold = (id: string, body: Record<string, unknown>, who: Identity = rmA) =>
    injectAs(who, { method: 'POST', url: `/v1/recordings/${id}/holds`, payload: body })
  const propose = (id: string, body: Record<string, unknown> = {}, who: Identity = rmA) =>
    injectAs(who, { method: 'POST', url: `/v1/recordings/${id}/disposition`, payload: { action: 'dispose', reason: '保存期間満了', ...body } })
  const approve = (dispositionId: string, who: Identity = rmB) =>
    injectAs(who, { method: 'POST', url: `/v1/dispositions/${dispositionId}/approve`, payload: { reason: '確認済み' } })
  const retention = async (id: string) => (await injectAs(rmA, { method: 'GET', url: `/v1/recordings/${id}/retention` })).json()

  t.test('a disclosure hold whose decision date keeps a recording a year past its scheduled end', async (t) => {
    const { end, startedOn } = lastScheduleEnd()
    const rec = await register(test, desk, { case_id: kase.id, started_at: at(startedOn) })
    t.match(rec, { status: 'due', retention: { end } }, `the schedule ended ${end}`)

    const placed = await hold(rec.id, { type: 'disclosure_request', reference: '情報公開請求 第58号' }, desk)
    expectStatus(t, placed, 201, 'the desk places holds for disclosure requests')
    t.match(placed.json(), { type: 'disclosure_request', status: 'active', until: null, placed_by: { id: 'desk-h' } })
    const held = (await injectAs(rmA, { method: 'GET', url: `/v1/recordings/${rec.id}` })).json()
    t.match(held, { status: 'active', due_since: null, retention: { on_hold: true, effective_end: null } }, 'awaiting the decision, the hold has no end')

    // The disclosure decision (開示決定) was made on the schedule's last day.
    const decided = await injectAs(desk, {
      method: 'POST',
      url: `/v1/recordings/${rec.id}/holds/${placed.json().id}/decision`,
      payload: { decision_date: end },
    })
    expectStatus(t, decided, 200)
    const until = holdEndAfterDecision(end)
    t.equal(until, `${Number(end.slice(0, 4)) + 1}-03-31`, 'one year from the day after the decision')
    t.match(decided.json(), { decision_date: end, until, status: 'active', decision_recorded_by: { id: 'desk-h' } })

    const why = await retention(rec.id)
    t.match(why, {
      schedule_end: end,
      effective_end: until,
      holds: [{ type: 'disclosure_request', until }],
      next: { step: 'disposal_due', on: addDays(until, 1) },
    })
    t.match(why.explanation.join('\n'), new RegExp(`through ${until}: one year from the day after the decision of ${end}`))

    const refused = await propose(rec.id)
    expectStatus(t, refused, 409, 'no disposition while the hold keeps it')
    t.match(refused.json(), { holds: [{ id: placed.json().id, type: 'disclosure_request', reference: '情報公開請求 第58号', until }] })
    t.match(refused.json().detail, /情報公開請求 第58号/)

    const due = (await injectAs(rmA, { method: 'GET', url: '/v1/dispositions/due' })).json().items.map((d: { recording_id: string }) => d.recording_id)
    t.notOk(due.includes(rec.id), 'not in the due list')
    // The sweep on the hold's last day leaves it; the day after, it is due.
    t.match(await sweepRetention(db, { today: until }), { marked_due: 0 })
    t.match(await sweepRetention(db, { today: addDays(until, 1) }), { marked_due: 1 })
    const after = await db.selectFrom('recordings').select(['status', 'due_since']).where('id', '=', rec.id).executeTakeFirstOrThrow()
    t.same(after, { status: 'due', due_since: addDays(until, 1) })

    expectStatus(
      t,
      await injectAs(desk, { method: 'POST', url: `/v1/recordings/${rec.id}/holds/${placed.json().id}/decision`, payload: { decision_date: end } }),
      409,
      'a decision is recorded once',
    )
    expectStatus(
      t,
      await injectAs(desk, {
        method: 'POST',
        url: `/v1/recordings/${rec.id}/holds/${placed.json().id}/decision`,
        payload: { decision_date: addDays(todayInTokyo(), 3) },
      }),
      409,
    )
  })

  t.test('litigation holds last until released; release needs a records manager and a reason; holds are never deleted', async (t) => {
    const rec = await register(test, desk, { case_id: kase.id, started_at: at('2015-06-01') })
    t.equal(rec.status, 'due')
    const lit = (await hold(rec.id, { type: 'litigation', reference: '令和8年(ワ)第10号' }, desk)).json()
    const audit = (await hold(rec.id, { type: 'audit', reference: '定期監査 2026' })).json()
    const refused = await propose(rec.id)
    expectStatus(t, refused, 409)
    t.same(
      refused
        .json()
        .holds.map((h: { type: string }) => h.type)
        .sort(),
      ['audit', 'litigation'],
      '409 names every hold',
    )
    expectStatus(
      t,
      await injectAs(desk, { method: 'POST', url: `/v1/recordings/${rec.id}/holds/${lit.id}/decision`, payload: { decision_date: todayInTokyo() } }),
      409,
      'litigation takes no decision date',
    )

    const release = (holdId: string, who: Identity = rmA, payload: Record<string, unknown> = { reason: '判決確定' }) =>
      injectAs(who, { method: 'POST', url: `/v1/recordings/${rec.id}/holds/${holdId}/release`, payload })
    expectStatus(t, await release(lit.id, desk), 403, 'the desk places holds but does not release them')
    expectStatus(t, await release(lit.id, rmA, {}), 422, 'a reason is required')
    const released = await release(lit.id)
    t.match(released.json(), { status: 'released', released_by: { id: 'rm-a' }, release_reason: '判決確定' })
    expectStatus(t, await release(lit.id), 409, 'released once')
    expectStatus(t, await propose(rec.id), 409, 'the audit hold still keeps it')
    await release(audit.id, rmA, { reason: '監査終了' })
    t.match((await injectAs(rmA, { method: 'GET', url: `/v1/recordings/${rec.id}` })).json(), { status: 'due', retention: { on_hold: false } })

    const all = (await injectAs(auditor, { method: 'GET', url: `/v1/recordings/${rec.id}/holds` })).json().items
    t.same(
      all.map((h: { status: string }) => h.status),
      ['released', 'released'],
      'released holds stay in the history',
    )
    const deleted = await db
      .deleteFrom('recording_holds')
      .where('id', '=', lit.id)
      .execute()
      .then(
        () => 'deleted',
        (e: { code?: string }) => e.code,
      )
    t.equal(deleted, '42501', 'the database refuses to delete a hold')
    const reopened = await db
      .updateTable('recording_holds')
      .set({ released_at: null, released_by: null, release_reason: null })
      .where('id', '=', lit.id)
      .execute()
      .then(
        () => 'updated',
        (e: { code?: string }) => e.code,
      )
    t.equal(reopened, '42501', 'nor to un-release one')
  })

  t.test('other holds (施行令第9条第2項) take their own date; decisions are not in the future', async (t) => {
    const rec = await register(test, desk, { case_id: kase.id, started_at: at('2016-05-01') })
    const past = await hold(rec.id, { type: 'other', reference: '業務上必要', until: addDays(todayInTokyo(), -1) })
    expectStatus(t, past, 422, 'a hold cannot end in the past')
    expectStatus(t, await hold(rec.id, { type: 'audit', reference: 'x', until: addDays(todayInTokyo(), 30) }), 422, 'only other holds take a date')
    const until = addDays(todayInTokyo(), 30)
    const other = await hold(rec.id, { type: 'other', reference: '業務上必要', note: '第三者照会への回答まで', until })
    t.match(other.json(), { type: 'other', until, status: 'active' })
    t.match(await retention(rec.id), { effective_end: until, schedule_end: '2022-03-31', next: { step: 'disposal_due', on: addDays(until, 1) } })
    t.match((await injectAs(rmA, { method: 'GET', url: `/v1/recordings/${rec.id}` })).json(), {
      status: 'active',
      retention: { on_hold: true, effective_end: until },
    })
    const appeal = (await hold(rec.id, { type: 'appeal', reference: '審査請求 第1号' })).json()
    const future = await injectAs(desk, {
      method: 'POST',
      url: `/v1/recordings/${rec.id}/holds/${appeal.id}/decision`,
      payload: { decision_date: addDays(todayInTokyo(), 1) },
    })
    expectStatus(t, future, 422, 'a decision date cannot be in the future')
    expectStatus(
      t,
      await injectAs(desk, { method: 'POST', url: `/v1/recordings/${rec.id}/holds/${appeal.id}/decision`, payload: { decision_date: '2025-02-30' } }),
      422,
      'not a date',
    )
    expectStatus(
      t,
      await injectAs({ roles: ['staff'], unit }, { method: 'POST', url: `/v1/recordings/${rec.id}/holds`, payload: { type: 'audit', reference: 'x' } }),
      403,
      'staff place no holds',
    )
    expectStatus(
      t,
      await injectAs(
        { roles: ['supervisor'], unit: await orgUnit('elsewhere') },
        { method: 'POST', url: `/v1/recordings/${rec.id}/holds`, payload: { type: 'audit', reference: 'x' } },
      ),
      404,
      'a supervisor of another unit: not found',
    )
  })

  t.test('disposition: before the end 409, the proposer cannot approve (403), another records manager can', async (t) => {
    const young = await register(test, desk, { case_id: kase.id })
    const early = await propose(young.id)
    expectStatus(t, early, 409)
    t.match(early.json(), { effective_end: young.retention.end })

    const rec = await register(test, desk, { case_id: kase.id, started_at: at('2016-07-01') })
    const before = await db.selectFrom('recordings').select(['storage_uri', 'sha256']).where('id', '=', rec.id).executeTakeFirstOrThrow()
    expectStatus(t, await propose(rec.id, { action: 'transfer' }), 409, "the rule says dispose: transfer is not the proposer's choice")
    expectStatus(t, await propose(rec.id, {}, desk), 403, 'only records managers propose')
    const proposed = await propose(rec.id)
    expectStatus(t, proposed, 201)
    const d = proposed.json()
    t.equal(proposed.headers.location, `/v1/dispositions/${d.id}`)
    t.match(d, {
      status: 'proposed',
      action: 'dispose',
      proposed_by: { id: 'rm-a', display_name: '青木' },
      decided_by: null,
      recording: { sha256: before.sha256 },
    })
    expectStatus(t, await propose(rec.id), 409, 'one proposal at a time')
    expectStatus(
      t,
      await injectAs(rmA, {
        method: 'PUT',
        url: `/v1/recordings/${rec.id}/classification`,
        payload: { administrative_document: true, personal_information: true, record_category: 'case_recording', reason: 'x' },
      }),
      409,
      'no reclassification under a pending proposal',
    )

    const self = await approve(d.id, rmA)
    expectStatus(t, self, 403, 'the same person approving is refused')
    t.match(self.json().detail, /two records managers/)
    expectStatus(t, await approve(d.id, desk), 403, 'the desk does not dispose')

    const ok = await approve(d.id, rmB)
    expectStatus(t, ok, 200)
    t.match(ok.json(), {
      id: d.id,
      status: 'executed',
      proposed_by: { id: 'rm-a' },
      decided_by: { id: 'rm-b', display_name: '伊藤' },
      recording: { sha256: before.sha256, record_category: 'case_recording', classification: 'both' },
      due_under: {
        policy_version_id: '00000000-0000-7000-8000-0000000000a4',
        rule: { record_category: 'case_recording', classification: 'both', period: { unit: 'years', value: 5 } },
        start: '2017-04-01',
        schedule_end: '2022-03-31',
        effective_end: '2022-03-31',
      },
    })
    expectStatus(t, await approve(d.id, rmB), 409, 'executed once')

    const tomb = await db
      .selectFrom('recordings')
      .select(['status', 'storage_uri', 'description', 'participants', 'caller_number', 'sha256', 'disposition_id', 'pending_disposition_id'])
      .where('id', '=', rec.id)
      .executeTakeFirstOrThrow()
    t.same(
      tomb,
      {
        status: 'disposed',
        storage_uri: null,
        description: null,
        participants: null,
        caller_number: null,
        sha256: before.sha256,
        disposition_id: d.id,
        pending_disposition_id: null,
      },
      'media address and personal fields removed',
    )
    const view = (await injectAs(rmA, { method: 'GET', url: `/v1/recordings/${rec.id}` })).json()
    t.match(view, { status: 'disposed', storage_uri: null, redacted: false, disposition_id: d.id })
    expectStatus(t, await hold(rec.id, { type: 'audit', reference: 'x' }), 409, 'nothing left to hold')
    expectStatus(t, await injectAs(rmA, { method: 'POST', url: `/v1/recordings/${rec.id}/access-grants`, payload: {} }), 409, 'no media to grant')
    t.match((await retention(rec.id)).next, { step: 'none' })

    const listed = (await injectAs(auditor, { method: 'GET', url: `/v1/dispositions?recording_id=${rec.id}` })).json().items
    t.match(listed, [{ id: d.id, status: 'executed', recording: { sha256: before.sha256 } }], 'auditors list the permanent record')
    expectStatus(t, await injectAs(auditor, { method: 'GET', url: `/v1/dispositions/${d.id}` }), 200)
    expectStatus(t, await injectAs(desk, { method: 'GET', url: '/v1/dispositions' }), 403)
    const rewrite = await db
      .updateTable('dispositions')
      .set({ reason: 'changed' })
      .where('id', '=', d.id)
      .execute()
      .then(
        () => 'updated',
        (e: { code?: string }) => e.code,
      )
    t.equal(rewrite, '42501', 'the record is permanent')
    const feed = await db.selectFrom('changes').select('kind').where('resource_id', '=', rec.id).orderBy('id').execute()
    t.same(
      feed.map((c) => c.kind),
      ['recording.registered', 'recording.due', 'recording.disposition_proposed', 'recording.disposed'],
    )
  })

  t.test('a hold placed after the proposal blocks the approval; cancelling reopens the way', async (t) => {
    const rec = await register(test, desk, { case_id: kase.id, started_at: at('2016-08-01') })
    const d = (await propose(rec.id)).json()
    const appeal = (await hold(rec.id, { type: 'appeal', reference: '審査請求 第3号' }, desk)).json()
    const blocked = await approve(d.id)
    expectStatus(t, blocked, 409)
    t.match(blocked.json().holds, [{ id: appeal.id, type: 'appeal' }])
    const cancelled = await injectAs(rmB, { method: 'POST', url: `/v1/dispositions/${d.id}/cancel`, payload: { reason: '審査請求があったため' } })
    t.match(cancelled.json(), { status: 'cancelled', decided_by: { id: 'rm-b' }, decision_reason: '審査請求があったため' })
    t.match((await injectAs(rmA, { method: 'GET', url: `/v1/recordings/${rec.id}` })).json(), { pending_disposition_id: null, status: 'active' })
    const records = (await injectAs(auditor, { method: 'GET', url: `/v1/dispositions?recording_id=${rec.id}&status=cancelled` })).json().items
    t.equal(records.length, 1, 'a cancelled proposal stays on record')
  })

  t.test('transfer (移管) under a 30-year rule, and review rules leave the choice to the records managers', async (t) => {
    const rec = await register(test, desk, { started_at: at('2016-09-01') })
    await injectAs(rmA, {
      method: 'PUT',
      url: `/v1/recordings/${rec.id}/classification`,
      payload: { administrative_document: true, personal_information: false, record_category: 'misc_records', reason: '文書' },
    })
    const why = await retention(rec.id)
    t.match(why, { rule: { record_category: '*', action: 'review' }, rule_match: 'wildcard', next: { step: 'review_due' } })
    const d = (await propose(rec.id, { action: 'transfer', reason: '歴史資料として重要' })).json()
    const done = await approve(d.id)
    t.match(done.json(), { action: 'transfer', status: 'executed' })
    t.match((await injectAs(rmA, { method: 'GET', url: `/v1/recordings/${rec.id}` })).json(), { status: 'transferred', storage_uri: null })
  })

  t.test('the due list: ended retention, no hold, with the action due', async (t) => {
    const list = async (query = '') => (await injectAs(auditor, { method: 'GET', url: `/v1/dispositions/due${query}` })).json().items
    const items = await list()
    t.ok(items.length > 0)
    expectEvery(t, items, (i: { effective_end: string }) => i.effective_end < todayInTokyo())
    const ids = items.map((i: { recording_id: string }) => i.recording_id)
    const stray = await register(test, desk, { started_at: new Date(Date.now() - 200 * 86_400_000).toISOString() })
    await pastReviewPeriod(test.db, stray.id)
    const withStray = await list('?action=purge')
    t.match(
      withStray,
      [{ recording_id: stray.id, action_due: 'purge', classification: 'personal_information' }],
      'non-document personal information: the sweep purges it',
    )
    t.notOk(ids.includes(stray.id))
    expectEvery(t, await list('?action=dispose'), (i: { action_due: string }) => i.action_due === 'dispose')
    expectStatus(t, await injectAs(desk, { method: 'GET', url: '/v1/dispositions/due' }), 403)
  })
})
