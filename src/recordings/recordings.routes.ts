import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdempotencyKeyHeader, IfMatchHeader, OptionalIfMatchHeader } from '../kernel/http-headers.ts'
import { setEtag } from '../kernel/preconditions.ts'
import { todayInTokyo } from '../kernel/time.ts'
import { MediaGrantSchema } from '../media-grants/media-grants.schemas.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import type { MediaGrantSettings } from '../media-grants/media-grants.service.ts'
import { proposeDisposition } from './dispositions.service.ts'
import { listHolds, placeHold, recordHoldDecision, releaseHold } from './holds.service.ts'
import {
  ClassificationHistorySchema,
  ClassifySchema,
  CreateRecordingSchema,
  DispositionSchema,
  GrantRequestSchema,
  HoldDecisionSchema,
  HoldListSchema,
  HoldParams,
  HoldSchema,
  PlaceHoldSchema,
  ProposeDispositionSchema,
  RecordingIdParams,
  RecordingListQuerySchema,
  RecordingPageSchema,
  RecordingSchema,
  ReleaseHoldSchema,
  RetentionExplanationSchema,
  UpdateRecordingSchema,
} from './recordings.schemas.ts'
import {
  classificationEntries,
  classifyRecording,
  grantMediaAccess,
  listRecordingsInReach,
  loadRecording,
  presentRecording,
  registerRecording,
  updateDescription,
} from './recordings.service.ts'
import { explainRetention } from './retention.service.ts'

/** Recordings (録音・録画): metadata, classification and retention, holds, disposition proposals, media access. */
const recordingRoutes: FastifyPluginAsyncTypebox<{ mediaGrants: MediaGrantSettings; keys: SigningKeys }> = async (app, { mediaGrants, keys }) => {
  app.post('', {
    // One statement in autocommit (recordings.service.ts); with an Idempotency-Key, a transaction.
    config: { permission: 'recordings:create', idempotent: true, oneStatement: true },
    schema: {
      operationId: 'registerRecording',
      summary: 'Register a recording made at the counter or on the phone',
      description:
        "Metadata only: the media stays in the municipality's storage. A recording made without the notice the recording policy in force at started_at " +
        'requires, or by a resident where the policy prohibits it, is accepted but flagged and audited. Until a records manager classifies it, a ' +
        'recording is presumed personal information, and an administrative document when attached to a case.',
      tags: ['recordings'],
      headers: IdempotencyKeyHeader,
      body: CreateRecordingSchema,
      response: { 201: RecordingSchema },
    },
    handler: async (request, reply) => {
      const recording = await registerRecording(request.ctx, request.body)
      setEtag(reply, recording.version)
      reply.code(201).header('location', `/v1/recordings/${recording.id}`)
      return recording
    },
  })

  app.get('', {
    config: { permission: 'recordings:read' },
    schema: {
      operationId: 'listRecordings',
      summary: 'List recordings in reach',
      description: 'Newest first. Filters combine. storage_uri and personal fields are redacted where the caller lacks media access.',
      tags: ['recordings'],
      querystring: RecordingListQuerySchema,
      response: { 200: RecordingPageSchema },
    },
    handler: async (request) => {
      const q = request.query
      const filters = {
        caseId: q.case_id,
        orgUnitId: q.org_unit_id,
        classification: q.classification,
        recordCategory: q.record_category,
        status: q.status,
        endBefore: q.retention_end_before,
        endAfter: q.retention_end_after,
        onHold: q.on_hold,
        today: todayInTokyo(),
      }
      return listRecordingsInReach(request.ctx, filters, q.limit ?? 50, q.cursor)
    },
  })

  app.get('/:id', {
    config: { permission: 'recordings:read' },
    schema: {
      operationId: 'getRecording',
      summary: 'Read a recording',
      description: "Sets ETag (the recording's version). storage_uri and personal fields are redacted where the caller lacks media access.",
      tags: ['recordings'],
      params: RecordingIdParams,
      response: { 200: RecordingSchema },
    },
    handler: async (request, reply) => {
      const row = await loadRecording(request.ctx, request.params.id)
      setEtag(reply, row.version)
      return presentRecording(request.ctx, row)
    },
  })

  app.patch('/:id', {
    config: { permission: 'recordings:update' },
    schema: {
      operationId: 'updateRecording',
      summary: 'Change the descriptive fields of a recording',
      description: 'Title, location, description, participants, caller number. Needs If-Match with the ETag from GET.',
      tags: ['recordings'],
      params: RecordingIdParams,
      headers: IfMatchHeader,
      body: UpdateRecordingSchema,
      response: { 200: RecordingSchema },
    },
    handler: async (request, reply) => {
      const row = await updateDescription(request.ctx, request.params.id, request.body, request.headers['if-match'])
      setEtag(reply, row.version)
      return presentRecording(request.ctx, row)
    },
  })

  app.put('/:id/classification', {
    config: { permission: 'recordings:classify' },
    schema: {
      operationId: 'classifyRecording',
      summary: 'Classify a recording (records manager)',
      description:
        'Administrative document (行政文書/公文書) or not, personal information (個人情報) or not, record category, with a reason. Recomputes retention under the ' +
        'retention schedule in force today and keeps the decision in the history. 409 while a disposition is pending.',
      tags: ['recordings'],
      params: RecordingIdParams,
      headers: OptionalIfMatchHeader,
      body: ClassifySchema,
      response: { 200: RecordingSchema },
    },
    handler: async (request, reply) => {
      const row = await classifyRecording(request.ctx, request.params.id, request.body, request.headers['if-match'])
      setEtag(reply, row.version)
      return presentRecording(request.ctx, row)
    },
  })

  app.get('/:id/classifications', {
    config: { permission: 'recordings:read' },
    schema: {
      operationId: 'listRecordingClassifications',
      summary: 'Every classification of a recording, with the retention each gave',
      description: 'Every classification a records manager made (行政文書, 個人情報, record category), oldest first, each with the retention it gave.',
      tags: ['recordings'],
      params: RecordingIdParams,
      response: { 200: ClassificationHistorySchema },
    },
    handler: async (request) => classificationEntries(request.ctx, request.params.id),
  })

  app.get('/:id/retention', {
    config: { permission: 'recordings:read' },
    schema: {
      operationId: 'explainRecordingRetention',
      summary: 'Why and until when a recording is kept',
      description: 'The rule and retention schedule version used, 起算日, end, the holds that keep it, the effective end, and what happens next and when.',
      tags: ['recordings'],
      params: RecordingIdParams,
      response: { 200: RetentionExplanationSchema },
    },
    handler: async (request) => explainRetention(request.ctx, request.params.id),
  })

  app.post('/:id/holds', {
    config: { permission: 'recordings:hold', idempotent: true },
    schema: {
      operationId: 'placeRecordingHold',
      summary: 'Place a hold (施行令第9条): keep the recording past its period',
      description:
        'audit (監査・検査) and litigation (訴訟) last until released; appeal (不服申立て) and disclosure_request (開示請求) until one year after the day after their ' +
        'decision, once recorded; other until released or its own date.',
      tags: ['recordings'],
      params: RecordingIdParams,
      headers: IdempotencyKeyHeader,
      body: PlaceHoldSchema,
      response: { 201: HoldSchema },
    },
    handler: async (request, reply) => {
      const hold = await placeHold(request.ctx, request.params.id, request.body)
      reply.code(201).header('location', `/v1/recordings/${request.params.id}/holds/${hold.id}`)
      return hold
    },
  })

  app.get('/:id/holds', {
    config: { permission: 'recordings:read' },
    schema: {
      operationId: 'listRecordingHolds',
      summary: 'Every hold ever placed on a recording',
      description: 'Active and released holds, oldest first, with who placed and released each and why.',
      tags: ['recordings'],
      params: RecordingIdParams,
      response: { 200: HoldListSchema },
    },
    handler: async (request) => ({ items: await listHolds(request.ctx, request.params.id) }),
  })

  app.post('/:id/holds/:holdId/decision', {
    config: { permission: 'recordings:hold' },
    schema: {
      operationId: 'recordHoldDecision',
      summary: 'Record the decision date of an appeal or disclosure request',
      description: 'The hold then keeps the recording through one year from the day after the decision (決定の日の翌日から起算して一年間). Set once.',
      tags: ['recordings'],
      params: HoldParams,
      body: HoldDecisionSchema,
      response: { 200: HoldSchema },
    },
    handler: async (request) => recordHoldDecision(request.ctx, request.params.id, request.params.holdId, request.body.decision_date),
  })

  app.post('/:id/holds/:holdId/release', {
    config: { permission: 'recordings:release_hold' },
    schema: {
      operationId: 'releaseRecordingHold',
      summary: 'Release a hold, with a reason (records manager)',
      description: 'The hold stays in the history as released.',
      tags: ['recordings'],
      params: HoldParams,
      body: ReleaseHoldSchema,
      response: { 200: HoldSchema },
    },
    handler: async (request) => releaseHold(request.ctx, request.params.id, request.params.holdId, request.body.reason),
  })

  app.post('/:id/disposition', {
    config: { permission: 'recordings:dispose', idempotent: true },
    schema: {
      operationId: 'proposeDisposition',
      summary: 'Propose disposal (廃棄) or transfer (移管) of a recording whose retention has ended',
      description:
        'The first of two records managers. 409 before the effective end of retention, while a hold keeps the recording (naming the holds), when another ' +
        "proposal is pending, or when the action differs from the schedule's rule.",
      tags: ['recordings', 'dispositions'],
      params: RecordingIdParams,
      headers: IdempotencyKeyHeader,
      body: ProposeDispositionSchema,
      response: { 201: DispositionSchema },
    },
    handler: async (request, reply) => {
      const disposition = await proposeDisposition(request.ctx, request.params.id, request.body)
      reply.code(201).header('location', `/v1/dispositions/${disposition.id}`)
      return disposition
    },
  })

  app.post('/:id/access-grants', {
    config: { permission: 'recordings:media_access', location: false },
    schema: {
      operationId: 'grantMediaAccess',
      summary: "Get a short-lived signed grant to open the recording's media",
      description:
        "For the municipality's media server: a JWT naming the recording, storage_uri, sha256 and the caller, signed by this service (verify with " +
        '/.well-known/jwks.json). Supervisors within their unit, the desk and records managers. Every grant is audited. Send {} when no purpose is given; ' +
        "with derivative_id, the grant opens that redacted copy's media instead of the original's.",
      tags: ['recordings'],
      params: RecordingIdParams,
      body: GrantRequestSchema,
      response: { 201: MediaGrantSchema },
    },
    handler: async (request, reply) => {
      const grant = await grantMediaAccess(request.ctx, request.params.id, mediaGrants, keys, request.body.purpose ?? null, {
        derivativeId: request.body.derivative_id,
      })
      reply.code(201)
      return grant
    },
  })
}

export default recordingRoutes
