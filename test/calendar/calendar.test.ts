import t from 'tap'
import { ROLES } from '../../src/kernel/access.ts'
import { buildTestApp } from '../helpers/app.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'

// The office calendar over HTTP, on a real database: the shipped calendar policy (in force from
// 1970-01-01) carries the seed notice's closure 2024-12-30 – 2025-01-03, work resuming 2025-01-06.
const DEFAULT_CALENDAR = '00000000-0000-7000-8000-0000000000a5'
const SEED_CLOSURE = { kind: 'closure', reason: '年末・年始休業 (通常業務は 2025-01-06 から)', from: '2024-12-30', to: '2025-01-03' }
const sat = { kind: 'weekend', day: 'saturday' }
const sun = { kind: 'weekend', day: 'sunday' }
const yearEnd = { kind: 'year_end' }

const admin = { roles: ['admin' as const], sub: 'admin-cal' }
const pointers = (res: { json(): { errors?: { pointer: string }[] } }) => (res.json().errors ?? []).map((e) => e.pointer).sort()

t.test('office holidays for December 2024 – January 2025: the law and the seed notice', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const res = await injectAs('staff', { method: 'GET', url: '/v1/calendar/holidays?from=2024-12-01&to=2025-01-31' })
  expectStatus(t, res, 200)
  const body = res.json()
  t.match(body, { from: '2024-12-01', to: '2025-01-31', calendar_version_ids: [DEFAULT_CALENDAR] })
  t.same(
    body.items.map((h: { date: string; reasons: unknown[] }) => [h.date, h.reasons]),
    [
      ['2024-12-01', [sun]],
      ['2024-12-07', [sat]],
      ['2024-12-08', [sun]],
      ['2024-12-14', [sat]],
      ['2024-12-15', [sun]],
      ['2024-12-21', [sat]],
      ['2024-12-22', [sun]],
      ['2024-12-28', [sat]],
      // 12/29 – 1/3 by law (行政機関の休日に関する法律第1条第1項第3号); the seed's closure covers 12/30 – 1/3.
      ['2024-12-29', [sun, yearEnd]],
      ['2024-12-30', [yearEnd, SEED_CLOSURE]],
      ['2024-12-31', [yearEnd, SEED_CLOSURE]],
      ['2025-01-01', [{ kind: 'national_holiday', name: '元日', name_en: "New Year's Day" }, yearEnd, SEED_CLOSURE]],
      ['2025-01-02', [yearEnd, SEED_CLOSURE]],
      ['2025-01-03', [yearEnd, SEED_CLOSURE]],
      ['2025-01-04', [sat]],
      ['2025-01-05', [sun]],
      // 2025-01-06 (Mon): 通常業務を開始 — a working day, so not listed.
      ['2025-01-11', [sat]],
      ['2025-01-12', [sun]],
      ['2025-01-13', [{ kind: 'national_holiday', name: '成人の日', name_en: 'Coming of Age Day' }]],
      ['2025-01-18', [sat]],
      ['2025-01-19', [sun]],
      ['2025-01-25', [sat]],
      ['2025-01-26', [sun]],
    ],
  )
  expectEvery(t, body.items, (h: { calendar_version_id: string }) => h.calendar_version_id === DEFAULT_CALENDAR, 'each date names the version that decided it')

  t.test('every role reads the calendar', async (t) => {
    for (const role of ROLES) {
      const one = await injectAs(role, { method: 'GET', url: '/v1/calendar/holidays?from=2025-01-06&to=2025-01-06' })
      expectStatus(t, one, 200, role)
      t.same(one.json().items, [], `${role}: 2025-01-06 is a working day`)
    }
  })

  t.test('bad ranges are 400 naming the parameter', async (t) => {
    for (const [query, pointer] of [
      ['from=2025-01-31&to=2025-01-01', 'querystring/to'],
      ['from=2024-01-01&to=2027-01-01', 'querystring/to'], // more than 3 years
      ['from=2024-02-30&to=2024-03-01', 'querystring/from'],
      ['from=1969-12-01&to=1970-01-31', 'querystring/from'],
      ['from=2050-12-01&to=2051-01-31', 'querystring/to'], // beyond the national holiday data
      ['from=2025-01-01', 'querystring/to'],
      ['from=2025-01-01&to=2025-01-02&at=2025-01-01', 'querystring/at'],
    ] as const) {
      const res = await injectAs('staff', { method: 'GET', url: `/v1/calendar/holidays?${query}` })
      expectStatus(t, res, 400, query)
      t.same(pointers(res), [pointer], query)
    }
    const threeYears = await injectAs('staff', { method: 'GET', url: '/v1/calendar/holidays?from=2024-01-01&to=2026-12-31' })
    expectStatus(t, threeYears, 200, 'exactly three years is fine')
  })
})

t.test('deadlines counted across New Year, national holidays and closures', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const deadline = async (query: string) => {
    const res = await injectAs('desk', { method: 'GET', url: `/v1/calendar/deadline?${query}` })
    expectStatus(t, res, 200, query)
    return res.json()
  }

  t.test('30 days from 2024-12-10 with the seed closure', async (t) => {
    // Worked by hand. Day 1 is 2024-12-11, the day after the start (民法第140条, 初日不算入).
    // 2024-12-11 … 2024-12-31 are days 1–21; 2025-01-01 … 2025-01-09 are days 22–30.
    // So the period ends on 2025-01-09 (Thursday). It crosses New Year (12/29 – 1/3 by law),
    // 元日 (a national holiday), the seed's closure 2024-12-30 – 2025-01-03 and two weekends, but
    // days are calendar days: holidays inside the period do not lengthen it. Only a period
    // ending on an office holiday moves (行政機関の休日に関する法律第2条); Thursday 1/9 is a
    // working day, so the due date is 2025-01-09 and nothing is skipped.
    const d = await deadline('start=2024-12-10&days=30')
    t.same(d, {
      start: '2024-12-10',
      days: 30,
      kind: 'filing',
      counted_from: '2024-12-11',
      raw_due_date: '2025-01-09',
      raw_due_date_is_holiday: false,
      roll_forward: true,
      due_date: '2025-01-09',
      skipped: [],
      calendar_version_ids: [DEFAULT_CALENDAR],
    })
  })

  t.test('20 days from 2024-12-10 ends inside the closure and moves to 2025-01-06', async (t) => {
    // Day 20 is 2024-12-30 (Mon): year-end by law and the seed's closure. Next days: 12/31
    // (year-end, closure), 1/1 (元日, year-end, closure), 1/2 and 1/3 (year-end, closure), 1/4 Sat,
    // 1/5 Sun. Monday 2025-01-06 is the first working day — the day the seed says work resumes.
    const d = await deadline('start=2024-12-10&days=20')
    t.match(d, { raw_due_date: '2024-12-30', raw_due_date_is_holiday: true, due_date: '2025-01-06', calendar_version_ids: [DEFAULT_CALENDAR] })
    t.same(
      d.skipped.map((s: { date: string; reasons: { kind: string }[] }) => [s.date, s.reasons.map((r) => r.kind)]),
      [
        ['2024-12-30', ['year_end', 'closure']],
        ['2024-12-31', ['year_end', 'closure']],
        ['2025-01-01', ['national_holiday', 'year_end', 'closure']],
        ['2025-01-02', ['year_end', 'closure']],
        ['2025-01-03', ['year_end', 'closure']],
        ['2025-01-04', ['weekend']],
        ['2025-01-05', ['weekend']],
      ],
    )
  })

  t.test('30 days from 2024-12-14 ends on 成人の日 and moves to the Tuesday', async (t) => {
    // 2024-12-15 … 12-31 are days 1–17; 2025-01-01 … 01-13 are days 18–30. 2025-01-13 is the
    // second Monday of January, 成人の日: the deadline moves to Tuesday 2025-01-14.
    const d = await deadline('start=2024-12-14&days=30')
    t.match(d, {
      raw_due_date: '2025-01-13',
      due_date: '2025-01-14',
      skipped: [{ date: '2025-01-13', reasons: [{ kind: 'national_holiday', name: '成人の日' }] }],
    })
  })

  t.test('days 0: the start day itself, moved off a holiday', async (t) => {
    t.match(await deadline('start=2025-01-01&days=0'), { raw_due_date: '2025-01-01', due_date: '2025-01-06' })
    t.match(await deadline('start=2025-01-06&days=0'), { raw_due_date: '2025-01-06', due_date: '2025-01-06', skipped: [] })
  })

  t.test('bad deadline queries are 400 naming the parameter', async (t) => {
    for (const [query, pointer] of [
      ['start=2024-12-10&days=3651', 'querystring/days'],
      ['start=2024-12-10&days=-1', 'querystring/days'],
      ['start=2024-12-10&days=1.5', 'querystring/days'],
      ['start=2024-12-10&days=thirty', 'querystring/days'],
      ['start=2024-12-10&days=', 'querystring/days'],
      ['start=2024-12-10&days=0x1e', 'querystring/days'],
      ['start=2024-02-30&days=1', 'querystring/start'],
      ['start=1969-12-31&days=1', 'querystring/start'],
      ['start=2050-12-01&days=60', 'querystring/days'], // past the national holiday data
      ['start=2050-12-30&days=0', 'querystring/days'], // 12/30, 12/31 roll into 2051
      ['start=2024-12-10&days=1&kind=whenever', 'querystring/kind'],
      ['days=1', 'querystring/start'],
    ] as const) {
      const res = await injectAs('staff', { method: 'GET', url: `/v1/calendar/deadline?${query}` })
      expectStatus(t, res, 400, query)
      t.same(pointers(res), [pointer], query)
    }
  })
})

t.test('future calendar versions decide their own dates, and only those', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const deadline = async (query: string) => (await injectAs('supervisor', { method: 'GET', url: `/v1/calendar/deadline?${query}` })).json()
  const holidays = async (from: string, to: string) =>
    (await injectAs('supervisor', { method: 'GET', url: `/v1/calendar/holidays?from=${from}&to=${to}` })).json()

  // Before any new version: 30 days from 2040-11-28 end on Friday 2040-12-28, a working day.
  t.match(await deadline('start=2040-11-28&days=30'), { due_date: '2040-12-28', skipped: [] })

  // The office announces closures for the 2040–41 year end: Friday 12/28 (before the legal 12/29)
  // and Friday 1/4 (after the legal 1/3).
  const v1 = await injectAs(admin, {
    method: 'POST',
    url: '/v1/policies/calendar/versions',
    payload: {
      effective_from: '2040-06-01',
      body: {
        closures: [
          { from: '2040-12-28', to: '2040-12-28', reason: '年末特別休業' },
          { from: '2041-01-04', to: '2041-01-04', reason: '年始特別休業' },
        ],
      },
      note: '令和22年度 年末年始の特別休業',
    },
  })
  expectStatus(t, v1, 201)
  const v1Id = v1.json().id

  t.test('a past answer does not change', async (t) => {
    t.match(await deadline('start=2024-12-10&days=30'), { due_date: '2025-01-09', calendar_version_ids: [DEFAULT_CALENDAR] })
    t.equal((await holidays('2024-12-30', '2024-12-30')).items[0].calendar_version_id, DEFAULT_CALENDAR)
  })

  t.test('30 days from 2040-11-28 now cross a closure, New Year, 元日, another closure and a weekend', async (t) => {
    // Worked by hand. Day 1 is 2040-11-29; 11/29 – 11/30 are days 1–2, 12/1 – 12/28 days 3–30:
    // the period ends on Friday 2040-12-28, now closed (年末特別休業). Moving forward: 12/29 Sat and
    // 12/30 Sun (weekend, year-end), 12/31 Mon (year-end), 2041-01-01 Tue (元日, year-end), 1/2 and
    // 1/3 (year-end), 1/4 Fri (年始特別休業), 1/5 Sat, 1/6 Sun. Monday 2041-01-07 is the due date.
    const d = await deadline('start=2040-11-28&days=30')
    t.match(d, { raw_due_date: '2040-12-28', raw_due_date_is_holiday: true, due_date: '2041-01-07', calendar_version_ids: [v1Id] })
    t.same(
      d.skipped.map((s: { date: string }) => s.date),
      ['2040-12-28', '2040-12-29', '2040-12-30', '2040-12-31', '2041-01-01', '2041-01-02', '2041-01-03', '2041-01-04', '2041-01-05', '2041-01-06'],
    )
    t.same(d.skipped[7].reasons, [{ kind: 'closure', reason: '年始特別休業', from: '2041-01-04', to: '2041-01-04' }])
  })

  t.test('a later version cancels the 1/4 closure from its own date: each date follows its version', async (t) => {
    const v2 = await injectAs(admin, {
      method: 'POST',
      url: '/v1/policies/calendar/versions',
      payload: { effective_from: '2041-01-04', body: { closures: [] }, note: '年始特別休業を取りやめ' },
    })
    expectStatus(t, v2, 201)
    const v2Id = v2.json().id
    // 12/28 is still closed (v1 is in force that day); 1/4 now is a working day (v2 is).
    const d = await deadline('start=2040-11-28&days=30')
    t.match(d, { raw_due_date: '2040-12-28', due_date: '2041-01-04', calendar_version_ids: [v1Id, v2Id] })
    t.same(d.skipped.at(-1).date, '2041-01-03')

    const list = await holidays('2040-12-27', '2041-01-07')
    t.same(list.calendar_version_ids, [v1Id, v2Id])
    t.same(
      list.items.map((h: { date: string; calendar_version_id: string }) => [
        h.date,
        h.calendar_version_id === v1Id ? 'v1' : h.calendar_version_id === v2Id ? 'v2' : '?',
      ]),
      [
        ['2040-12-28', 'v1'],
        ['2040-12-29', 'v1'],
        ['2040-12-30', 'v1'],
        ['2040-12-31', 'v1'],
        ['2041-01-01', 'v1'],
        ['2041-01-02', 'v1'],
        ['2041-01-03', 'v1'],
        ['2041-01-05', 'v2'],
        ['2041-01-06', 'v2'],
      ],
    )
  })

  t.test("the office's own decision deadlines move only when the calendar policy says so", async (t) => {
    // From 2042 the office decides that its own decision deadlines (e.g. 開示決定等の期限) do not
    // move; deadlines for acts toward the office still do (第2条).
    const v3 = await injectAs(admin, {
      method: 'POST',
      url: '/v1/policies/calendar/versions',
      payload: { effective_from: '2042-01-01', body: { closures: [], office_decisions_roll_forward: false }, note: '処理期限は休日でも繰り延べない' },
    })
    expectStatus(t, v3, 201)
    // 2041-12-15 … 12-31 are days 1–17, 2042-01-01 … 01-13 days 18–30: 2042-01-13 is 成人の日.
    t.match(await deadline('start=2041-12-14&days=30'), { kind: 'filing', roll_forward: true, due_date: '2042-01-14' })
    t.match(await deadline('start=2041-12-14&days=30&kind=office_decision'), {
      kind: 'office_decision',
      raw_due_date: '2042-01-13',
      raw_due_date_is_holiday: true,
      roll_forward: false,
      due_date: '2042-01-13',
      skipped: [],
      calendar_version_ids: [v3.json().id],
    })
    // Where the switch is absent (the default version), decision deadlines move too.
    t.match(await deadline('start=2024-12-14&days=30&kind=office_decision'), { roll_forward: true, due_date: '2025-01-14' })
  })
})
