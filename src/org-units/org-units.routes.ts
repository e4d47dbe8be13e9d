import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CreateOrgUnitSchema, OrgUnitListSchema, OrgUnitSchema } from './org-units.schemas.ts'
import { addOrgUnit, orgUnitTree } from './org-units.service.ts'

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
    handler: async (request) => ({ items: await orgUnitTree(request.ctx) }),
  })

  app.post('', {
    config: { permission: 'org_units:write' },
    schema: {
      operationId: 'createOrgUnit',
      summary: 'Create an org unit under an existing one',
      description:
        'Admins only. The code is unique; the parent must exist. Supervisors reach their unit and every unit below it, so where a unit ' +
        'sits decides who sees its cases.',
      tags: ['org-units'],
      body: CreateOrgUnitSchema,
      response: { 201: OrgUnitSchema },
    },
    handler: async (request, reply) => {
      const created = await addOrgUnit(request.ctx, request.body)
      reply.code(201).header('location', `/v1/org-units/${created.id}`)
      return created
    },
  })
}

export default orgUnitRoutes
