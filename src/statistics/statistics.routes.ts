import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { recordingStatistics } from './recording-statistics.service.js'
import { CaseStatisticsQuerySchema, CaseStatisticsSchema, RecordingStatisticsQuerySchema, RecordingStatisticsSchema } from './statistics.schemas.js'
import { caseStatistics } from './statistics.service.js'

/** Statistics for policy making (政策立案のための統計). Every read is audited with what it asked. */
const statisticsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/cases', {
    config: { permission: 'statistics:read', resourceType: 'statistics' },
    schema: {
      operationId: 'getCaseStatistics',
      summary: 'Case figures for a period, filtered and grouped',
      description:
        'Counts of cases and of what was done (escalations, the escalation ladder, apologies), days to close, recordings. Exact within reach for ' +
        'roles that read cases; over all units with small cells suppressed for auditors and admins (`rule` states how).',
      tags: ['statistics'],
      querystring: CaseStatisticsQuerySchema,
      response: { 200: CaseStatisticsSchema },
    },
    handler: async (request) => caseStatistics(request.ctx, request.query),
  })

  app.get('/recordings', {
    config: { permission: 'statistics:read', resourceType: 'statistics' },
    schema: {
      operationId: 'getRecordingStatistics',
      summary: 'The retention programme at a glance',
      description:
        'Recordings by classification, status and org unit today: active, on hold by hold type, due, disposed by action, purged; the disposals of ' +
        'the next 12 months; the disclosure requests and incidents holding them. Exact within reach, or suppressed as for cases.',
      tags: ['statistics'],
      querystring: RecordingStatisticsQuerySchema,
      response: { 200: RecordingStatisticsSchema },
    },
    handler: async (request) => recordingStatistics(request.ctx, request.query),
  })
}

export default statisticsRoutes
