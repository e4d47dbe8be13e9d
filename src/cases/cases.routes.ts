import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import type { ServiceContext } from '../kernel/context.ts'
import { IdempotencyKeyHeader, IfMatchHeader, OptionalIfMatchHeader } from '../kernel/http-headers.ts'
import { setEtag } from '../kernel/preconditions.ts'
import {
  AddResponderSchema,
  CaseIdParams,
  CaseListQuerySchema,
  CasePageSchema,
  CaseSchema,
  CreateCaseSchema,
  ExternalRefParams,
  TransitionSchema,
  UpdateCaseSchema,
  UpsertCaseSchema,
} from './cases.schemas.ts'
import {
  addResponder,
  listCasesInReach,
  loadCase,
  presentCase,
  recordCase,
  reloadCase,
  transitionCase,
  updateCase,
  upsertByExternalRef,
} from './cases.service.ts'

/** After a change: the case as it now is, with its ETag. */
async function currentCase(ctx: ServiceContext, reply: FastifyReply, id: string) {
  const row = await reloadCase(ctx, id)
  setEtag(reply, row.version)
  return presentCase(ctx, row)
}

/** Cases (カスハラ事案): intake, reading, changes, status, responders, integration upserts. */
const caseRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    // One statement in autocommit (cases.service.ts); with an Idempotency-Key, a transaction.
    config: { permission: 'cases:create', idempotent: true, oneStatement: true },
    schema: {
      operationId: 'createCase',
      summary: 'Record a new case',
      description:
        'Assigns the next number of the fiscal year. A category the escalation policy names (default violence, sexual harassment) escalates the case at ' +
        'once and forbids handling it alone.',
      tags: ['cases'],
      headers: IdempotencyKeyHeader,
      body: CreateCaseSchema,
      response: { 201: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await recordCase(request.ctx, request.body)
      reply.code(201).header('location', `/v1/cases/${row.id}`)
      setEtag(reply, row.version)
      return presentCase(request.ctx, row)
    },
  })

  app.get('', {
    config: { permission: 'cases:read' },
    schema: {
      operationId: 'listCases',
      summary: 'List cases in reach',
      description: 'Open cases nobody may handle alone come first, then the newest. Filters combine; the text filter searches summaries.',
      tags: ['cases'],
      querystring: CaseListQuerySchema,
      response: { 200: CasePageSchema },
    },
    handler: async (request) => {
      const q = request.query
      const filters = {
        status: q.status,
        severity: q.severity,
        category: q.category,
        orgUnitId: q.org_unit_id,
        responder: q.responder,
        occurredFrom: q.occurred_from ? new Date(q.occurred_from) : undefined,
        occurredTo: q.occurred_to ? new Date(q.occurred_to) : undefined,
        externalRef: q.external_ref,
        text: q.q,
      }
      return listCasesInReach(request.ctx, filters, q.limit ?? 50, q.cursor)
    },
  })

  app.get('/:id', {
    config: { permission: 'cases:read' },
    schema: {
      operationId: 'getCase',
      summary: 'Read a case',
      description: "Sets ETag (the case's version). The customer's details are redacted for roles without the right to see personal data.",
      tags: ['cases'],
      params: CaseIdParams,
      response: { 200: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await loadCase(request.ctx, request.params.id)
      setEtag(reply, row.version)
      return presentCase(request.ctx, row)
    },
  })

  app.patch('/:id', {
    config: { permission: 'cases:update' },
    schema: {
      operationId: 'updateCase',
      summary: 'Change a case',
      description: 'Needs If-Match with the ETag from GET. Adding a category the escalation policy names escalates the case.',
      tags: ['cases'],
      params: CaseIdParams,
      headers: IfMatchHeader,
      body: UpdateCaseSchema,
      response: { 200: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await updateCase(request.ctx, request.params.id, request.body, request.headers['if-match'])
      return currentCase(request.ctx, reply, row.id)
    },
  })

  app.post('/:id/transitions', {
    config: { permission: 'cases:escalate' },
    schema: {
      operationId: 'transitionCase',
      summary: 'Change the status of a case',
      description:
        'open → escalated (staff, supervisor, desk) → in_review → resolved → closed, and resolved → in_review (reopen), by supervisor or desk. Closing ' +
        'needs a resolution event. An illegal transition is 409 naming the allowed ones.',
      tags: ['cases'],
      params: CaseIdParams,
      headers: OptionalIfMatchHeader,
      body: TransitionSchema,
      response: { 200: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await transitionCase(request.ctx, request.params.id, request.body.to, request.body.reason, request.headers['if-match'])
      return currentCase(request.ctx, reply, row.id)
    },
  })

  app.post('/:id/responders', {
    config: { permission: 'cases:add_responder' },
    schema: {
      operationId: 'addCaseResponder',
      summary: 'Add a responder to a case (複数名で対応)',
      description: 'Supervisors and the desk, or a responder bringing in a colleague. The answer is the case as it now is, with its ETag.',
      tags: ['cases'],
      params: CaseIdParams,
      body: AddResponderSchema,
      response: { 200: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await addResponder(request.ctx, request.params.id, request.body.subject)
      return currentCase(request.ctx, reply, row.id)
    },
  })

  app.put('/by-external-ref/:system/:ref', {
    config: { permission: 'cases:upsert_external' },
    schema: {
      operationId: 'upsertCaseByExternalRef',
      summary: 'Create or update the case another system knows by its own id',
      description:
        "Idempotent: 201 when created, 200 when updated or unchanged. A reference is scoped to the org unit of its case (the body's org_unit_id, " +
        "else the caller's): another unit's case under the same reference is never seen.",
      tags: ['cases', 'integration'],
      params: ExternalRefParams,
      body: UpsertCaseSchema,
      response: { 200: CaseSchema, 201: CaseSchema },
    },
    handler: async (request, reply) => {
      const { row, created } = await upsertByExternalRef(request.ctx, request.params.system, request.params.ref, request.body)
      if (created) reply.code(201).header('location', `/v1/cases/${row.id}`)
      return currentCase(request.ctx, reply, row.id)
    },
  })
}

export default caseRoutes
