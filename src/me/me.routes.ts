import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ACCESS, permissionsOf, ROLES } from '../kernel/access.ts'

const ReachSchema = Type.Enum(['own', 'unit', 'all'])

const MeSchema = Type.Object(
  {
    subject: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    roles: Type.Array(Type.Enum([...ROLES])),
    org_unit: Type.Union([Type.String(), Type.Null()]),
    permissions: Type.Object(Object.fromEntries(Object.keys(ACCESS).map((p) => [p, Type.Optional(ReachSchema)])), {
      additionalProperties: false,
      description: 'Each permission the caller holds, with its reach (own, unit, all)',
    }),
  },
  { $id: 'Me', additionalProperties: false },
)

/** Who the caller is, as this service sees their token. */
const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    config: { permission: 'authenticated', resourceType: 'session' },
    schema: {
      operationId: 'getMe',
      summary: 'The caller: subject, name, roles, org unit and permissions',
      description:
        'What the token says about the caller, and every permission their roles grant with its reach (own, unit, all), from the access table. Any valid token.',
      tags: ['session'],
      response: { 200: MeSchema },
    },
    handler: async (request) => {
      const { caller } = request.access
      return {
        subject: caller.subject,
        name: caller.name,
        roles: caller.roles,
        org_unit: caller.orgUnit,
        permissions: permissionsOf(caller.roles),
      }
    },
  })
}

export default meRoutes
