import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { TSchema } from 'typebox'
import {
  AnyPolicyVersionSchema,
  AtQuerySchema,
  CREATE_POLICY_VERSION_SCHEMAS,
  POLICY_TYPES,
  POLICY_VERSION_SCHEMAS,
  PoliciesInForceSchema,
  PolicyTypeParamsSchema,
  PolicyVersionHistorySchema,
  PolicyVersionParamsSchema,
  policyVersionSchemaName,
  type PolicyBodies,
  type PolicyType,
} from './policies.schemas.ts'
import { createPolicyVersion, dateAsked, POLICY_VERSIONS, policiesInForceOn, policyHistory, policyInForceOn, policyVersion } from './policies.service.ts'

/**
 * Policies with effective dates (施行日). Reads answer "which version was (or will be) in force
 * on a date"; administrators add versions that take effect today or later, never before.
 */
const policyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Every instance keeps the versions, listening for new ones (policies.service.ts).
  app.keepShared(POLICY_VERSIONS)
  app.get('', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'getPoliciesInForce',
      summary: "Each policy type's version in force today, or on ?at=",
      description: 'For every policy type, the version whose effective date (施行日) is the latest on or before the day asked (today by default).',
      tags: ['policies'],
      querystring: AtQuerySchema,
      response: { 200: PoliciesInForceSchema },
    },
    handler: async (request) => policiesInForceOn(request.ctx, dateAsked(request.query.at)),
  })

  app.get('/:type', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'getPolicyInForce',
      summary: "One policy type's version in force today, or on ?at=",
      description: 'The version whose effective date (施行日) is the latest on or before the day asked (today by default).',
      tags: ['policies'],
      params: PolicyTypeParamsSchema,
      querystring: AtQuerySchema,
      response: { 200: AnyPolicyVersionSchema },
    },
    handler: async (request) => policyInForceOn(request.ctx, request.params.type, dateAsked(request.query.at)),
  })

  app.get('/:type/versions', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'listPolicyVersions',
      summary: "A policy type's versions, oldest first, with the one in force today",
      description:
        'Every version ever published for the type, oldest first. A version never changes once in force; a later one supersedes it from its own date.',
      tags: ['policies'],
      params: PolicyTypeParamsSchema,
      response: { 200: PolicyVersionHistorySchema },
    },
    handler: async (request) => policyHistory(request.ctx, request.params.type),
  })

  app.get('/:type/versions/:id', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'getPolicyVersion',
      summary: 'One version by id (decisions record the id of the version they followed)',
      description: 'Decisions (retention, deadlines, escalation) record the id of the policy version they followed: this reads that version as it was.',
      tags: ['policies'],
      params: PolicyVersionParamsSchema,
      response: { 200: AnyPolicyVersionSchema },
    },
    handler: async (request) => policyVersion(request.ctx, request.params.type, request.params.id),
  })

  // One route per type, so the contract shows each type's exact body schema.
  for (const type of POLICY_TYPES) registerCreateVersion(app, type)
}

function registerCreateVersion<T extends PolicyType>(app: Parameters<FastifyPluginAsyncTypebox>[0], type: T): void {
  // Typed per type by the schemas in the contract; here one handler serves them all.
  const body: TSchema = CREATE_POLICY_VERSION_SCHEMAS[type]
  const created: TSchema = POLICY_VERSION_SCHEMAS[type]
  app.post(`/${type}/versions`, {
    config: { permission: 'policies:write', idempotent: true },
    schema: {
      operationId: `create${policyVersionSchemaName(type)}`,
      summary: `Add a ${type} policy version taking effect today or later (administrators)`,
      description:
        'The version supersedes the one before it from its effective date (Asia/Tokyo), until the next version takes effect. ' +
        'Versions never change once created. Refused: a date before today (422 body/effective_from), a body that breaks the ' +
        "type's rules (422 naming each field), a second version of the type on the same date (409). Honours Idempotency-Key.",
      tags: ['policies'],
      body,
      response: { 201: created },
    },
    handler: async (request, reply) => {
      const version = await createPolicyVersion(request.ctx, type, request.body as { effective_from: string; body: PolicyBodies[T]; note: string })
      reply.code(201).header('location', `/v1/policies/${type}/versions/${version.id}`)
      return version
    },
  })
}

export default policyRoutes
