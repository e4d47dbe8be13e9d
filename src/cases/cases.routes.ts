import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { decodeCursor, paginate } from '../kernel/pagination.js'
import { setEtag } from '../kernel/preconditions.js'
import { listCases, listKey } from './cases.repository.js'
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
} from './cases.schemas.js'
import { addResponder, createCase, loadCase, presentCase, presentCases, reloadCase, transitionCase, updateCase, upsertByExternalRef } from './cases.service.js'

const IdempotencyHeader = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ maxLength: 200, description: 'A retry with the same key and body returns the first response' })),
})
const IfMatchHeader = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'The ETag from GET; required (428 without, 412 when stale)' })),
})

/** After a change: the case as it now is, with its ETag. */
async function currentCase(request: FastifyRequest, reply: FastifyReply, id: string) {
  const row = await reloadCase(request, id)
  setEtag(reply, row.version)
  return presentCase(request, row)
}

/** Cases (カスハラ事案): intake, reading, changes, status, responders, integration upserts. */
const caseRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    config: { permission: 'cases:create', idempotent: true },
    schema: {
      operationId: 'createCase',
      summary: 'Record a new case',
      description:
        'Assigns the next number of the fiscal year. A category the escalation policy names (default violence, sexual harassment) escalates the case at once and forbids handling it alone.',
      tags: ['cases'],
      headers: IdempotencyHeader,
      body: CreateCaseSchema,
      response: { 201: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await createCase(request, request.body)
      reply.code(201).header('location', `/v1/cases/${row.id}`)
      return currentCase(request, reply, row.id)
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
      const limit = q.limit ?? 50
      const rows = await listCases(
        request.trx,
        request.access.reach,
        request.access.caller,
        {
          status: q.status,
          severity: q.severity,
          category: q.category,
          orgUnitId: q.org_unit_id,
          responder: q.responder,
          occurredFrom: q.occurred_from ? new Date(q.occurred_from) : undefined,
          occurredTo: q.occurred_to ? new Date(q.occurred_to) : undefined,
          externalRef: q.external_ref,
          text: q.q,
        },
        limit + 1,
        q.cursor ? decodeCursor(q.cursor, 3) : null,
      )
      const { page, nextCursor } = paginate(rows, limit, listKey)
      request.audit.details = { count: page.length, ids: page.map((r) => r.id) }
      return { items: await presentCases(request, page), next_cursor: nextCursor }
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
      const row = await loadCase(request, request.params.id)
      setEtag(reply, row.version)
      return presentCase(request, row)
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
      const row = await updateCase(request, request.params.id, request.body)
      return currentCase(request, reply, row.id)
    },
  })

  app.post('/:id/transitions', {
    config: { permission: 'cases:escalate' },
    schema: {
      operationId: 'transitionCase',
      summary: 'Change the status of a case',
      description:
        'open → escalated (staff, supervisor, desk) → in_review → resolved → closed, and resolved → in_review (reopen), by supervisor or desk. Closing needs a resolution event. An illegal transition is 409 naming the allowed ones.',
      tags: ['cases'],
      params: CaseIdParams,
      body: TransitionSchema,
      response: { 200: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await transitionCase(request, request.params.id, request.body.to, request.body.reason)
      return currentCase(request, reply, row.id)
    },
  })

  app.post('/:id/responders', {
    config: { permission: 'cases:add_responder' },
    schema: {
      operationId: 'addCaseResponder',
      summary: 'Add a responder to a case (複数名で対応)',
      tags: ['cases'],
      params: CaseIdParams,
      body: AddResponderSchema,
      response: { 200: CaseSchema },
    },
    handler: async (request, reply) => {
      const row = await addResponder(request, request.params.id, request.body.subject)
      return currentCase(request, reply, row.id)
    },
  })

  app.put('/by-external-ref/:system/:ref', {
    config: { permission: 'cases:upsert_external' },
    schema: {
      operationId: 'upsertCaseByExternalRef',
      summary: 'Create or update the case another system knows by its own id',
      description: 'Idempotent: 201 when created, 200 when updated or unchanged.',
      tags: ['cases', 'integration'],
      params: ExternalRefParams,
      body: UpsertCaseSchema,
      response: { 200: CaseSchema, 201: CaseSchema },
    },
    handler: async (request, reply) => {
      const { row, created } = await upsertByExternalRef(request, request.params.system, request.params.ref, request.body)
      if (created) reply.code(201).header('location', `/v1/cases/${row.id}`)
      return currentCase(request, reply, row.id)
    },
  })
}

export default caseRoutes
