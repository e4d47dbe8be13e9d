import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { TSchema } from 'typebox'
import { badRequest, conflict, notFound, unprocessable } from '../kernel/errors.js'
import { addDays, todayInTokyo } from '../kernel/time.js'
import { publishChanges } from '../kernel/outbox.js'
import {
  findPolicyVersion,
  insertPolicyVersion,
  listPolicyVersions,
  nextEffectiveDates,
  policiesInForce,
  policyInForce,
  versionExistsOn,
} from './policies.repository.js'
import { effectiveDateErrors, policyBodyErrors } from './policies.rules.js'
import {
  AnyPolicyVersionSchema,
  AtQuerySchema,
  CREATE_POLICY_VERSION_SCHEMAS,
  POLICY_EPOCH,
  POLICY_TYPES,
  POLICY_VERSION_SCHEMAS,
  PoliciesInForceSchema,
  PolicyTypeParamsSchema,
  PolicyVersionHistorySchema,
  PolicyVersionParamsSchema,
  policyVersionSchemaName,
  type PolicyBodies,
  type PolicyType,
  type PolicyVersion,
  type PolicyVersionView,
} from './policies.schemas.js'

/** The date a read asks about: ?at= or today in Tokyo; nothing was in force before the epoch. */
export function dateAsked(at: string | undefined, pointer = 'querystring/at'): string {
  if (at === undefined) return todayInTokyo()
  if (at < POLICY_EPOCH)
    throw badRequest(`${at} is before ${POLICY_EPOCH}, the first day any policy is in force`, [{ pointer, message: `must be ${POLICY_EPOCH} or later` }])
  return at
}

/** A version with the last day it is in force, given the next version's effective date. */
function view<T extends PolicyType>(version: PolicyVersion<T>, nextFrom: string | undefined): PolicyVersionView<T> {
  return { ...version, effective_until: nextFrom === undefined ? null : addDays(nextFrom, -1) } as PolicyVersionView<T>
}

/**
 * Policies with effective dates (施行日). Reads answer "which version was (or will be) in force
 * on a date"; administrators add versions that take effect today or later, never before.
 */
const policyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'getPoliciesInForce',
      summary: "Each policy type's version in force today, or on ?at=",
      tags: ['policies'],
      querystring: AtQuerySchema,
      response: { 200: PoliciesInForceSchema },
    },
    handler: async (request) => {
      const at = dateAsked(request.query.at)
      const [versions, next] = await Promise.all([policiesInForce(request.trx, at), nextEffectiveDates(request.trx, at)])
      request.audit.details = { at }
      return {
        at,
        policies: {
          recording: view(versions.recording, next.recording),
          name_display: view(versions.name_display, next.name_display),
          escalation: view(versions.escalation, next.escalation),
          retention: view(versions.retention, next.retention),
          calendar: view(versions.calendar, next.calendar),
        },
      }
    },
  })

  app.get('/:type', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'getPolicyInForce',
      summary: "One policy type's version in force today, or on ?at=",
      tags: ['policies'],
      params: PolicyTypeParamsSchema,
      querystring: AtQuerySchema,
      response: { 200: AnyPolicyVersionSchema },
    },
    handler: async (request) => {
      const { type } = request.params
      const at = dateAsked(request.query.at)
      const [version, next] = await Promise.all([policyInForce(request.trx, type, at), nextEffectiveDates(request.trx, at, [type])])
      request.audit.resourceId = version.id
      request.audit.details = { type, at }
      return view(version, next[type])
    },
  })

  app.get('/:type/versions', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'listPolicyVersions',
      summary: "A policy type's versions, oldest first, with the one in force today",
      tags: ['policies'],
      params: PolicyTypeParamsSchema,
      response: { 200: PolicyVersionHistorySchema },
    },
    handler: async (request) => {
      const { type } = request.params
      const today = todayInTokyo()
      const versions = await listPolicyVersions(request.trx, type)
      const items = versions.map((v, i) => view(v, versions[i + 1]?.effective_from))
      // The default version takes effect on the epoch, so one is always in force today.
      const inForce = items.filter((v) => v.effective_from <= today).at(-1)!
      request.audit.details = { type, count: items.length }
      return { type, today, in_force_id: inForce.id, items }
    },
  })

  app.get('/:type/versions/:id', {
    config: { permission: 'policies:read' },
    schema: {
      operationId: 'getPolicyVersion',
      summary: 'One version by id (decisions record the id of the version they followed)',
      tags: ['policies'],
      params: PolicyVersionParamsSchema,
      response: { 200: AnyPolicyVersionSchema },
    },
    handler: async (request) => {
      const { type, id } = request.params
      const version = await findPolicyVersion(request.trx, id)
      if (!version || version.type !== type) throw notFound(`${type} policy version ${id}`)
      const next = await nextEffectiveDates(request.trx, version.effective_from, [type])
      request.audit.details = { type }
      return view(version, next[type])
    },
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
      const input = request.body as { effective_from: string; body: PolicyBodies[T]; note: string }
      const errors = [...effectiveDateErrors(input.effective_from), ...policyBodyErrors(type, input.body, input.effective_from)]
      if (errors.length > 0) {
        const summary = errors
          .slice(0, 3)
          .map((e) => `${e.pointer} ${e.message}`)
          .join('; ')
        throw unprocessable(`${errors.length} invalid value${errors.length === 1 ? '' : 's'} in the body: ${summary}`, errors)
      }
      // Checked first for a clear answer; the unique constraint still settles concurrent requests (409 too).
      if (await versionExistsOn(request.trx, type, input.effective_from)) {
        throw conflict(`a ${type} version already takes effect on ${input.effective_from}; versions never change, so choose another date`)
      }
      const version = await insertPolicyVersion(request.trx, {
        type,
        effectiveFrom: input.effective_from,
        body: input.body,
        note: input.note,
        createdBy: request.access.caller.subject,
      })
      const next = await nextEffectiveDates(request.trx, version.effective_from, [type])
      await publishChanges(request.trx, [
        {
          kind: 'policy.version_created',
          resourceType: 'policy',
          resourceId: version.id,
          orgUnitId: null,
          data: { type, effective_from: version.effective_from },
        },
      ])
      request.audit.resourceId = version.id
      request.audit.details = { type, effective_from: version.effective_from }
      reply.code(201).header('location', `/v1/policies/${type}/versions/${version.id}`)
      return view(version, next[type])
    },
  })
}

export default policyRoutes
