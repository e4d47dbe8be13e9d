import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { HttpProblem } from '../kernel/errors.ts'
import { DeadlineQuerySchema, DeadlineSchema, HolidaysQuerySchema, MAX_HOLIDAY_RANGE_YEARS, OfficeHolidaysSchema } from './calendar.schemas.ts'
import { deadlineOf, holidaysFromTo } from './calendar.service.ts'

/**
 * Query strings are converted leniently before validation ('1.5' would count as 1 day, '' as 0):
 * a deadline must not be answered for a number the caller did not write, so `days` is checked
 * as written first.
 */
async function daysAsWritten(request: FastifyRequest): Promise<void> {
  const days = (request.query as Record<string, unknown> | undefined)?.days
  if (typeof days === 'string' && !/^[0-9]{1,9}$/.test(days)) {
    throw new HttpProblem(
      400,
      'validation-failed',
      { id: 'calendar.days_not_whole', params: { days: days.slice(0, 20) } },
      {
        errors: [{ pointer: 'querystring/days', message: 'calendar.days_digits' }],
      },
    )
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
    handler: async (request) => holidaysFromTo(request.ctx, request.query.from, request.query.to),
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
    handler: async (request) => deadlineOf(request.ctx, request.query.start, request.query.days, request.query.kind ?? 'filing'),
  })
}

export default calendarRoutes
