import { Type } from 'typebox'
import { CALENDAR_FIRST_DATE, CALENDAR_LAST_DATE } from './calendar.rules.ts'

const DateString = (description: string) => Type.String({ format: 'date', description })
const VersionId = Type.String({ format: 'uuid' })

/** The longest holidays listing: three years. */
export const MAX_HOLIDAY_RANGE_YEARS = 3
/** The longest period a deadline counts: ten years of days. */
const MAX_DEADLINE_DAYS = 3650

const HolidayReasonSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('weekend'), day: Type.Enum(['saturday', 'sunday']) }, { additionalProperties: false, description: '土曜日・日曜日' }),
    Type.Object(
      {
        kind: Type.Literal('national_holiday'),
        name: Type.String({ description: 'The holiday as the law names it, e.g. 元日, 成人の日, 振替休日' }),
        name_en: Type.String(),
      },
      { additionalProperties: false, description: '国民の祝日に関する法律に規定する休日' },
    ),
    Type.Object({ kind: Type.Literal('year_end') }, { additionalProperties: false, description: '12月29日から翌年の1月3日まで (年末年始)' }),
    Type.Object(
      {
        kind: Type.Literal('closure'),
        reason: Type.String({ description: "The calendar policy's reason, e.g. 年末・年始休業" }),
        from: Type.String({ format: 'date' }),
        to: Type.String({ format: 'date' }),
      },
      { additionalProperties: false, description: 'A closure in the calendar policy in force on the date' },
    ),
  ],
  { $id: 'HolidayReason' },
)

export const OfficeHolidaySchema = Type.Object(
  {
    date: Type.String({ format: 'date' }),
    reasons: Type.Array(HolidayReasonSchema, { minItems: 1, description: 'Every reason the office is closed that day' }),
    calendar_version_id: Type.String({ format: 'uuid', description: 'The calendar policy version in force on the date' }),
  },
  { $id: 'OfficeHoliday', additionalProperties: false },
)

export const OfficeHolidaysSchema = Type.Object(
  {
    from: Type.String({ format: 'date' }),
    to: Type.String({ format: 'date' }),
    items: Type.Array(OfficeHolidaySchema, { description: 'Office holidays in date order; every other date is a working day' }),
    calendar_version_ids: Type.Array(VersionId, { description: 'The calendar policy versions in force on some date of the range, oldest first' }),
  },
  { $id: 'OfficeHolidays', additionalProperties: false },
)

export const HolidaysQuerySchema = Type.Object(
  {
    from: DateString(`First date (YYYY-MM-DD), ${CALENDAR_FIRST_DATE} or later`),
    to: DateString(`Last date (inclusive), at most ${MAX_HOLIDAY_RANGE_YEARS} years after from and ${CALENDAR_LAST_DATE} at the latest`),
  },
  { additionalProperties: false },
)

const DeadlineKindSchema = Type.Enum(['filing', 'office_decision'], {
  description:
    'filing (default): the deadline of an act toward the office (申請・届出), which moves off office holidays by law (行政機関の休日に関する法律第2条); ' +
    "office_decision: the office's own decision deadline, which moves only when the calendar policy says so (office_decisions_roll_forward)",
})

export const DeadlineQuerySchema = Type.Object(
  {
    start: DateString('The day the period starts from (e.g. the day a request arrived); it is not counted (初日不算入)'),
    days: Type.Integer({ minimum: 0, maximum: MAX_DEADLINE_DAYS, description: `Calendar days in the period (0–${MAX_DEADLINE_DAYS})` }),
    kind: Type.Optional(DeadlineKindSchema),
  },
  { additionalProperties: false },
)

export const DeadlineSchema = Type.Object(
  {
    start: Type.String({ format: 'date' }),
    days: Type.Integer(),
    kind: DeadlineKindSchema,
    counted_from: Type.String({ format: 'date', description: 'The first day counted: the day after start (民法第140条)' }),
    raw_due_date: Type.String({ format: 'date', description: 'start + days' }),
    raw_due_date_is_holiday: Type.Boolean(),
    roll_forward: Type.Boolean({ description: 'Whether a due date on an office holiday moves to the next working day' }),
    due_date: Type.String({ format: 'date', description: 'The last day of the period' }),
    skipped: Type.Array(OfficeHolidaySchema, { description: 'The office holidays moved over, with their reasons' }),
    calendar_version_ids: Type.Array(VersionId, { description: 'The calendar policy versions that decided the dates from the raw due date to the due date' }),
  },
  { $id: 'Deadline', additionalProperties: false },
)
