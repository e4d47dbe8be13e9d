import { decodeJwt } from 'jose'
import { sql } from 'kysely'
import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { sweepRetention } from '../../src/recordings/retention-sweep.ts'
import { buildTestApp, type Identity, type TestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { at, createCase, daysAgo, derivativeBody, pastReviewPeriod, register } from '../helpers/fixtures.ts'

/**
 * Redaction derivatives (部分開示): registered beside the original, which never changes; opened by
 * media grants; disposed of with the original, by approval or by the sweep, unless a records
 * manager decided to keep them longer.
 */
const rmA: Identity = { roles: ['records_manager'], sub: 'rm-a', name: '青木 一' }
const rmB: Identity = { roles: ['records_manager'], sub: 'rm-b', name: '伊藤 二' }
const desk: Identity = { roles: ['desk'], sub: 'desk-d' }
const pointers = (res: { json(): { errors?: { pointer: string }[] } }) => (res.json().errors ?? []).map((e) => e.pointer).sort()

async function derive(test: TestApp, recording: { id: string; sha256: string }, extra: Record<string, unknown> = {}) {
  const res = await test.injectAs(rmA, { method: 'POST', url: `/v1/recordings/${recording.id}/derivatives`, payload: derivativeBody(recording, extra) })
  if (res.statusCode !== 201) throw new Error(`derive: ${res.statusCode} ${res.body}`)
  return res.json()
}

t.test('a derivative is registered beside its original, which never changes', async (t) => {
  const test = await buildTestApp(t)
  const unit = await test.orgUnit('shimin')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-d' }
  const original = await register(test, sup) // ten minutes long
  const before = await test.db.selectFrom('recordings').selectAll().where('id', '=', original.id).executeTakeFirstOrThrow()
  const url = `/v1/recordings/${original.id}/derivatives`

  const res = await test.injectAs(desk, { method: 'POST', url, payload: derivativeBody(original, { sha256: 'AB'.repeat(32) }) })
  expectStatus(t, res, 201)
  const derivative = res.json()
  t.match(derivative, {
    recording_id: original.id,
    sha256: 'ab'.repeat(32),
    original_sha256: original.sha256,
    redactions: [{ start_seconds: 30, end_seconds: 45.5, treatment: 'bleeped', ground: '個人情報保護法第78条第1項第2号' }],
    made_by: { id: 'staff-editor' },
    checked_by: { id: 'rm-checker' },
    status: 'active',
    kept_beyond_original: null,
    redacted: false,
  })
  t.equal(res.headers.location, `${url}/${derivative.id}`)
  const after = await test.db.selectFrom('recordings').selectAll().where('id', '=', original.id).executeTakeFirstOrThrow()
  t.same(after, before, "the original's row is untouched: hash, media address, version")
  const change = await test.db.selectFrom('changes').selectAll().where('kind', '=', 'recording.derivative_registered').executeTakeFirstOrThrow()
  t.match(change, { resource_id: original.id, data: { derivative_id: derivative.id, version: before.version, grounds: ['個人情報保護法第78条第1項第2号'] } })

  const otherMedia = await test.injectAs(rmA, { method: 'POST', url, payload: derivativeBody({ sha256: 'c'.repeat(64) }) })
  expectStatus(t, otherMedia, 409, "made from media that is not the recording's")
  const broken = await test.injectAs(rmA, {
    method: 'POST',
    url,
    payload: derivativeBody(original, {
      sha256: original.sha256,
      made_by: 'same',
      checked_by: 'same',
      redactions: [
        { start_seconds: 50, end_seconds: 40, treatment: 'muted', ground: 'x' },
        { start_seconds: 500, end_seconds: 601, treatment: 'cut', ground: 'x' },
      ],
    }),
  })
  expectStatus(t, broken, 422)
  t.same(pointers(broken), ['body/checked_by', 'body/redactions/0/end_seconds', 'body/redactions/1/end_seconds', 'body/sha256'])
  expectStatus(t, await test.injectAs({ roles: ['staff'], unit }, { method: 'POST', url, payload: derivativeBody(original) }), 403)
  expectStatus(t, await test.injectAs(sup, { method: 'POST', url, payload: derivativeBody(original) }), 403, 'supervisors do not register derivatives')

  const forAuditor = await test.injectAs({ roles: ['auditor'] }, { method: 'GET', url })
  t.match(forAuditor.json().items, [{ id: derivative.id, storage_uri: null, redacted: true, redactions: [{ ground: '個人情報保護法第78条第1項第2号' }] }])
  expectStatus(t, await test.injectAs({ roles: ['supervisor'], unit: await test.orgUnit('other') }, { method: 'GET', url: `${url}/${derivative.id}` }), 404)
  expectStatus(t, await test.injectAs(desk, { method: 'GET', url: `${url}/${crypto.randomUUID()}` }), 404)

  t.test('a media grant opens the derivative', async (t) => {
    const grant = await test.injectAs(desk, {
      method: 'POST',
      url: `/v1/recordings/${original.id}/access-grants`,
      payload: { purpose: 'disclosure_request', derivative_id: derivative.id },
    })
    expectStatus(t, grant, 201)
    t.match(grant.json(), { recording_id: original.id, derivative_id: derivative.id, sha256: derivative.sha256, storage_uri: derivative.storage_uri })
    t.match(decodeJwt(grant.json().token), { recording_id: original.id, derivative_id: derivative.id, sha256: derivative.sha256 })
    const plain = await test.injectAs(desk, { method: 'POST', url: `/v1/recordings/${original.id}/access-grants`, payload: {} })
    t.equal(plain.json().sha256, original.sha256)
    t.notOk('derivative_id' in plain.json(), 'the original as before')
    const unknown = await test.injectAs(desk, {
      method: 'POST',
      url: `/v1/recordings/${original.id}/access-grants`,
      payload: { derivative_id: crypto.randomUUID() },
    })
    expectStatus(t, unknown, 404)
  })

  t.test('the database refuses any other change to a derivative', async (t) => {
    await t.rejects(sql`update recording_derivatives set sha256 = ${'d'.repeat(64)} where id = ${derivative.id}`.execute(test.db), /never change/)
    await t.rejects(sql`delete from recording_derivatives where id = ${derivative.id}`.execute(test.db), /never change/)
  })
})

t.test('derivatives are disposed of with their original, unless kept by a decision', async (t) => {
  const test = await buildTestApp(t)
  const sup: Identity = { roles: ['supervisor'], unit: await test.orgUnit('kaki'), sub: 'sup-k' }
  const kase = await createCase(test, sup)
  // A case recording whose five years ended long ago: due for a two-person disposition.
  const old = await register(test, rmA, { case_id: kase.id, started_at: at('2015-06-01'), ended_at: at('2015-06-01', '10:30') })
  const goes = await derive(test, old)
  const stays = await derive(test, old)
  const until = addDays(todayInTokyo(), 30)
  const keepUrl = `/v1/recordings/${old.id}/derivatives/${stays.id}/keep`
  expectStatus(t, await test.injectAs(desk, { method: 'POST', url: keepUrl, payload: { until, reason: 'x' } }), 403, 'records managers decide')
  const past = await test.injectAs(rmA, { method: 'POST', url: keepUrl, payload: { until: '2020-01-01', reason: 'x' } })
  t.same(pointers(past), ['body/until'])
  const kept = await test.injectAs(rmA, { method: 'POST', url: keepUrl, payload: { until, reason: '開示請求の記録と共に保存' } })
  expectStatus(t, kept, 200)
  t.match(kept.json(), { kept_beyond_original: { until, reason: '開示請求の記録と共に保存', decided_by: { id: 'rm-a' } } })
  expectStatus(t, await test.injectAs(rmA, { method: 'POST', url: keepUrl, payload: { until, reason: 'again' } }), 409, 'once')

  const proposed = await test.injectAs(rmA, {
    method: 'POST',
    url: `/v1/recordings/${old.id}/disposition`,
    payload: { action: 'dispose', reason: '保存期間満了' },
  })
  expectStatus(t, proposed, 201)
  const approved = await test.injectAs(rmB, { method: 'POST', url: `/v1/dispositions/${proposed.json().id}/approve`, payload: {} })
  expectStatus(t, approved, 200)
  const list = (await test.injectAs(rmA, { method: 'GET', url: `/v1/recordings/${old.id}/derivatives` })).json().items
  t.match(list, [
    { id: goes.id, status: 'disposed', storage_uri: null, disposition_id: proposed.json().id },
    { id: stays.id, status: 'active', storage_uri: stays.storage_uri },
  ])
  const gone = await test.injectAs(desk, { method: 'POST', url: `/v1/recordings/${old.id}/access-grants`, payload: { derivative_id: goes.id } })
  expectStatus(t, gone, 409, 'its media is gone')
  expectStatus(
    t,
    await test.injectAs(rmA, { method: 'POST', url: `/v1/recordings/${old.id}/derivatives`, payload: derivativeBody(old) }),
    409,
    'nothing is derived from media that is gone',
  )

  // The day after the kept date, the sweep disposes of it too.
  t.match(await sweepRetention(test.db, { today: until }), { derivatives_disposed: 0 })
  t.match(await sweepRetention(test.db, { today: addDays(until, 1) }), { derivatives_disposed: 1 })
  const row = await test.db.selectFrom('recording_derivatives').selectAll().where('id', '=', stays.id).executeTakeFirstOrThrow()
  t.match(row, { status: 'disposed', storage_uri: null, disposition_id: proposed.json().id })

  t.test('the sweep purges a derivative with its original', async (t) => {
    const stray = await register(test, sup, { started_at: daysAgo(120) })
    const copy = await derive(test, stray)
    const held = await register(test, sup, { started_at: daysAgo(120) })
    const heldCopy = await derive(test, held)
    await test.injectAs(rmA, { method: 'POST', url: `/v1/recordings/${held.id}/holds`, payload: { type: 'litigation', reference: '令和7年(ワ)第9号' } })
    await pastReviewPeriod(test.db, stray.id, held.id)
    t.match(await sweepRetention(test.db), { purged: 1 })
    const [a, b] = await Promise.all(
      [copy.id, heldCopy.id].map((id) => test.db.selectFrom('recording_derivatives').selectAll().where('id', '=', id).executeTakeFirstOrThrow()),
    )
    t.match(a, { status: 'disposed', storage_uri: null })
    t.ok(a!.disposition_id, "the original's purge record")
    t.match(b, { status: 'active' }, "the original's hold keeps its derivative")
    const changes = await test.db.selectFrom('changes').select('data').where('kind', '=', 'recording.derivative_disposed').execute()
    t.equal(changes.length, 3, 'each disposal is on the feed')
  })
})
