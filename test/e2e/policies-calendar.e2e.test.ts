import t from 'tap'
import { addDays, todayInTokyo } from '../../src/kernel/time.ts'
import { startTestServer } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { databaseIndependent } from '../helpers/database.ts'

// Policies and the office calendar through the SDK generated from the contract, on a real port.
t.test('policies and the office calendar through the generated client', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const admin = await server.client({ roles: ['admin'], sub: 'admin-e2e' })
  const staff = await server.client('staff')
  const today = todayInTokyo()
  const nextWeek = addDays(today, 7)

  const inForce = await staff.GET('/v1/policies')
  expectStatus(t, inForce, 200)
  t.equal(inForce.data?.at, today)
  t.equal(inForce.data?.policies.escalation.body.min_responders.by_severity.high, 2, 'typed per policy type')

  // A retention schedule of the municipality's own, from next week: every body field is typed.
  const created = await admin.POST('/v1/policies/retention/versions', {
    body: {
      effective_from: nextWeek,
      note: '電話録音は1か月、カスハラ事案に使うものは5年 (北広島市の例に倣う)',
      body: {
        rules: [
          {
            record_category: 'phone_recording',
            classification: 'personal_information',
            period: { unit: 'days', value: 30 },
            start: 'creation_date',
            action: 'dispose',
          },
          { record_category: 'case_recording', classification: 'both', period: { unit: 'years', value: 5 }, start: 'next_fiscal_year', action: 'dispose' },
          { record_category: '*', classification: 'administrative_document', period: { unit: 'years', value: 5 }, start: 'next_fiscal_year', action: 'review' },
          { record_category: '*', classification: 'both', period: { unit: 'years', value: 5 }, start: 'next_fiscal_year', action: 'review' },
          { record_category: '*', classification: 'personal_information', period: { unit: 'days', value: 90 }, start: 'creation_date', action: 'dispose' },
          { record_category: '*', classification: 'neither', period: { unit: 'days', value: 90 }, start: 'creation_date', action: 'dispose' },
        ],
      },
    },
  })
  expectStatus(t, created, 201)
  t.equal(created.data?.effective_from, nextWeek)
  t.equal(created.response.headers.get('location'), `/v1/policies/retention/versions/${created.data?.id}`)

  const now = await staff.GET('/v1/policies/{type}', { params: { path: { type: 'retention' } } })
  t.equal(now.data?.id, '00000000-0000-7000-8000-0000000000a4', 'today: still the default schedule')
  const then = await staff.GET('/v1/policies/{type}', { params: { path: { type: 'retention' }, query: { at: nextWeek } } })
  t.equal(then.data?.id, created.data?.id, 'next week: the new schedule')

  const history = await staff.GET('/v1/policies/{type}/versions', { params: { path: { type: 'retention' } } })
  t.same(
    history.data?.items.map((v) => v.effective_from),
    ['1970-01-01', nextWeek],
  )

  const byId = await staff.GET('/v1/policies/{type}/versions/{id}', { params: { path: { type: 'retention', id: created.data!.id } } })
  t.equal(byId.data?.note, created.data?.note)

  const refused = await staff.POST('/v1/policies/name_display/versions', { body: { effective_from: nextWeek, body: { mode: 'full_name' }, note: 'x' } })
  expectStatus(t, refused, 403)
  t.equal(refused.error?.code, 'forbidden')

  const backDated = await admin.POST('/v1/policies/name_display/versions', { body: { effective_from: '2025-04-01', body: { mode: 'full_name' }, note: 'x' } })
  expectStatus(t, backDated, 422)
  t.same(
    backDated.error?.errors?.map((e) => e.pointer),
    ['body/effective_from'],
  )

  const holidays = await staff.GET('/v1/calendar/holidays', { params: { query: { from: '2024-12-28', to: '2025-01-06' } } })
  t.same(
    holidays.data?.items.map((h) => h.date),
    ['2024-12-28', '2024-12-29', '2024-12-30', '2024-12-31', '2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05'],
  )

  const deadline = await staff.GET('/v1/calendar/deadline', { params: { query: { start: '2024-12-10', days: 20 } } })
  t.match(deadline.data, { raw_due_date: '2024-12-30', due_date: '2025-01-06', roll_forward: true })

  const tooLong = await staff.GET('/v1/calendar/deadline', { params: { query: { start: '2024-12-10', days: 5000 } } })
  expectStatus(t, tooLong, 400)
  t.same(
    tooLong.error?.errors?.map((e) => e.pointer),
    ['querystring/days'],
  )
})
