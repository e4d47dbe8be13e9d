import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HistoryPageSchema, HistoryParamsSchema, HistoryQuerySchema } from './audit.schemas.ts'
import { recordHistory } from './audit.service.ts'

/** Chain of custody: every access to a record and every change of it, in order. */
const historyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/:type/:id/history', {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'getRecordHistory',
      summary: 'Chain of custody of a record: every access and change, in order',
      description:
        'For a case or a recording (also a policy or org unit): every request that read or changed it, allowed or refused, from the ' +
        'audit trail, merged with its committed changes from the change feed, oldest first. Works for records already disposed of. ' +
        'Admins see the history of policies and org units only.',
      tags: ['audit'],
      params: HistoryParamsSchema,
      querystring: HistoryQuerySchema,
      response: { 200: HistoryPageSchema },
    },
    handler: async (request) => recordHistory(request.ctx, request.params.type, request.params.id, request.query.limit ?? 50, request.query.cursor),
  })
}

export default historyRoutes
