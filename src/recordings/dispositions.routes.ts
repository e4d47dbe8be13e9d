import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { approveDisposition, cancelDisposition, dispositionRecord, dispositionRecords, dueForDisposition } from './dispositions.service.ts'
import {
  CancelDispositionSchema,
  DecideDispositionSchema,
  DispositionIdParams,
  DispositionListQuerySchema,
  DispositionPageSchema,
  DispositionSchema,
  DuePageSchema,
  DueQuerySchema,
} from './recordings.schemas.ts'

/** Disposition (廃棄・移管): what is due, two-person approval, and the permanent records auditors list. */
const dispositionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/due', {
    config: { permission: 'dispositions:read', resourceType: 'recording' },
    schema: {
      operationId: 'listDueRecordings',
      summary: 'Recordings whose retention has ended and that no hold keeps, with the action due',
      description:
        'Longest overdue first. action_due purge: personal information that is no document, purged by the next retention sweep; dispose, transfer, ' +
        'review: by two records managers.',
      tags: ['dispositions'],
      querystring: DueQuerySchema,
      response: { 200: DuePageSchema },
    },
    handler: async (request) => {
      const q = request.query
      return dueForDisposition(request.ctx, { orgUnitId: q.org_unit_id, action: q.action }, q.limit ?? 50, q.cursor)
    },
  })

  app.get('', {
    config: { permission: 'dispositions:read' },
    schema: {
      operationId: 'listDispositions',
      summary: 'Disposition records: proposals, approvals, cancellations and automatic purges',
      description: 'Newest first. Permanent: what was disposed of (sha256), when, who proposed, who approved, and the rule that made it due.',
      tags: ['dispositions'],
      querystring: DispositionListQuerySchema,
      response: { 200: DispositionPageSchema },
    },
    handler: async (request) => {
      const q = request.query
      return dispositionRecords(request.ctx, { status: q.status, action: q.action, recordingId: q.recording_id }, q.limit ?? 50, q.cursor)
    },
  })

  app.get('/:id', {
    config: { permission: 'dispositions:read' },
    schema: {
      operationId: 'getDisposition',
      summary: 'A disposition record',
      description:
        'Records managers and auditors. A disposal or transfer: proposed, approved, cancelled or done, with who decided and when. ' +
        'Done dispositions are permanent.',
      tags: ['dispositions'],
      params: DispositionIdParams,
      response: { 200: DispositionSchema },
    },
    handler: async (request) => dispositionRecord(request.ctx, request.params.id),
  })

  app.post('/:id/approve', {
    config: { permission: 'recordings:dispose', resourceType: 'disposition' },
    schema: {
      operationId: 'approveDisposition',
      summary: 'Approve a proposed disposition (the second records manager) and carry it out',
      description:
        "403 for the records manager who proposed it. 409 when a hold now keeps the recording or the proposal was decided. Removes the recording's " +
        'storage_uri and personal fields; the disposition record stays.',
      tags: ['dispositions'],
      params: DispositionIdParams,
      body: DecideDispositionSchema,
      response: { 200: DispositionSchema },
    },
    handler: async (request) => approveDisposition(request.ctx, request.params.id, request.body.reason ?? null),
  })

  app.post('/:id/cancel', {
    config: { permission: 'recordings:dispose', resourceType: 'disposition' },
    schema: {
      operationId: 'cancelDisposition',
      summary: 'Withdraw or reject a proposed disposition, with a reason',
      description: 'By the proposer (withdrawal) or another records manager (rejection). The record stays, cancelled.',
      tags: ['dispositions'],
      params: DispositionIdParams,
      body: CancelDispositionSchema,
      response: { 200: DispositionSchema },
    },
    handler: async (request) => cancelDisposition(request.ctx, request.params.id, request.body.reason),
  })
}

export default dispositionRoutes
