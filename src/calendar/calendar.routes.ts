import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { badRequest, HttpProblem } from '../kernel/errors.js'
import { addDays, addYears } from '../kernel/time.js'
import { CALENDAR_FIRST_DATE, CALENDAR_LAST_DATE, CalendarError } from './calendar.rules.js'
import { DeadlineQuerySchema, DeadlineSchema, HolidaysQuerySchema, MAX_HOLIDAY_RANGE_YEARS, OfficeHolidaysSchema } from './calendar.schemas.js'
import { officeDueDate, officeHolidays } from './calendar.service.js'

/** 400 naming the query parameter when a date lies outside the dates the calendar covers. */
function assertCovered(date: string, pointer: string): void {
  if (date < CALENDAR_FIRST_DATE || date > CALENDAR_LAST_DATE) {
    throw badRequest(`${date} is outside ${CALENDAR_FIRST_DATE} – ${CALENDAR_LAST_DATE}, the dates the office calendar and its national holiday data cover`, [
      { pointer, message: `must lead to a date from ${CALENDAR_FIRST_DATE} to ${CALENDAR_LAST_DATE}` },
    ])
  }
}

/** A calendar that cannot answer (a deadline rolling past its last date, or no working day at all). */
function asProblem(error: unknown): unknown {
  if (!(error instanceof CalendarError)) return error
  if (error.reason === 'out_of_range')
    return badRequest(error.message, [{ pointer: 'querystring/days', message: 'the due date falls outside the dates the office calendar covers' }])
  return new HttpProblem(422, 'unprocessable', error.message)
}

/**
 * Query strings are converted leniently before validation ('1.5' would count as 1 day, '' as 0):
 * a deadline must not be answered for a number the caller did not write, so `days` is checked
 * as written first.
 */
async function daysAsWritten(request: FastifyRequest): Promise<void> {
  const days = (request.query as Record<string, unknown> | undefined)?.days
  if (typeof days === 'string' && !/^[0-9]{1,9}$/.test(days)) {
    throw new HttpProblem(400, 'validation-failed', `days must be a whole number of days, not '${days.slice(0, 20)}'`, {
      errors: [{ pointer: 'querystring/days', message: 'must be a whole number written in digits' }],
    })
  }
}

/**
 * The office calendar (閉庁日) and deadlines counted on it. Both answer for any date the calendar
 * covers, past or future, with the calendar policy version in force on each date.
 */
const calendarRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/holidays', {
    config: { permission: 'calendar:read' },
    schema: {
      operationId: 'listOfficeHolidays',
      summary: 'Office holidays between two dates, with their reasons',
      description:
        'Weekends, national holidays (with their names), 12/29–1/3 and the closures of the calendar policy in force on each date ' +
        `(行政機関の休日に関する法律第1条). At most ${MAX_HOLIDAY_RANGE_YEARS} years per request.`,
      tags: ['calendar'],
      querystring: HolidaysQuerySchema,
      response: { 200: OfficeHolidaysSchema },
    },
    handler: async (request) => {
      const { from, to } = request.query
      assertCovered(from, 'querystring/from')
      assertCovered(to, 'querystring/to')
      if (to < from) throw badRequest(`to (${to}) is before from (${from})`, [{ pointer: 'querystring/to', message: 'must not be before from' }])
      if (to > addDays(addYears(from, MAX_HOLIDAY_RANGE_YEARS), -1)) {
        throw badRequest(`ask for at most ${MAX_HOLIDAY_RANGE_YEARS} years at a time`, [
          { pointer: 'querystring/to', message: `must be within ${MAX_HOLIDAY_RANGE_YEARS} years of from` },
        ])
      }
      const { items, calendarVersionIds } = await officeHolidays(request.trx, from, to)
      request.audit.details = { from, to, count: items.length }
      return { from, to, items, calendar_version_ids: calendarVersionIds }
    },
  })

  app.get('/deadline', {
    config: { permission: 'calendar:read' },
    schema: {
      operationId: 'computeDeadline',
      summary: 'The due date of a period of N calendar days, moved off office holidays',
      description:
        'Counts days from the day after start (民法第140条, 初日不算入), so the period ends on start + days; when that day is an ' +
        'office holiday the deadline moves to the next working day (行政機関の休日に関する法律第2条). Holidays inside the period do ' +
        'not extend it. Each date is judged by the calendar policy version in force on it, and the answer names them.',
      tags: ['calendar'],
      querystring: DeadlineQuerySchema,
      response: { 200: DeadlineSchema },
    },
    preValidation: daysAsWritten,
    handler: async (request) => {
      const { start, days, kind = 'filing' } = request.query
      assertCovered(start, 'querystring/start')
      assertCovered(addDays(start, days), 'querystring/days')
      try {
        const deadline = await officeDueDate(request.trx, start, days, kind)
        request.audit.details = { start, days, kind, due_date: deadline.due_date, calendar_version_ids: deadline.calendar_version_ids }
        return deadline
      } catch (error) {
        throw asProblem(error)
      }
    },
  })
}

export default calendarRoutes
