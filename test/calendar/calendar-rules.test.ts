import holidayJp from '@holiday-jp/holiday_jp'
import t from 'tap'
import {
  CALENDAR_LAST_DATE,
  calendarVersionOn,
  dueDate,
  holidayReasons,
  holidaysBetween,
  isOfficeHoliday,
  type CalendarVersion,
} from '../../src/calendar/calendar.rules.ts'
import { addDays, weekday } from '../../src/kernel/time.ts'

// The pure calendar rules, with calendar versions written out as data (as the database returns them).
const version = (
  id: string,
  effective_from: string,
  closures: CalendarVersion['body']['closures'] = [],
  extra: Partial<CalendarVersion['body']> = {},
): CalendarVersion => ({
  id,
  type: 'calendar',
  effective_from,
  body: { closures, ...extra },
  note: '',
  created_by: 'test',
  created_at: '2026-01-01T00:00:00.000Z',
})
const base = version('base', '1970-01-01')

t.test('national holidays come from @holiday-jp/holiday_jp, every one of them', async (t) => {
  const national = Object.keys(holidayJp.holidays)
  t.ok(national.length > 1000)
  let mismatches = 0
  for (let date = '2000-01-01'; date <= '2030-12-31'; date = addDays(date, 1)) {
    const named = holidayReasons(date, base).some((r) => r.kind === 'national_holiday')
    if (named !== holidayJp.isHoliday(date)) mismatches++
  }
  t.equal(mismatches, 0, 'each date of 2000–2030 agrees with the package')
  t.same(
    holidayReasons('2025-05-06', base),
    [{ kind: 'national_holiday', name: 'こどもの日 振替休日', name_en: 'Holiday in lieu' }],
    'substitute holidays (振替休日) included',
  )
  t.equal(CALENDAR_LAST_DATE, '2050-12-31', 'the data runs to the end of 2050')
})

t.test('weekends, 12/29 – 1/3 and closures', async (t) => {
  t.same(holidayReasons('2025-01-06', base), [], 'a Monday in January is a working day')
  t.same(holidayReasons('2026-12-29', base), [{ kind: 'year_end' }], '12/29 is a holiday by law even on a Tuesday')
  t.same(holidayReasons('2027-01-03', base), [{ kind: 'weekend', day: 'sunday' }, { kind: 'year_end' }])
  t.same(holidayReasons('2026-12-28', base), [], '12/28 is not')
  const closed = version('c', '1970-01-01', [{ from: '2026-08-13', to: '2026-08-14', reason: '夏季一斉休業' }])
  t.same(holidayReasons('2026-08-13', closed), [{ kind: 'closure', reason: '夏季一斉休業', from: '2026-08-13', to: '2026-08-14' }])
  t.notOk(isOfficeHoliday('2026-08-12', closed))
  t.ok(isOfficeHoliday('2026-08-14', closed))
  t.throws(
    () => holidayReasons('2051-01-02', base),
    { name: 'CalendarError', reason: 'out_of_range' },
    'beyond the national holiday data: refused, never guessed',
  )
})

t.test('each date follows the version in force on it', async (t) => {
  const v1 = version('v1', '1970-01-01', [{ from: '2030-05-07', to: '2030-05-10', reason: 'A' }])
  const v2 = version('v2', '2030-05-09')
  t.equal(calendarVersionOn([v1, v2], '2030-05-08').id, 'v1')
  t.equal(calendarVersionOn([v1, v2], '2030-05-09').id, 'v2')
  t.same(
    holidaysBetween('2030-05-07', '2030-05-10', [v1, v2]).map((h) => [h.date, h.calendar_version_id]),
    [
      ['2030-05-07', 'v1'],
      ['2030-05-08', 'v1'],
    ],
    'v1 closes 5/7 – 5/10, but from 5/9 v2 decides and closes nothing',
  )
})

t.test('due dates: properties over many starts and lengths', async (t) => {
  const versions = [base, version('v2', '2027-04-01', [{ from: '2027-12-27', to: '2028-01-07', reason: 'long' }])]
  let seed = 20241210
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  for (let i = 0; i < 2000; i++) {
    const start = addDays('2020-01-01', random(365 * 12))
    const days = random(400)
    const d = dueDate(start, days, versions)
    if (d.raw_due_date !== addDays(start, days)) t.fail(`${start}+${days}: raw due date`)
    if (d.due_date < d.raw_due_date) t.fail(`${start}+${days}: due before raw`)
    if (isOfficeHoliday(d.due_date, calendarVersionOn(versions, d.due_date))) t.fail(`${start}+${days}: due on a holiday`)
    const between: string[] = []
    for (let x = d.raw_due_date; x < d.due_date; x = addDays(x, 1)) between.push(x)
    if (between.join() !== d.skipped.map((s) => s.date).join()) t.fail(`${start}+${days}: skipped is not every date moved over`)
    if (!between.every((x) => isOfficeHoliday(x, calendarVersionOn(versions, x)))) t.fail(`${start}+${days}: moved over a working day`)
  }
  t.pass('2000 random deadlines: raw = start + days, due on the first working day from raw, every skipped day a holiday')
  t.equal(dueDate('2027-12-01', 26, versions).due_date, '2028-01-11', 'a long closure: 12/27 – 1/7, then Sat, Sun and 成人の日 (1/10)')
  t.equal(weekday('2028-01-11'), 2)
})

t.test('a calendar with no working day in reach is refused, not looped on', async (t) => {
  const closedForever = [
    base,
    version('x', '2030-01-01', [
      { from: '2030-01-01', to: '2030-12-31', reason: '1' },
      { from: '2031-01-01', to: '2031-12-31', reason: '2' },
      { from: '2032-01-01', to: '2032-12-31', reason: '3' },
    ]),
  ]
  t.throws(() => dueDate('2030-01-01', 1, closedForever), { name: 'CalendarError', reason: 'no_working_day' })
  t.throws(() => dueDate('2050-12-30', 0, [base]), { name: 'CalendarError', reason: 'out_of_range' }, '12/30 and 12/31 roll into 2051, beyond the data')
  t.throws(() => dueDate('2025-01-01', -1, [base]), RangeError)
})
