import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { HttpProblem } from '../kernel/errors.ts'
import { linkAllPendingEntries } from '../kernel/audit-chain.ts'
import { auditNow } from '../kernel/unit-of-work.plugin.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import { type ExportFormat, exportChain, resolveChainRange } from './audit.export.ts'
import { AuditEventPageSchema, AuditEventQuerySchema, ChainRangeQuerySchema, ChainVerificationSchema, ChainVerifyQuerySchema } from './audit.schemas.ts'
import { searchAuditTrail, verifyAuditChain } from './audit.service.ts'

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
    handler: async (request) => searchAuditTrail(request.ctx, request.query),
  })

  app.get('/verify', {
    // No request transaction: a long range takes seconds, and the walk pages through the
    // database on its own (the embedded database has one connection).
    config: { permission: 'audit:verify', transaction: false, expensive: true },
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
      const result = await verifyAuditChain(request.ctx, request.server.db, keys, request.query)
      await auditNow(request)
      return result
    },
  })

  app.get('/export', {
    // 406 when the Accept header takes neither NDJSON nor CSV.
    config: { permission: 'audit:verify', transaction: false, expensive: true, problems: { 406: ['not-acceptable'] } },
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
      request.ctx.audit.details = { from_seq: range.fromSeq, to_seq: range.toSeq, format }
      await auditNow(request)
      reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="audit-${range.fromSeq}-${range.toSeq}.${format === 'csv' ? 'csv' : 'ndjson'}"`)
        .header('madoguchi-chain-from', String(range.fromSeq))
        .header('madoguchi-chain-to', String(range.toSeq))
      // A stream is sent as it is (the schema above types the text it carries, for the contract);
      // returned, not sent, so that the expensive-request slot is held until it has ended. Two
      // chunks ahead of the client at most: a slow reader holds little memory.
      return Readable.from(exportChain(db, range, format), { highWaterMark: 2 }) as unknown as string
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
function negotiateExport(request: FastifyRequest): ExportFormat {
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
  if (!best) throw new HttpProblem(406, 'not-acceptable', 'audit.export_formats')
  return best.format
}

export default auditRoutes
