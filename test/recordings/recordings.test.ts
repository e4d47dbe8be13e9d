import t from 'tap'
import { insertPolicyVersion } from '../../src/policies/policies.repository.ts'
import { todayInTokyo, tokyoDate } from '../../src/kernel/time.ts'
import type { Metrics } from '../../src/metrics/metrics.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { createCase, pastReviewPeriod, recordingBody, register } from '../helpers/fixtures.ts'
import { expectSome, expectStatus } from '../helpers/expect.ts'

t.test('registration: metadata, validation, idempotency, provisional classification', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit, db } = test
  const unit = await orgUnit('shimin')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-1', name: '山田 太郎' }
  const supervisor: Identity = { roles: ['supervisor'], unit, sub: 'sup-1', name: '鈴木 一郎' }
  const kase = await createCase(test, staff)

  t.test("a recording of a case takes the case's unit and is presumed a document with personal information", async (t) => {
    const body = recordingBody({ case_id: kase.id, sha256: 'AB'.repeat(32), recorder: 'staff-1' })
    const res = await injectAs(staff, { method: 'POST', url: '/v1/recordings', payload: body })
    expectStatus(t, res, 201)
    const rec = res.json()
    t.equal(res.headers.location, `/v1/recordings/${rec.id}`)
    t.equal(res.headers.etag, `"v${rec.version}"`)
    t.match(rec, {
      case_id: kase.id,
      org_unit_id: unit,
      sha256: 'ab'.repeat(32),
      notice_missing: false,
      flags: [],
      status: 'active',
      recorder: { id: 'staff-1', display_name: '山田' },
      registered_by: { id: 'staff-1', display_name: '山田' },
      classification: {
        administrative_document: true,
        personal_information: true,
        key: 'both',
        record_category: 'case_recording',
        provisional: true,
        classified_by: { id: 'system' },
      },
      retention: { action: 'dispose', on_hold: false },
    })
    t.equal(rec.document_date, tokyoDate(new Date(body.started_at as string)), '作成日: the Tokyo date the recording started')
    t.equal(rec.redacted, true, 'staff lack media access: storage_uri and personal fields are withheld')
    t.equal(rec.storage_uri, null)
    t.equal(rec.description, null)
    const stored = await db.selectFrom('recordings').select(['storage_uri', 'description', 'caller_number']).where('id', '=', rec.id).executeTakeFirstOrThrow()
    t.same(stored, { storage_uri: body.storage_uri, description: body.description, caller_number: body.caller_number }, 'redacted, never dropped')
  })

  t.test("a recording without a case is personal information only, in the caller's unit", async (t) => {
    const rec = await register(test, supervisor)
    t.match(rec, {
      case_id: null,
      org_unit_id: unit,
      classification: { key: 'personal_information', record_category: 'interaction_recording' },
      redacted: false,
    })
    t.ok(rec.storage_uri.startsWith('s3://'), 'a supervisor of the unit sees the media address')
    t.same(rec.participants, ['顧客 一郎', '職員 山田'])
  })

  t.test('bad or inconsistent metadata is 422, nothing written', async (t) => {
    const before = await db.selectFrom('recordings').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()
    const started = new Date(Date.now() - 3600_000).toISOString()
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ sha256: 'xyz' }, 'body/sha256'],
      [{ sha256: 'a'.repeat(63) }, 'body/sha256'],
      [{ media_kind: 'film' }, 'body/media_kind'],
      [{ storage_uri: 'not a uri' }, 'body/storage_uri'],
      [{ size_bytes: 0 }, 'body/size_bytes'],
      [{ media_type: 'video/mp4' }, 'body/media_type'],
      [{ started_at: started, ended_at: new Date(Date.now() - 7200_000).toISOString() }, 'body/ended_at'],
      [{ started_at: new Date(Date.now() + 3600_000).toISOString(), ended_at: new Date(Date.now() + 7200_000).toISOString() }, 'body/started_at'],
      [{ recorded_by: 'resident' }, 'body/recorded_by'],
      [{ notice: { given: true } }, 'body/notice/method'],
      [{ notice: { given: false, method: 'verbal' } }, 'body/notice'],
      [{ case_id: '0190f3c4-1111-7000-8000-000000000000' }, 'body/case_id'],
      [{ case_id: kase.id, org_unit_id: '00000000-0000-7000-8000-000000000001' }, 'body/org_unit_id'],
      [{ record_category: 'Bad-Category' }, 'body/record_category'],
    ]
    for (const [extra, pointer] of bad) {
      const res = await injectAs(supervisor, { method: 'POST', url: '/v1/recordings', payload: recordingBody(extra) })
      expectStatus(t, res, 422, JSON.stringify(extra).slice(0, 90))
      expectSome(t, res.json().errors, (e: { pointer: string }) => e.pointer === pointer, `names ${pointer}`)
    }
    const after = await db.selectFrom('recordings').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()
    t.equal(Number(after.n), Number(before.n))
  })

  t.test('the same media twice is a conflict; an Idempotency-Key retry is the same recording', async (t) => {
    const body = recordingBody()
    const headers = { 'idempotency-key': 'upload-7' }
    const [a, b] = await Promise.all([
      injectAs(supervisor, { method: 'POST', url: '/v1/recordings', headers, payload: body }),
      injectAs(supervisor, { method: 'POST', url: '/v1/recordings', headers, payload: body }),
    ])
    expectStatus(t, a, 201)
    t.equal(b.json().id, a.json().id)
    const dup = await injectAs(supervisor, { method: 'POST', url: '/v1/recordings', payload: body })
    expectStatus(t, dup, 409, 'storage_uri already registered')
  })

  t.test('staff register only for cases they respond to, or in their own unit', async (t) => {
    const other = await orgUnit('other')
    const foreignCase = await createCase(test, { roles: ['staff'], unit, sub: 'staff-2' })
    const res = await injectAs(staff, { method: 'POST', url: '/v1/recordings', payload: recordingBody({ case_id: foreignCase.id }) })
    expectStatus(t, res, 422, 'a case they do not respond to is not in their reach')
    expectStatus(t, await injectAs(staff, { method: 'POST', url: '/v1/recordings', payload: recordingBody({ org_unit_id: other }) }), 403)
    expectStatus(t, await injectAs({ roles: ['auditor'] }, { method: 'POST', url: '/v1/recordings', payload: recordingBody() }), 403, 'auditors never write')
  })
})

t.test('notice (告知) and resident recordings (庁舎管理権): accepted, flagged, audited', async (t) => {
  const test = await buildTestApp(t)
  const { orgUnit, db } = test
  const unit = await orgUnit('madoguchi')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-n' }

  const silent = await register(test, sup, { notice: { given: false } })
  t.match(silent, { notice_missing: true, flags: ['notice_missing'], notice: { given: false, method: null } })
  const written = await register(test, sup, { notice: { given: true, method: 'written' } })
  t.match(written, { notice_missing: true }, 'a method the default policy does not count (verbal, sign, automated_message)')
  const announced = await register(test, sup, { notice: { given: true, method: 'sign' }, media_kind: 'video', media_type: 'video/mp4', source: 'fixed_camera' })
  t.match(announced, { notice_missing: false, flags: [] }, '「防犯カメラ作動中」')

  const resident = await register(test, sup, { recorded_by: 'resident', source: 'resident_provided', notice: { given: false } })
  t.match(
    resident,
    { flags: ['resident_recording_without_permission'], notice_missing: false, on_premises: true },
    'default policy: residents record with permission',
  )
  t.equal(resident.document_date, todayInTokyo(), "a resident's recording is obtained when registered")
  const permitted = await register(test, sup, { recorded_by: 'resident', source: 'resident_provided', notice: { given: false }, resident_permission: true })
  t.same(permitted.flags, [])

  const entries = await db
    .selectFrom('audit_events')
    .select(['action', 'resource_id', 'details'])
    .where('action', 'like', 'recording.%')
    .orderBy('id')
    .execute()
  t.match(entries, [
    {
      action: 'recording.notice_missing',
      resource_id: silent.id,
      details: { reason: 'not_given', recording_policy_version_id: silent.recording_policy_version_id },
    },
    { action: 'recording.notice_missing', resource_id: written.id, details: { reason: 'method_not_accepted' } },
    { action: 'recording.resident_recording_without_permission', resource_id: resident.id },
  ])

  t.test("the policy in force at started_at decides, not today's", async (t) => {
    // From today, the office prohibits residents' recordings and no longer requires notice.
    const v = await insertPolicyVersion(db, {
      type: 'recording',
      effectiveFrom: todayInTokyo(),
      body: { notice_required: false, notice_methods: ['verbal'], resident_recording: 'prohibited', purposes: ['証拠保全'] },
      note: 'test',
      createdBy: 'test',
    })
    const before = await register(test, sup, { started_at: new Date(Date.now() - 3 * 86_400_000).toISOString(), notice: { given: false } })
    t.match(before, { notice_missing: true, recording_policy_version_id: '00000000-0000-7000-8000-0000000000a1' })
    // Started a minute ago: on today's Tokyo date even just after midnight.
    const started_at = new Date(Date.now() - 60_000).toISOString()
    const now = await register(test, sup, { started_at, notice: { given: false } })
    t.match(now, { notice_missing: false, recording_policy_version_id: v.id })
    const resident = { started_at, recorded_by: 'resident', source: 'resident_provided', notice: { given: false } }
    const prohibited = await register(test, sup, { ...resident, resident_permission: true })
    t.same(prohibited.flags, ['resident_recording_prohibited'])
    const offPremises = await register(test, sup, { ...resident, on_premises: false })
    t.same(offPremises.flags, [], 'a phone call recorded at home is not on the premises')
    const audited = await db
      .selectFrom('audit_events')
      .select('action')
      .where('resource_id', '=', prohibited.id)
      .where('action', '=', 'recording.resident_recording_prohibited')
      .execute()
    t.equal(audited.length, 1)
  })
})

t.test('reach and redaction: who reads which recording and who sees the media address', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit } = test
  const city = await orgUnit('city')
  const ward = await orgUnit('ward', city)
  const other = await orgUnit('other')
  const staff: Identity = { roles: ['staff'], unit: ward, sub: 'staff-w' }
  const kase = await createCase(test, staff)
  const rec = await register(test, staff, { case_id: kase.id })
  const loose = await register(test, { roles: ['supervisor'], unit: other, sub: 'sup-o' })

  const read = async (who: Identity, id: string) => injectAs(who, { method: 'GET', url: `/v1/recordings/${id}` })
  const cases: Array<[string, Identity, string, number, boolean | null]> = [
    ['staff responding to the case', staff, rec.id, 200, true],
    ['other staff of the unit', { roles: ['staff'], unit: ward, sub: 'staff-x' }, rec.id, 404, null],
    ['a supervisor above the unit', { roles: ['supervisor'], unit: city, sub: 'sup-c' }, rec.id, 200, false],
    ['a supervisor of another branch', { roles: ['supervisor'], unit: other, sub: 'sup-o2' }, rec.id, 404, null],
    ['the desk', { roles: ['desk'], unit: other, sub: 'desk' }, rec.id, 200, false],
    ['a records manager', { roles: ['records_manager'], unit: other, sub: 'rm' }, loose.id, 200, false],
    ['an auditor', { roles: ['auditor'], sub: 'aud' }, rec.id, 200, true],
    ['integration of the unit', { roles: ['integration'], unit: ward, sub: 'svc' }, rec.id, 200, true],
    ['integration elsewhere', { roles: ['integration'], unit: other, sub: 'svc2' }, rec.id, 404, null],
  ]
  for (const [label, who, id, status, redacted] of cases) {
    const res = await read(who, id)
    expectStatus(t, res, status, label)
    if (redacted !== null) {
      t.equal(res.json().redacted, redacted, `${label}: ${redacted ? 'redacted' : 'sees storage_uri'}`)
      if (redacted) t.match(res.json(), { storage_uri: null, description: null, participants: null, caller_number: null, sha256: rec.sha256 })
      else t.match(res.json().storage_uri, /^s3:\/\//)
    }
  }
  expectStatus(t, await read({ roles: ['admin'] }, rec.id), 403, 'admins see no recordings')
})

t.test('PATCH: descriptive fields only, with If-Match', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit } = test
  const unit = await orgUnit('u')
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-p' }
  const rec = await register(test, sup)
  const url = `/v1/recordings/${rec.id}`
  expectStatus(t, await injectAs(sup, { method: 'PATCH', url, payload: { title: '新しい題' } }), 428)
  expectStatus(t, await injectAs(sup, { method: 'PATCH', url, headers: { 'if-match': '"v999"' }, payload: { title: 'x' } }), 412)
  const ok = await injectAs(sup, { method: 'PATCH', url, headers: { 'if-match': `"v${rec.version}"` }, payload: { title: '新しい題', participants: null } })
  expectStatus(t, ok, 200)
  t.match(ok.json(), { title: '新しい題', participants: null, version: rec.version + 1 })
  t.equal(ok.headers.etag, `"v${rec.version + 1}"`)
  const facts = await injectAs(sup, { method: 'PATCH', url, headers: { 'if-match': ok.headers.etag as string }, payload: { sha256: 'a'.repeat(64) } })
  expectStatus(t, facts, 422, 'the media and its facts do not change')
  const unchanged = await injectAs(sup, { method: 'PATCH', url, headers: { 'if-match': ok.headers.etag as string }, payload: { title: '新しい題' } })
  t.equal(unchanged.json().version, rec.version + 1, 'no change, no new version')
  expectStatus(t, await injectAs({ roles: ['auditor'] }, { method: 'PATCH', url, headers: { 'if-match': '*' }, payload: { title: 'x' } }), 403)
})

t.test('list: filters and cursor pagination', async (t) => {
  const test = await buildTestApp(t)
  const { injectAs, orgUnit } = test
  const a = await orgUnit('a')
  const b = await orgUnit('b')
  const desk: Identity = { roles: ['desk'], sub: 'desk-l' }
  const rm: Identity = { roles: ['records_manager'], sub: 'rm-l' }
  const kase = await createCase(test, { roles: ['desk'], unit: a, sub: 'desk-l' }, { org_unit_id: a })
  const hours = (n: number) => new Date(Date.now() - n * 3600_000).toISOString()
  const r1 = await register(test, desk, { org_unit_id: a, started_at: hours(5) })
  const r2 = await register(test, desk, { case_id: kase.id, started_at: hours(4) })
  const r3 = await register(test, desk, { org_unit_id: b, started_at: hours(3) })
  const r4 = await register(test, desk, { org_unit_id: b, started_at: new Date(Date.now() - 400 * 86_400_000).toISOString() })
  await pastReviewPeriod(test.db, r4.id)
  await injectAs(rm, { method: 'POST', url: `/v1/recordings/${r3.id}/holds`, payload: { type: 'litigation', reference: '令和7年(ワ)第123号' } })

  const ids = async (query: string) => {
    const res = await injectAs(desk, { method: 'GET', url: `/v1/recordings?${query}` })
    expectStatus(t, res, 200, query)
    return res.json().items.map((r: { id: string }) => r.id)
  }
  t.same(await ids(''), [r3.id, r2.id, r1.id, r4.id], 'newest first')
  t.same(await ids(`case_id=${kase.id}`), [r2.id])
  t.same(await ids(`org_unit_id=${b}`), [r3.id, r4.id])
  t.same(await ids('classification=both'), [r2.id])
  t.same(await ids('classification=personal_information'), [r3.id, r1.id, r4.id])
  t.same(await ids('on_hold=true'), [r3.id])
  t.same(await ids('on_hold=false'), [r2.id, r1.id, r4.id])
  t.same(await ids('status=active'), [r3.id, r2.id, r1.id, r4.id])
  t.same(await ids(`retention_end_before=${todayInTokyo()}`), [r4.id], '90 days from 400 days ago ended')
  t.same(await ids(`retention_end_after=${todayInTokyo()}`), [r3.id, r2.id, r1.id], 'the held one never ends while held')
  t.same(await ids('record_category=case_recording'), [r2.id])

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: { items: Array<{ id: string }>; next_cursor: string | null } = (
      await injectAs(desk, { method: 'GET', url: `/v1/recordings?limit=1${cursor ? `&cursor=${cursor}` : ''}` })
    ).json()
    seen.push(...page.items.map((r) => r.id))
    cursor = page.next_cursor
  } while (cursor)
  t.same(seen, [r3.id, r2.id, r1.id, r4.id])
  expectStatus(t, await injectAs(desk, { method: 'GET', url: '/v1/recordings?cursor=nonsense' }), 400)
  expectStatus(t, await injectAs(desk, { method: 'GET', url: '/v1/recordings?status=lost' }), 400)
  const staffList = await injectAs({ roles: ['staff'], unit: a, sub: 'nobody' }, { method: 'GET', url: '/v1/recordings' })
  t.same(staffList.json().items, [], 'staff list only recordings of their cases')
})

async function statementsOf(metrics: Metrics, route: string): Promise<number> {
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (metric.name !== 'madoguchi_db_statements_total') continue
    for (const value of metric.values) if (value.labels.method === 'POST' && value.labels.route === route) return value.value
  }
  return 0
}

t.test('one statement: the recording, its classification, audit entries and changes, or nothing', async (t) => {
  const test = await buildTestApp(t, { metrics: true })
  const { injectAs, orgUnit, db, metrics } = test
  const unit = await orgUnit('hitotsu')
  const other = await orgUnit('yoso')
  const staff: Identity = { roles: ['staff'], unit, sub: 'staff-o', name: '田中 次郎' }
  const sup: Identity = { roles: ['supervisor'], unit, sub: 'sup-o', name: '高橋 三郎' }
  const kase = await createCase(test, staff)
  const url = '/v1/recordings'
  const entriesOf = (res: { headers: Record<string, unknown> }) =>
    db
      .selectFrom('audit_events')
      .select(['action', 'outcome', 'status', 'resource_id', 'details'])
      .where('request_id', '=', res.headers['x-request-id'] as string)
      .orderBy('id')
      .execute()

  const before = await statementsOf(metrics!, url)
  const res = await injectAs(sup, { method: 'POST', url, payload: recordingBody({ case_id: kase.id, recorder: 'staff-o', notice: { given: false } }) })
  expectStatus(t, res, 201)
  t.equal((await statementsOf(metrics!, url)) - before, 1, 'one statement, no BEGIN or COMMIT')
  const rec = res.json()
  t.match(rec, { org_unit_id: unit, recorder: { display_name: '田中' }, registered_by: { display_name: '高橋' }, redacted: false })
  t.match(await entriesOf(res), [
    { action: 'registerRecording', outcome: 'allowed', status: 201, resource_id: rec.id, details: { flags: ['notice_missing'], case_id: kase.id } },
    { action: 'recording.notice_missing', resource_id: rec.id, details: { reason: 'not_given' } },
  ])
  const changes = await db.selectFrom('changes').select(['kind', 'org_unit_id', 'data']).where('resource_id', '=', rec.id).execute()
  t.match(changes, [{ kind: 'recording.registered', org_unit_id: unit, data: { status: 'active', version: 1, case_id: kase.id } }])
  t.equal((await db.selectFrom('recording_classifications').select('id').where('recording_id', '=', rec.id).execute()).length, 1)
  t.ok(await db.selectFrom('staff_profiles').select('subject').where('subject', '=', 'sup-o').executeTakeFirst(), "the writer's profile is remembered")

  t.test('refused registrations write nothing but their own audit entry', async (t) => {
    const count = async () => {
      const n = (table: 'recordings' | 'recording_classifications' | 'changes' | 'staff_profiles') =>
        db.selectFrom(table).select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()
      return Promise.all([n('recordings'), n('recording_classifications'), n('changes'), n('staff_profiles')])
    }
    const counted = await count()
    const stranger: Identity = { roles: ['staff'], unit, sub: 'staff-x' }
    const refused: Array<[Identity, Record<string, unknown>, number]> = [
      [stranger, { case_id: kase.id }, 422],
      [stranger, { org_unit_id: other }, 403],
      [stranger, { org_unit_id: '0190f3c4-1111-7000-8000-000000000000' }, 422],
      [sup, { case_id: kase.id, org_unit_id: other }, 422],
      [sup, { storage_uri: (await db.selectFrom('recordings').select('storage_uri').where('id', '=', rec.id).executeTakeFirstOrThrow()).storage_uri }, 409],
    ]
    for (const [who, extra, status] of refused) {
      const res = await injectAs(who, { method: 'POST', url, payload: recordingBody(extra) })
      expectStatus(t, res, status, JSON.stringify(extra).slice(0, 80))
      t.match(await entriesOf(res), [{ action: 'registerRecording', outcome: status === 403 ? 'denied' : 'failed', status }], 'only the refusal')
    }
    t.same(await count(), counted, 'no recording, classification, change or staff profile')
  })

  t.test('racing registrations: all on one case succeed; the same media only once', async (t) => {
    const racingCase = await createCase(test, staff)
    const many = await Promise.all(
      Array.from({ length: 10 }, () => injectAs(staff, { method: 'POST', url, payload: recordingBody({ case_id: racingCase.id }) })),
    )
    t.same(
      many.map((r) => r.statusCode),
      many.map(() => 201),
    )
    t.equal(new Set(many.map((r) => r.json().id)).size, 10, 'distinct ids')
    const counted = await db.selectFrom('case_statistics').select('recordings').where('case_id', '=', racingCase.id).executeTakeFirstOrThrow()
    t.equal(counted.recordings, 10, "the case's count has every one")

    const same = recordingBody({ case_id: racingCase.id })
    const racing = await Promise.all(Array.from({ length: 6 }, () => injectAs(staff, { method: 'POST', url, payload: same })))
    t.same(racing.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409, 409])
    const stored = await db
      .selectFrom('recordings')
      .select('id')
      .where('storage_uri', '=', same.storage_uri as string)
      .execute()
    t.same(
      stored.map((r) => r.id),
      [racing.find((r) => r.statusCode === 201)!.json().id],
    )
    const published = await db
      .selectFrom('changes')
      .select('id')
      .where('kind', '=', 'recording.registered')
      .where('data', '@>', { case_id: racingCase.id })
      .execute()
    t.equal(published.length, 11, 'a change for each recording written, none for the refused')
  })
})
