import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { badRequest, HttpProblem } from '../core/errors.js'
import { decodeCursor, paginate } from '../core/pagination.js'
import { auditNow } from '../core/unit-of-work.plugin.js'
import { exportChain, resolveChainRange, type ExportFormat } from './audit.export.js'
import { countUnlinked, listAuditEvents, type AuditFilters } from './audit.repository.js'
import {
  ADMIN_RECORD_TYPES,
  AuditEventPageSchema,
  AuditEventQuerySchema,
  ChainRangeQuerySchema,
  ChainVerificationSchema,
  ChainVerifyQuerySchema,
} from './audit.schemas.js'
import { linkAllPendingEntries, verifyChain } from './chain.js'
import { verifyAgainstCheckpoint } from './checkpoints.service.js'
import type { SigningKeys } from '../keys/keys.service.js'

/** The audit trail for auditors: queries, verification of the hash chain, exports. */
const auditRoutes: FastifyPluginAsyncTypebox<{ keys: SigningKeys }> = async (app, { keys }) => {
  app.get('', {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'listAuditEvents',
      summary: 'Query the audit trail',
      description:
        'Entries in the order they were written (oldest or newest first), filtered by subject, action, resource, outcome, ' +
        'request id and time. Admins see only entries about policies and org units. Entries hold ids, never personal data.',
      tags: ['audit'],
      querystring: AuditEventQuerySchema,
      response: { 200: AuditEventPageSchema },
    },
    handler: async (request) => {
      const q = request.query
      const limit = q.limit ?? 50
      const order = q.order ?? 'oldest'
      const filters: AuditFilters = {
        subject: q.subject,
        action: q.action,
        resourceType: q.resource_type,
        resourceId: q.resource_id,
        outcome: q.outcome,
        requestId: q.request_id,
        from: q.from === undefined ? undefined : new Date(q.from),
        to: q.to === undefined ? undefined : new Date(q.to),
        // Admins (reach own): entries about policies and org units only.
        resourceTypes: request.access.reach === 'own' ? ADMIN_RECORD_TYPES : undefined,
      }
      const afterId = q.cursor === undefined ? null : Number(decodeCursor(q.cursor, 1)[0])
      const rows = await listAuditEvents(request.trx, filters, { order, limit: limit + 1, afterId: Number.isFinite(afterId) ? afterId : null })
      const { page, nextCursor } = paginate(rows, limit, (row) => [row.id])
      // The query itself is audited: its filters (ids, kinds and instants: the trail holds no
      // personal data to search by) and how many entries it returned, never their contents.
      const { limit: _limit, cursor: _cursor, ...searched } = q
      request.audit.details = { filters: searched, order, count: page.length }
      return { items: page, next_cursor: nextCursor }
    },
  })

  app.get('/verify', {
    // No request transaction: a long range takes seconds, and the walk pages through the
    // database on its own (the embedded database has one connection).
    config: { permission: 'audit:verify', transaction: false },
    schema: {
      operationId: 'verifyAuditChain',
      summary: 'Verify the audit hash chain over a range',
      description:
        'Recomputes every hash in the range from the entries as stored and checks each link to the entry before. Reports how many ' +
        'entries were checked and the first broken link: an entry changed after it was written (hash-mismatch), one whose link was ' +
        'rewritten (prev-hash-mismatch), or a removed one (missing-entry). `from`/`to` are chain positions or instants (see the README). ' +
        'With `checkpoint` (a checkpoint JWS held outside the service) it verifies the signature and proves that the chain still holds ' +
        'that position with that hash and is intact up to it: a cut tail or a rewritten chain fails, naming the checkpoint. ' +
        'Pages through the database: memory stays flat for any range.',
      tags: ['audit'],
      querystring: ChainVerifyQuerySchema,
      response: { 200: ChainVerificationSchema },
    },
    handler: async (request) => {
      const db = request.server.db
      const { checkpoint, ...bounds } = request.query
      if (checkpoint !== undefined && (bounds.from !== undefined || bounds.to !== undefined)) {
        throw badRequest('a checkpoint fixes the range (from the first entry to its position): leave out from and to', [
          { pointer: 'querystring/checkpoint', message: 'not together with from/to' },
        ])
      }
      // Everything committed so far is linked first, so the answer covers it.
      await linkAllPendingEntries(db)
      if (checkpoint !== undefined) {
        const { chain, fromSeq, toSeq, check } = await verifyAgainstCheckpoint(db, keys, checkpoint)
        const unlinked = await countUnlinked(db)
        const valid = chain.broken === null && check.holds
        request.audit.details = {
          checkpoint: check.checkpoint,
          chain_seq: check.chain_seq,
          kid: check.kid,
          checked: chain.checked,
          valid,
          failure: check.failure,
        }
        await auditNow(request)
        return { valid, from_seq: fromSeq, to_seq: toSeq, unlinked, ...chain, checkpoint: check }
      }
      const range = await resolveChainRange(db, bounds)
      const result =
        range.toSeq >= range.fromSeq ? await verifyChain(db, range) : { checked: 0, first_seq: null, last_seq: null, last_hash: null, broken: null }
      const unlinked = await countUnlinked(db)
      request.audit.details = { from_seq: range.fromSeq, to_seq: range.toSeq, checked: result.checked, valid: result.broken === null }
      await auditNow(request)
      return { valid: result.broken === null, from_seq: range.fromSeq, to_seq: range.toSeq, unlinked, ...result, checkpoint: null }
    },
  })

  app.get('/export', {
    config: { permission: 'audit:verify', transaction: false },
    schema: {
      operationId: 'exportAuditChain',
      summary: 'Export a range of the audit chain with its hashes (NDJSON or CSV)',
      description:
        'Streams the linked entries of a range in chain order with prev_hash and hash, so the export can be verified offline with ' +
        'the recipe in the README. `Accept: application/x-ndjson` (default) or `text/csv`. `from`/`to` as for verification.',
      tags: ['audit'],
      querystring: ChainRangeQuerySchema,
      response: {
        200: {
          description: 'One entry per line, in chain order',
          content: {
            'application/x-ndjson': { schema: Type.String({ description: 'One JSON object per line' }) },
            'text/csv': { schema: Type.String({ description: 'A header line, then one entry per line' }) },
          },
        },
      },
    },
    handler: async (request, reply) => {
      const format = negotiateExport(request)
      const db = request.server.db
      await linkAllPendingEntries(db)
      const range = await resolveChainRange(db, request.query)
      request.audit.details = { from_seq: range.fromSeq, to_seq: range.toSeq, format }
      await auditNow(request)
      reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="audit-${range.fromSeq}-${range.toSeq}.${format === 'csv' ? 'csv' : 'ndjson'}"`)
        .header('madoguchi-chain-from', String(range.fromSeq))
        .header('madoguchi-chain-to', String(range.toSeq))
      // A stream is sent as it is (the schema above types the text it carries, for the contract).
      return reply.send(Readable.from(exportChain(db, range, format)) as unknown as string)
    },
  })
}

const EXPORT_TYPES: Record<string, ExportFormat> = {
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'text/csv': 'csv',
}

/** The export format the Accept header prefers; NDJSON when it accepts anything. 406 otherwise. */
export function negotiateExport(request: FastifyRequest): ExportFormat {
  const header = request.headers.accept
  if (!header) return 'ndjson'
  let best: { format: ExportFormat; q: number } | null = null
  for (const part of header.split(',')) {
    const [rawType, ...params] = part.trim().toLowerCase().split(';')
    const type = rawType?.trim() ?? ''
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    if (!(q > 0)) continue
    const format = EXPORT_TYPES[type] ?? (type === '*/*' || type === 'application/*' ? 'ndjson' : type === 'text/*' ? 'csv' : undefined)
    if (format && (!best || q > best.q)) best = { format, q }
  }
  if (!best) throw new HttpProblem(406, 'not-acceptable', 'the export is available as application/x-ndjson or text/csv')
  return best.format
}

export default auditRoutes
