import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publishChanges } from '../kernel/outbox.js'
import { unprocessable } from '../kernel/errors.js'
import { CreateOrgUnitSchema, OrgUnitListSchema, OrgUnitSchema } from './org-units.schemas.js'
import { createOrgUnit, listOrgUnits } from './org-units.repository.js'

/** Org units (所属): the tree that reach ("own unit and below") is measured on. */
const orgUnitRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    config: { permission: 'org_units:read' },
    schema: {
      operationId: 'listOrgUnits',
      summary: 'List the org unit tree',
      description: 'Every unit, parents before children (the tree is small: one municipality).',
      tags: ['org-units'],
      response: { 200: OrgUnitListSchema },
    },
    handler: async (request) => {
      const items = await listOrgUnits(request.trx)
      request.audit.details = { count: items.length }
      return { items }
    },
  })

  app.post('', {
    config: { permission: 'org_units:write' },
    schema: {
      operationId: 'createOrgUnit',
      summary: 'Create an org unit under an existing one',
      tags: ['org-units'],
      body: CreateOrgUnitSchema,
      response: { 201: OrgUnitSchema },
    },
    handler: async (request, reply) => {
      const { parent_id: parentId, code, name } = request.body
      const created = await createOrgUnit(request.trx, { parentId, code, name, createdBy: request.access.caller.subject })
      if (!created) throw unprocessable('the parent unit does not exist', [{ pointer: 'body/parent_id', message: 'no such org unit' }])
      request.audit.resourceId = created.id
      // A unit belongs to itself, so integration clients of the parent unit see it appear.
      await publishChanges(request.trx, [
        { kind: 'org_unit.created', resourceType: 'org_unit', resourceId: created.id, orgUnitId: created.id, data: { parent_id: parentId, code } },
      ])
      reply.code(201).header('location', `/v1/org-units/${created.id}`)
      return created
    },
  })
}

export default orgUnitRoutes
