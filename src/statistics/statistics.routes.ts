import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { caseStatisticsCsv, prefersCsv, prefersJapanese, recordingStatisticsCsv } from './statistics.csv.ts'
import { recordingStatistics } from './recording-statistics.service.ts'
import { CaseStatisticsQuerySchema, CaseStatisticsSchema, RecordingStatisticsQuerySchema, RecordingStatisticsSchema } from './statistics.schemas.ts'
import { caseStatistics } from './statistics.service.ts'

/** Statistics for policy making (政策立案のための統計). Every read is audited with what it asked. */
const statisticsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/cases', {
    config: { permission: 'statistics:read', resourceType: 'statistics', problems: { 422: ['validation-failed'] } },
    schema: {
      operationId: 'getCaseStatistics',
      summary: 'Case figures for a period, filtered and grouped',
      description:
        'JSON, or CSV with Accept: text/csv (UTF-8 with BOM; Japanese column headers with Accept-Language: ja). ' +
        'Counts of cases and of what was done (escalations, the escalation ladder, apologies), days to close, recordings. Exact within reach for ' +
        'roles that read cases; over all units with small cells suppressed for auditors and admins (`rule` states how).',
      tags: ['statistics'],
      querystring: CaseStatisticsQuerySchema,
      response: {
        200: { description: 'The figures', content: { 'application/json': { schema: CaseStatisticsSchema }, 'text/csv': { schema: Type.String() } } },
      },
    },
    handler: async (request, reply) => {
      const figures = await caseStatistics(request.ctx, request.query)
      if (!prefersCsv(request.headers.accept)) return figures
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="case-statistics-${figures.period.from}-${figures.period.to}.csv"`)
      return caseStatisticsCsv(figures, prefersJapanese(request.headers['accept-language']))
    },
  })

  app.get('/recordings', {
    config: { permission: 'statistics:read', resourceType: 'statistics', problems: { 422: ['validation-failed'] } },
    schema: {
      operationId: 'getRecordingStatistics',
      summary: 'The retention programme at a glance',
      description:
        'Recordings by classification, status and org unit today: active, on hold by hold type, due, disposed by action, purged; the disposals of ' +
        'the next 12 months; the disclosure requests and incidents holding them. Exact within reach, or suppressed as for cases.',
      tags: ['statistics'],
      querystring: RecordingStatisticsQuerySchema,
      response: {
        200: { description: 'The figures', content: { 'application/json': { schema: RecordingStatisticsSchema }, 'text/csv': { schema: Type.String() } } },
      },
    },
    handler: async (request, reply) => {
      const figures = await recordingStatistics(request.ctx, request.query)
      if (!prefersCsv(request.headers.accept)) return figures
      reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="recording-statistics-${figures.as_of}.csv"`)
      return recordingStatisticsCsv(figures, prefersJapanese(request.headers['accept-language']))
    },
  })
}

export default statisticsRoutes
