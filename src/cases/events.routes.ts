import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { IdempotencyKeyHeader } from '../kernel/http-headers.ts'
import { CaseIdParams } from './cases.schemas.ts'
import { CaseEventSchema, CreateEventSchema, EventListQuerySchema, EventPageSchema, TimelineSchema } from './events.schemas.ts'
import { buildTimeline, listCaseEvents, recordEvent, timelineCsvOf } from './events.service.ts'

/** The chronological record of a case (時系列) and the report built from it. */
const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/:id/events', {
    // One statement in autocommit (events.service.ts); with an Idempotency-Key, a transaction.
    config: { permission: 'events:create', idempotent: true, oneStatement: true },
    schema: {
      operationId: 'appendCaseEvent',
      summary: 'Record what happened',
      description:
        'Append-only: a mistake is fixed by a correction naming the event it corrects. fault_acknowledged needs a supervisor or the desk and an earlier ' +
        'fact_check (409 otherwise). A closed case takes only notes by a supervisor or the desk.',
      tags: ['events'],
      params: CaseIdParams,
      headers: IdempotencyKeyHeader,
      body: CreateEventSchema,
      response: { 201: CaseEventSchema },
    },
    handler: async (request, reply) => {
      const event = await recordEvent(request.ctx, request.params.id, request.body)
      reply.code(201).header('location', `/v1/cases/${request.params.id}/events/${event.id}`)
      return event
    },
  })

  app.get('/:id/events', {
    config: { permission: 'events:read' },
    schema: {
      operationId: 'listCaseEvents',
      summary: 'The events of a case in the order they were written',
      description: 'Paged with cursor. Corrections are events of their own that point at the event they correct; nothing is updated or deleted.',
      tags: ['events'],
      params: CaseIdParams,
      querystring: EventListQuerySchema,
      response: { 200: EventPageSchema },
    },
    handler: async (request) => {
      return listCaseEvents(request.ctx, request.params.id, request.query.limit ?? 50, request.query.cursor)
    },
  })

  app.get('/:id/timeline', {
    config: { permission: 'events:read' },
    schema: {
      operationId: 'getCaseTimeline',
      summary: 'The report for the supervisor: facts in time order (時系列)',
      description:
        'JSON, or CSV with Accept: text/csv (UTF-8 with BOM, for spreadsheets). Corrections appear against the event they correct; the escalation ladder ' +
        'counts warnings before the police.',
      tags: ['events'],
      params: CaseIdParams,
      response: {
        200: {
          description: 'The timeline',
          content: { 'application/json': { schema: TimelineSchema }, 'text/csv': { schema: Type.String() } },
        },
      },
    },
    handler: async (request, reply) => {
      if (prefersCsv(request.headers.accept)) {
        const { number, csv } = await timelineCsvOf(request.ctx, request.params.id)
        reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="case-${number}-timeline.csv"`)
        return csv
      }
      return buildTimeline(request.ctx, request.params.id)
    },
  })
}

/** Whether the Accept header ranks text/csv above JSON. */
function prefersCsv(accept: string | undefined): boolean {
  if (!accept) return false
  const ranked = accept
    .split(',')
    .map((part, index) => {
      const [type, ...params] = part.trim().split(';')
      const q = Number(
        params
          .map((p) => p.trim())
          .find((p) => p.startsWith('q='))
          ?.slice(2) ?? '1',
      )
      return { type: type!.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0, index }
    })
    .filter((r) => r.q > 0 && ['text/csv', 'application/json', 'application/*', '*/*'].includes(r.type))
    .sort((a, b) => b.q - a.q || a.index - b.index)
  return ranked[0]?.type === 'text/csv'
}

export default eventRoutes
