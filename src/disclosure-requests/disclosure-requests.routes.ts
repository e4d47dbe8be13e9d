import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdempotencyKeyHeader, IfMatchHeader } from '../kernel/http-headers.ts'
import { setEtag } from '../kernel/preconditions.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import type { MediaGrantSettings } from '../media-grants/media-grants.service.ts'
import { explainDeadline } from './deadline-explanation.service.ts'
import {
  AddRecordSchema,
  AppealOutcomeSchema,
  AppealSchema,
  CoveredRecordParams,
  CreateDisclosureRequestSchema,
  DeadlineExplanationSchema,
  DecideSchema,
  DisclosureRequestIdParams,
  DisclosureRequestListQuerySchema,
  DisclosureRequestPageSchema,
  DisclosureRequestSchema,
  ExtendSchema,
  HandOverSchema,
  HandoverResultSchema,
  ReceiveCorrectionSchema,
  RemoveRecordSchema,
  RequestCorrectionSchema,
  StepListSchema,
  UpdateDisclosureRequestSchema,
  WithdrawSchema,
} from './disclosure-requests.schemas.ts'
import {
  addRecord,
  createRequest,
  listRequestsInReach,
  loadRequest,
  presentRequest,
  removeRecord,
  requestHistory,
  updateDescription,
} from './disclosure-requests.service.ts'
import { appeal, decide, decideAppeal, extendDeadline, handOver, receiveCorrection, requestCorrection, withdraw } from './disclosure-steps.service.ts'

const TAGS = ['disclosure-requests']

/**
 * Disclosure requests (開示請求): the request, the records it covers, its deadline and every step
 * of its handling. The desk and records managers handle them; supervisors read those covering
 * their unit's records; auditors read all, with the requester redacted.
 */
const disclosureRequestRoutes: FastifyPluginAsyncTypebox<{ mediaGrants: MediaGrantSettings; keys: SigningKeys }> = async (app, { mediaGrants, keys }) => {
  app.post('', {
    config: { permission: 'disclosure_requests:handle', idempotent: true },
    schema: {
      operationId: 'createDisclosureRequest',
      summary: 'Record a disclosure request that reached the office',
      description:
        'The disclosure policy in force on received_date gives the decision period for the kind; the deadline counts from the day after receipt. ' +
        'personal_information requests name how the identity was confirmed. Honours Idempotency-Key.',
      tags: TAGS,
      headers: IdempotencyKeyHeader,
      body: CreateDisclosureRequestSchema,
      response: { 201: DisclosureRequestSchema },
    },
    handler: async (request, reply) => {
      const row = await createRequest(request.ctx, request.body)
      setEtag(reply, row.version)
      reply.code(201).header('location', `/v1/disclosure-requests/${row.id}`)
      return presentRequest(request.ctx, row)
    },
  })

  app.get('', {
    config: { permission: 'disclosure_requests:read' },
    schema: {
      operationId: 'listDisclosureRequests',
      summary: 'List disclosure requests in reach, or the due list (due_before)',
      description: 'Newest received first; with due_before, the undecided requests whose deadline falls before that date, soonest first.',
      tags: TAGS,
      querystring: DisclosureRequestListQuerySchema,
      response: { 200: DisclosureRequestPageSchema },
    },
    handler: async (request) => {
      const q = request.query
      const filters = {
        status: q.status,
        kind: q.kind,
        orgUnitId: q.org_unit_id,
        receivedFrom: q.received_from,
        receivedTo: q.received_to,
        recordId: q.record_id,
        dueBefore: q.due_before,
      }
      return listRequestsInReach(request.ctx, filters, q.limit ?? 50, q.cursor)
    },
  })

  app.get('/:id', {
    config: { permission: 'disclosure_requests:read' },
    schema: {
      operationId: 'getDisclosureRequest',
      summary: 'Read a disclosure request',
      description: "Sets ETag (the request's version). The requester is redacted for callers without disclosure_requests:read_personal.",
      tags: TAGS,
      params: DisclosureRequestIdParams,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request, reply) => {
      const row = await loadRequest(request.ctx, request.params.id)
      setEtag(reply, row.version)
      return presentRequest(request.ctx, row)
    },
  })

  app.patch('/:id', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'updateDisclosureRequest',
      summary: 'Change the descriptive fields of a request',
      description: 'What is asked for, the handling unit, the requester. The kind and the received date never change. Needs If-Match.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      headers: IfMatchHeader,
      body: UpdateDisclosureRequestSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request, reply) => {
      const row = await updateDescription(request.ctx, request.params.id, request.body, request.headers['if-match'])
      setEtag(reply, row.version)
      return presentRequest(request.ctx, row)
    },
  })

  app.get('/:id/deadline', {
    config: { permission: 'disclosure_requests:read' },
    schema: {
      operationId: 'explainDisclosureDeadline',
      summary: 'How the decision deadline is counted',
      description:
        'The rule and the disclosure policy version used, the correction days excluded, the extension, the office holidays moved over, the warning ' +
        'date, and where the request stands.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      response: { 200: DeadlineExplanationSchema },
    },
    handler: async (request) => explainDeadline(request.ctx, request.params.id),
  })

  app.get('/:id/history', {
    config: { permission: 'disclosure_requests:read' },
    schema: {
      operationId: 'listDisclosureRequestSteps',
      summary: 'Every step of a request: who, when, on which date and why',
      description: "The request's history, oldest first: every step with who took it, when, the date it counts from and why.",
      tags: TAGS,
      params: DisclosureRequestIdParams,
      response: { 200: StepListSchema },
    },
    handler: async (request) => ({ items: await requestHistory(request.ctx, request.params.id) }),
  })

  app.post('/:id/records', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'addDisclosureRecord',
      summary: 'Add a recording or case the request covers',
      description:
        'While the request awaits its decision. A recording gets a disclosure_request hold referencing the request (施行令第9条), which the decision ' +
        'dates. 422 for a record outside your reach; 409 when already covered or the request is decided.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: AddRecordSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await addRecord(request.ctx, request.params.id, request.body)),
  })

  app.post('/:id/records/:entryId/remove', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'removeDisclosureRecord',
      summary: 'Remove a covered record, with a reason',
      description: "While the request awaits its decision; a recording's hold is released with the reason. The entry stays, marked removed.",
      tags: TAGS,
      params: CoveredRecordParams,
      body: RemoveRecordSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await removeRecord(request.ctx, request.params.id, request.params.entryId, request.body.reason)),
  })

  app.post('/:id/request-correction', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'requestDisclosureCorrection',
      summary: 'Ask the requester to correct the request (補正)',
      description: 'received → correction_requested. The clock stands still until the corrected request arrives.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: RequestCorrectionSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await requestCorrection(request.ctx, request.params.id, request.body)),
  })

  app.post('/:id/receive-correction', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'receiveDisclosureCorrection',
      summary: 'The corrected request arrived',
      description: 'correction_requested → received. The days from the day after the correction was asked for through this day do not count.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: ReceiveCorrectionSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await receiveCorrection(request.ctx, request.params.id, request.body)),
  })

  app.post('/:id/extend', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'extendDisclosureDeadline',
      summary: 'Extend the decision period once (延長)',
      description:
        "received → extended. At most the policy's maximum for the kind (422), decided on or before the original deadline (409 after it), with " +
        'the reasons and the day the requester was notified. A second extension is 409.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: ExtendSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await extendDeadline(request.ctx, request.params.id, request.body)),
  })

  app.post('/:id/decide', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'decideDisclosureRequest',
      summary: 'Record the decision (開示決定等)',
      description:
        'received | extended → decided. Names what was disclosed of each covered record (the original or a redacted copy) and the grounds for what ' +
        'was withheld; dates every hold the request placed, which then keep their recordings through one year from the day after.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: DecideSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await decide(request.ctx, request.params.id, request.body)),
  })

  app.post('/:id/handovers', {
    config: { permission: 'disclosure_requests:handle', idempotent: true, location: false },
    schema: {
      operationId: 'handOverDisclosure',
      summary: 'Record a hand-over to the requester (開示の実施)',
      description:
        'What the decision discloses (the original, or the redacted copy it names), by a media grant issued now (its token shown once) or on a ' +
        'medium, on a date. The first one makes the request disclosed. Honours Idempotency-Key (a retry answers the same grant).',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      headers: IdempotencyKeyHeader,
      body: HandOverSchema,
      response: { 201: HandoverResultSchema },
    },
    handler: async (request, reply) => {
      const result = await handOver(request.ctx, request.params.id, request.body, mediaGrants, keys)
      reply.code(201)
      return result
    },
  })

  app.post('/:id/withdraw', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'withdrawDisclosureRequest',
      summary: 'The requester withdrew the request (取下げ)',
      description: 'Before the decision. The holds the request placed are released with the reason.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: WithdrawSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await withdraw(request.ctx, request.params.id, request.body)),
  })

  app.post('/:id/appeal', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'appealDisclosureDecision',
      summary: 'An appeal against the decision was filed (審査請求)',
      description: 'decided | disclosed → under_appeal. Places an appeal hold on every covered recording still kept.',
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: AppealSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await appeal(request.ctx, request.params.id, request.body)),
  })

  app.post('/:id/appeal-outcome', {
    config: { permission: 'disclosure_requests:handle' },
    schema: {
      operationId: 'decideDisclosureAppeal',
      summary: "Record the appeal's outcome (裁決)",
      description: "under_appeal → appeal_decided. The outcome's date ends the appeal holds one year from the day after.",
      tags: TAGS,
      params: DisclosureRequestIdParams,
      body: AppealOutcomeSchema,
      response: { 200: DisclosureRequestSchema },
    },
    handler: async (request) => presentRequest(request.ctx, await decideAppeal(request.ctx, request.params.id, request.body)),
  })
}

export default disclosureRequestRoutes
