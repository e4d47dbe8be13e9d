import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { changesOfRecord } from '../changes/changes.repository.js'
import { badRequest, notFound } from '../kernel/errors.js'
import { decodeCursor, encodeCursor } from '../kernel/pagination.js'
import { auditEventsOfRecord, type HistoryStart } from './audit.repository.js'
import { ADMIN_RECORD_TYPES, HistoryPageSchema, HistoryParamsSchema, HistoryQuerySchema, type HistoryItem } from './audit.schemas.js'

// History merges two sources sorted by (instant, source, id); a change sorts before the audit
// entry of the request that made it when both carry the same instant.
const SOURCE_RANK = { change: 0, audit: 1 } as const

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
    handler: async (request) => {
      const { type, id } = request.params
      // Admins (audit:read reach own) see entries about policies and org units only.
      if (request.access.reach === 'own' && !ADMIN_RECORD_TYPES.includes(type)) throw notFound('record')
      // Reading a record's custody reads the audit trail, not the record: the entry names the
      // record in its details, so the history does not grow with every page an auditor reads.
      request.audit.resourceType = 'audit_event'
      request.audit.resourceId = null
      request.audit.details = { record_type: type, record_id: id }
      const limit = request.query.limit ?? 50

      let cursor: { at: Date; rank: number; id: number } | null = null
      if (request.query.cursor !== undefined) {
        const [at, rank, lastId] = decodeCursor(request.query.cursor, 3)
        const when = new Date(String(at))
        if (Number.isNaN(when.getTime()) || (rank !== 0 && rank !== 1) || typeof lastId !== 'number')
          throw badRequest('the cursor is not one this listing gave out', [{ pointer: 'querystring/cursor', message: 'invalid cursor' }])
        cursor = { at: when, rank, id: lastId }
      }
      const startFor = (rank: number): HistoryStart | null => {
        if (!cursor) return null
        if (rank > cursor.rank) return { at: cursor.at, mode: 'at-or-after', id: 0 }
        if (rank < cursor.rank) return { at: cursor.at, mode: 'after', id: 0 }
        return { at: cursor.at, mode: 'keyset', id: cursor.id }
      }

      const entries = await auditEventsOfRecord(request.trx, type, id, startFor(SOURCE_RANK.audit), limit + 1)
      const changes = await changesOfRecord(request.trx, type, id, startFor(SOURCE_RANK.change), limit + 1)
      type Keyed = { item: HistoryItem; at: number; rank: number; id: number }
      const merged: Keyed[] = [
        ...entries.map((e) => ({
          item: { occurred_at: e.occurred_at, source: 'audit' as const, audit: e, change: null },
          at: Date.parse(e.occurred_at),
          rank: SOURCE_RANK.audit,
          id: e.id,
        })),
        ...changes.map((c) => ({
          item: {
            occurred_at: c.occurred_at.toISOString(),
            source: 'change' as const,
            audit: null,
            change: { position: c.position, kind: c.kind, data: c.data },
          },
          at: c.occurred_at.getTime(),
          rank: SOURCE_RANK.change,
          id: c.id,
        })),
      ].sort((a, b) => a.at - b.at || a.rank - b.rank || a.id - b.id)

      const page = merged.slice(0, limit)
      const last = page[page.length - 1]
      const nextCursor = merged.length > limit && last ? encodeCursor([new Date(last.at).toISOString(), last.rank, last.id]) : null
      request.audit.details = { ...request.audit.details, count: page.length }
      return { items: page.map((k) => k.item), next_cursor: nextCursor }
    },
  })
}

export default historyRoutes
