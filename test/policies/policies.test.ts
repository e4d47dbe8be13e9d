import { sql } from 'kysely'
import t from 'tap'
import { ROLES } from '../../src/kernel/access.ts'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { policyInForce } from '../../src/policies/policies.repository.ts'
import { effectiveDateErrors, policyBodyErrors } from '../../src/policies/policies.rules.ts'
import { POLICY_TYPES } from '../../src/policies/policies.schemas.ts'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

// The shipped defaults (migrations/0003_policies.sql; 0012 for disclosure; the response plan 0013_incidents.sql), in force from 1970-01-01.
const DEFAULT_IDS = {
  recording: '00000000-0000-7000-8000-0000000000a1',
  name_display: '00000000-0000-7000-8000-0000000000a2',
  escalation: '00000000-0000-7000-8000-0000000000a3',
  retention: '00000000-0000-7000-8000-0000000000a4',
  calendar: '00000000-0000-7000-8000-0000000000a5',
  incident_response: '00000000-0000-7000-8000-0000000015a1',
  disclosure: '00000000-0000-7000-8000-0000000000d1',
}

const admin = { roles: ['admin' as const], sub: 'admin-1', name: '管理者' }
const pointers = (res: { json(): { errors?: { pointer: string }[] } }) => (res.json().errors ?? []).map((e) => e.pointer).sort()

t.test('a fresh service has a version of every type in force, readable by every role', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const today = todayInTokyo()

  for (const role of ROLES) {
    const res = await injectAs(role, { method: 'GET', url: '/v1/policies' })
    expectStatus(t, res, 200, `${role} reads the policies in force`)
    const body = res.json()
    t.equal(body.at, today, 'today in Asia/Tokyo by default')
    for (const type of POLICY_TYPES) {
      t.match(body.policies[type], { id: DEFAULT_IDS[type], type, effective_from: '1970-01-01', effective_until: null, created_by: 'system' })
    }
  }

  const { policies } = (await injectAs('staff', { method: 'GET', url: '/v1/policies?at=2025-04-01' })).json()
  t.match(policies.recording.body, { notice_required: true, resident_recording: 'permission_required' }, 'notice required; residents record with permission')
  t.same(policies.name_display.body, { mode: 'surname_only' }, 'staff appear by surname only')
  t.same(policies.escalation.body.immediate_categories, ['violence', 'sexual_harassment'])
  t.same(policies.escalation.body.min_responders.by_severity, { low: 1, medium: 1, high: 2, critical: 2 })
  t.match(policies.retention.body.rules, [
    {
      record_category: 'harassment_case_file',
      classification: 'administrative_document',
      period: { unit: 'years', value: 5 },
      start: 'next_fiscal_year',
      action: 'dispose',
    },
  ])
  t.same(
    policies.calendar.body.closures,
    [{ from: '2024-12-30', to: '2025-01-03', reason: '年末・年始休業 (通常業務は 2025-01-06 から)' }],
    "the seed notice's year-end closure",
  )

  t.test('the shipped defaults pass the rules new versions must pass', async (t) => {
    for (const type of POLICY_TYPES) {
      const version = await policyInForce(db, type, today)
      t.same(policyBodyErrors(type, version.body, today), [], type)
    }
  })

  t.test('one type', async (t) => {
    const res = await injectAs('integration', { method: 'GET', url: '/v1/policies/calendar?at=2024-12-30' })
    expectStatus(t, res, 200)
    t.match(res.json(), { id: DEFAULT_IDS.calendar, type: 'calendar', effective_until: null })
  })

  t.test('?at= must be a real date the service answers for, and nothing else is asked', async (t) => {
    for (const [query, pointer] of [
      ['at=2025-02-30', 'querystring/at'],
      ['at=2025-4-1', 'querystring/at'],
      ['at=1969-12-31', 'querystring/at'],
      ['date=2025-04-01', 'querystring/date'],
    ] as const) {
      const res = await injectAs('staff', { method: 'GET', url: `/v1/policies?${query}` })
      expectStatus(t, res, 400, query)
      t.same(pointers(res), [pointer], query)
    }
    const one = await injectAs('staff', { method: 'GET', url: '/v1/policies/recording?at=2025-02-30' })
    expectStatus(t, one, 400)
  })

  t.test('an unknown type is a bad path parameter', async (t) => {
    for (const url of ['/v1/policies/parking', '/v1/policies/parking/versions']) {
      const res = await injectAs('staff', { method: 'GET', url })
      expectStatus(t, res, 400, url)
      t.same(pointers(res), ['params/type'])
    }
    const post = await injectAs(admin, { method: 'POST', url: '/v1/policies/parking/versions', payload: {} })
    // Versions are created one route per type; /v1/policies/{type}/versions answers GET only, so a
    // POST to it is a method the path lacks (405 with Allow), whatever the type.
    expectStatus(t, post, 405, 'no type, no route to create one')
    t.equal(post.headers.allow, 'GET')
  })

  t.test('reads are audited', async (t) => {
    const res = await injectAs('auditor', { method: 'GET', url: '/v1/policies/retention', headers: { 'x-request-id': 'read-retention' } })
    expectStatus(t, res, 200)
    const entry = await db.selectFrom('audit_events').selectAll().where('request_id', '=', 'read-retention').executeTakeFirstOrThrow()
    t.match(entry, { action: 'getPolicyInForce', resource_type: 'policy', resource_id: DEFAULT_IDS.retention, outcome: 'allowed', status: 200 })
  })
})

t.test('a version for a future date does not change today’s answer but answers for that date', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const today = todayInTokyo()
  const tomorrow = addDays(today, 1)

  const created = await injectAs(admin, {
    method: 'POST',
    url: '/v1/policies/name_display/versions',
    headers: { 'x-request-id': 'create-name-display' },
    payload: { effective_from: tomorrow, body: { mode: 'business_name' }, note: '名札の見直し: 明日からビジネスネーム' },
  })
  expectStatus(t, created, 201)
  const version = created.json()
  t.match(version, {
    type: 'name_display',
    effective_from: tomorrow,
    effective_until: null,
    body: { mode: 'business_name' },
    note: '名札の見直し: 明日からビジネスネーム',
    created_by: 'admin-1',
  })
  t.match(version.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/)
  t.equal(created.headers.location, `/v1/policies/name_display/versions/${version.id}`)

  const now = (await injectAs('staff', { method: 'GET', url: '/v1/policies/name_display' })).json()
  t.match(now, { id: DEFAULT_IDS.name_display, body: { mode: 'surname_only' }, effective_until: today }, 'today still the default, which ends today')
  const then = (await injectAs('staff', { method: 'GET', url: `/v1/policies/name_display?at=${tomorrow}` })).json()
  t.match(then, { id: version.id, body: { mode: 'business_name' } }, 'tomorrow the new version')
  const all = (await injectAs('staff', { method: 'GET', url: `/v1/policies?at=${tomorrow}` })).json()
  t.equal(all.policies.name_display.id, version.id)
  t.equal(all.policies.recording.id, DEFAULT_IDS.recording, 'other types are untouched')

  const history = (await injectAs('desk', { method: 'GET', url: '/v1/policies/name_display/versions' })).json()
  t.match(history, { type: 'name_display', today, in_force_id: DEFAULT_IDS.name_display })
  t.same(
    history.items.map((v: { id: string; effective_from: string; effective_until: string | null }) => [v.id, v.effective_from, v.effective_until]),
    [
      [DEFAULT_IDS.name_display, '1970-01-01', today],
      [version.id, tomorrow, null],
    ],
    'oldest first, each with its last day',
  )

  const byId = await injectAs('staff', { method: 'GET', url: `/v1/policies/name_display/versions/${version.id}` })
  t.match(byId.json(), { id: version.id, effective_from: tomorrow })
  const wrongType = await injectAs('staff', { method: 'GET', url: `/v1/policies/recording/versions/${version.id}` })
  expectStatus(t, wrongType, 404, 'a version is found under its own type only')

  t.test('the creation is audited and published on the change feed', async (t) => {
    const entry = await db.selectFrom('audit_events').selectAll().where('request_id', '=', 'create-name-display').executeTakeFirstOrThrow()
    t.match(entry, {
      action: 'createNameDisplayPolicyVersion',
      subject: 'admin-1',
      resource_type: 'policy',
      resource_id: version.id,
      outcome: 'allowed',
      status: 201,
    })
    const change = await db.selectFrom('changes').selectAll().where('resource_id', '=', version.id).executeTakeFirstOrThrow()
    t.match(change, { kind: 'policy.version_created', resource_type: 'policy', org_unit_id: null, data: { type: 'name_display', effective_from: tomorrow } })
  })

  t.test('a later version supersedes the earlier one from its own date', async (t) => {
    const later = addDays(today, 30)
    const res = await injectAs(admin, {
      method: 'POST',
      url: '/v1/policies/name_display/versions',
      payload: { effective_from: later, body: { mode: 'full_name' }, note: '氏名表示に戻す' },
    })
    expectStatus(t, res, 201)
    const ask = async (at: string) => (await injectAs('staff', { method: 'GET', url: `/v1/policies/name_display?at=${at}` })).json()
    t.match(await ask(addDays(later, -1)), { id: version.id, effective_until: addDays(later, -1) })
    t.match(await ask(later), { id: res.json().id, body: { mode: 'full_name' }, effective_until: null })
    t.match(await ask('2099-12-31'), { id: res.json().id })
  })

  t.test('a version may take effect today, and then decides today', async (t) => {
    const res = await injectAs(admin, {
      method: 'POST',
      url: '/v1/policies/recording/versions',
      payload: {
        effective_from: today,
        body: { notice_required: true, notice_methods: ['verbal', 'sign'], resident_recording: 'prohibited', purposes: ['証拠保全'] },
        note: '庁舎管理権に基づき住民による録音・録画を禁止',
      },
    })
    expectStatus(t, res, 201)
    const now = (await injectAs('staff', { method: 'GET', url: '/v1/policies/recording' })).json()
    t.equal(now.id, res.json().id)
    const before = (await injectAs('staff', { method: 'GET', url: `/v1/policies/recording?at=${addDays(today, -1)}` })).json()
    t.match(before, { id: DEFAULT_IDS.recording, effective_until: addDays(today, -1) }, 'yesterday is still answered by the default')
  })

  t.test('two versions of one type may not share a date (409, audited as failed)', async (t) => {
    const res = await injectAs(admin, {
      method: 'POST',
      url: '/v1/policies/name_display/versions',
      headers: { 'x-request-id': 'same-date' },
      payload: { effective_from: tomorrow, body: { mode: 'full_name' }, note: 'again' },
    })
    expectStatus(t, res, 409)
    t.equal(res.json().code, 'conflict')
    const entry = await db.selectFrom('audit_events').selectAll().where('request_id', '=', 'same-date').executeTakeFirstOrThrow()
    t.match(entry, { outcome: 'failed', status: 409 })
    const other = await injectAs(admin, {
      method: 'POST',
      url: '/v1/policies/escalation/versions',
      payload: {
        effective_from: tomorrow,
        body: { immediate_categories: ['violence'], min_responders: { channels: ['counter'], by_severity: { low: 1, medium: 1, high: 2, critical: 3 } } },
        note: 'another type may share the date',
      },
    })
    expectStatus(t, other, 201)
  })

  t.test('versions are immutable in the database itself', async (t) => {
    await t.rejects(sql`update policy_versions set note = 'rewritten'`.execute(db), /immutable/)
    await t.rejects(sql`delete from policy_versions where id = ${version.id}`.execute(db), /immutable/)
  })
})

t.test('a back-dated version is refused', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const yesterday = addDays(todayInTokyo(), -1)
  for (const date of [yesterday, '2025-04-01']) {
    const res = await injectAs(admin, {
      method: 'POST',
      url: '/v1/policies/calendar/versions',
      payload: { effective_from: date, body: { closures: [] }, note: 'back-dated' },
    })
    expectStatus(t, res, 422, date)
    t.equal(res.json().code, 'validation-failed')
    t.same(pointers(res), ['body/effective_from'])
  }
  const count = await db
    .selectFrom('policy_versions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  t.equal(Number(count.n), POLICY_TYPES.length, 'nothing was written: one default version per type')
  t.same(effectiveDateErrors('2026-01-01', '2026-01-01'), [], 'today is allowed')
})

t.test('invalid bodies are refused, naming every failing field', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const tomorrow = addDays(todayInTokyo(), 1)
  const post = (type: string, payload: unknown) => injectAs(admin, { method: 'POST', url: `/v1/policies/${type}/versions`, payload: payload as object })
  const validRecording = { notice_required: true, notice_methods: ['verbal'], resident_recording: 'allowed', purposes: ['記録保全'] }

  t.test('the envelope', async (t) => {
    const res = await post('recording', { effective_from: '2026-13-01', body: validRecording, note: '', extra: 1 })
    expectStatus(t, res, 422)
    t.same(pointers(res), ['body/effective_from', 'body/extra', 'body/note'])
    const missing = await post('recording', {})
    t.same(pointers(missing), ['body/body', 'body/effective_from', 'body/note'])
  })

  t.test('recording', async (t) => {
    const res = await post('recording', {
      effective_from: tomorrow,
      body: { notice_required: 'yes', notice_methods: ['verbal', 'smoke_signal'], resident_recording: 'maybe', colour: 'red' },
      note: 'broken',
    })
    expectStatus(t, res, 422)
    t.same(pointers(res), ['body/body/colour', 'body/body/notice_methods/1', 'body/body/notice_required', 'body/body/purposes', 'body/body/resident_recording'])
    const empty = await post('recording', { effective_from: tomorrow, body: { ...validRecording, notice_methods: [] }, note: 'no methods' })
    t.same(pointers(empty), ['body/body/notice_methods'])
  })

  t.test('name_display', async (t) => {
    const res = await post('name_display', { effective_from: tomorrow, body: { mode: 'nickname' }, note: 'x' })
    t.same(pointers(res), ['body/body/mode'])
  })

  t.test('escalation', async (t) => {
    const res = await post('escalation', {
      effective_from: tomorrow,
      body: { immediate_categories: ['violence', 'kicking'], min_responders: { channels: ['counter'], by_severity: { low: 1, medium: 1, high: 0 } } },
      note: 'x',
    })
    t.same(pointers(res), ['body/body/immediate_categories/1', 'body/body/min_responders/by_severity/critical', 'body/body/min_responders/by_severity/high'])
    // Schema-valid but contradictory: a critical case needing fewer responders than a high one.
    const inverted = await post('escalation', {
      effective_from: tomorrow,
      body: { immediate_categories: [], min_responders: { channels: ['counter'], by_severity: { low: 2, medium: 1, high: 3, critical: 2 } } },
      note: 'x',
    })
    expectStatus(t, inverted, 422)
    t.same(pointers(inverted), ['body/body/min_responders/by_severity/critical', 'body/body/min_responders/by_severity/medium'])
  })

  t.test('retention', async (t) => {
    const rule = (record_category: string, classification: string, period: object, start = 'next_fiscal_year', action = 'dispose') => ({
      record_category,
      classification,
      period,
      start,
      action,
    })
    const fallbacks = [
      rule('*', 'administrative_document', { unit: 'years', value: 5 }, 'next_fiscal_year', 'review'),
      rule('*', 'both', { unit: 'years', value: 5 }, 'next_fiscal_year', 'review'),
      rule('*', 'personal_information', { unit: 'days', value: 90 }, 'creation_date'),
    ]
    const schemaBroken = await post('retention', {
      effective_from: tomorrow,
      body: { rules: [rule('Case Files', 'secret', { unit: 'years', value: 2 }, 'someday', 'burn')] },
      note: 'x',
    })
    expectStatus(t, schemaBroken, 422)
    t.same(
      pointers(schemaBroken).filter((p) => !p.startsWith('body/body/rules/0/period')),
      ['body/body/rules/0/action', 'body/body/rules/0/classification', 'body/body/rules/0/record_category', 'body/body/rules/0/start'],
    )
    t.ok(pointers(schemaBroken).includes('body/body/rules/0/period/value'), 'a period of 2 years is not a standard period')

    const contradictory = await post('retention', {
      effective_from: tomorrow,
      body: {
        rules: [
          ...fallbacks, // no '*' rule for neither
          rule('phone_recording', 'personal_information', { unit: 'days', value: 30 }, 'next_fiscal_year'),
          rule('phone_recording', 'personal_information', { unit: 'days', value: 90 }, 'creation_date', 'transfer'),
        ],
      },
      note: 'x',
    })
    expectStatus(t, contradictory, 422)
    t.same(contradictory.json().errors, [
      { pointer: 'body/body/rules/3/start', message: 'a period of less than a year counts from the creation date (creation_date)' },
      { pointer: 'body/body/rules/4', message: 'repeats rules/3 (phone_recording, personal_information): each pair has one rule' },
      {
        pointer: 'body/body/rules/4/action',
        message: 'a record kept less than a year is not transferred to the archives (移管): give it a period of a year or more',
      },
      { pointer: 'body/body/rules', message: "has no '*' rule for neither: every record category must find a rule" },
    ])

    const good = await post('retention', {
      effective_from: tomorrow,
      body: {
        rules: [
          ...fallbacks,
          rule('*', 'neither', { unit: 'days', value: 30 }, 'creation_date'),
          rule('harassment_case_file', 'administrative_document', { unit: 'years', value: 10 }, 'next_fiscal_year', 'transfer'),
        ],
      },
      note: 'カスハラ対応記録を10年保存・移管に',
    })
    expectStatus(t, good, 201)
  })

  t.test('calendar', async (t) => {
    const res = await post('calendar', {
      effective_from: '2040-06-01',
      body: {
        closures: [
          { from: '2040-08-14', to: '2040-08-13', reason: '逆順' },
          { from: '2040-05-30', to: '2040-06-02', reason: '施行日をまたぐ' },
          { from: '2040-07-01', to: '2042-07-01', reason: '長すぎる' },
          { from: '2040-02-30', to: '2040-03-01', reason: '' },
          { from: '2039-12-29', to: '2040-01-03', reason: '過去の休業 (施行前、効力なし)' },
        ],
      },
      note: 'x',
    })
    expectStatus(t, res, 422)
    t.same(pointers(res), ['body/body/closures/3/from', 'body/body/closures/3/reason'], 'the schema first')
    const semantic = await post('calendar', {
      effective_from: '2040-06-01',
      body: {
        closures: [
          { from: '2040-08-14', to: '2040-08-13', reason: '逆順' },
          { from: '2040-05-30', to: '2040-06-02', reason: '施行日をまたぐ' },
          { from: '2040-07-01', to: '2042-07-01', reason: '長すぎる' },
          { from: '2039-12-29', to: '2040-01-03', reason: '過去の休業 (施行前、効力なし)' },
        ],
      },
      note: 'x',
    })
    expectStatus(t, semantic, 422)
    t.same(pointers(semantic), ['body/body/closures/0/to', 'body/body/closures/1/from', 'body/body/closures/2/to'])
  })

  t.test('incident_response', async (t) => {
    const reporting = {
      first_report_days: 10,
      final_report_days: 5,
      final_report_days_wrongful_purpose: 4,
      day_one: 'awareness_date',
      roll_forward_office_holidays: true,
      warn_days_before: 2,
    }
    const categories = [
      { code: 'sexual_orientation', label: '性的指向' },
      { code: 'sexual_orientation', label: '重複' },
    ]
    const res = await post('incident_response', {
      effective_from: '2040-06-01',
      body: { contacts: [], persons_threshold: 100, ordinance_sensitive_categories: categories, reporting },
      note: 'x',
    })
    expectStatus(t, res, 422)
    t.same(pointers(res), [
      'body/body/ordinance_sensitive_categories/1/code',
      'body/body/reporting/final_report_days',
      'body/body/reporting/final_report_days_wrongful_purpose',
    ])
  })

  t.test('a back-dated and broken body: every mistake at once', async (t) => {
    const res = await post('calendar', { effective_from: '2024-01-01', body: { closures: [{ from: '2024-08-14', to: '2024-08-13', reason: 'x' }] }, note: 'x' })
    t.same(pointers(res), ['body/body/closures/0/to', 'body/effective_from'])
  })
})

t.test('only administrators create versions; every refusal is audited', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const tomorrow = addDays(todayInTokyo(), 1)
  for (const role of ROLES.filter((r) => r !== 'admin')) {
    const res = await injectAs(
      { roles: [role], sub: `${role}-9` },
      {
        method: 'POST',
        url: '/v1/policies/calendar/versions',
        headers: { 'x-request-id': `deny-${role}` },
        payload: { effective_from: tomorrow, body: { closures: [] }, note: 'not mine to set' },
      },
    )
    expectStatus(t, res, 403, role)
    t.equal(res.json().code, 'forbidden')
    const entry = await db.selectFrom('audit_events').selectAll().where('request_id', '=', `deny-${role}`).executeTakeFirstOrThrow()
    t.match(
      entry,
      { action: 'createCalendarPolicyVersion', subject: `${role}-9`, roles: [role], resource_type: 'policy', outcome: 'denied', status: 403 },
      `${role}: audited`,
    )
  }
  const versions = (await injectAs('admin', { method: 'GET', url: '/v1/policies/calendar/versions' })).json()
  t.equal(versions.items.length, 1, 'only the default')
})

t.test('concurrent creations on one date: one wins, the other is 409', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const date = addDays(todayInTokyo(), 7)
  const results = await Promise.all(
    ['business_name', 'full_name'].map((mode) =>
      injectAs(admin, { method: 'POST', url: '/v1/policies/name_display/versions', payload: { effective_from: date, body: { mode }, note: mode } }),
    ),
  )
  t.same(results.map((r) => r.statusCode).sort(), [201, 409])
})

t.test('Idempotency-Key: a retried creation answers the first response', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const request = {
    method: 'POST' as const,
    url: '/v1/policies/name_display/versions',
    headers: { 'idempotency-key': 'name-2040' },
    payload: { effective_from: '2040-04-01', body: { mode: 'business_name' }, note: 'retry me' },
  }
  const first = await injectAs(admin, request)
  const again = await injectAs(admin, request)
  expectStatus(t, first, 201)
  expectStatus(t, again, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.json().id, first.json().id)
})
