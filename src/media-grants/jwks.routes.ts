import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { JwksSchema } from '../keys/keys.schemas.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import { JWKS_PATH, mediaGrantJwks } from './media-grants.service.ts'

/** The public keys media servers verify media access grants with (RFC 7517). No token needed. */
const jwksRoutes: FastifyPluginAsyncTypebox<{ keys: SigningKeys }> = async (app, { keys }) => {
  app.get(JWKS_PATH, {
    config: { permission: 'public' },
    schema: {
      operationId: 'getMediaGrantJwks',
      summary: 'Public keys that verify media access grants',
      description:
        "For the municipality's media server: verify a grant's signature with these keys (by kid), and its typ (media-grant+jwt), iss, aud and exp. " +
        'After a rotation the superseded key stays here until every grant it signed has expired.',
      tags: ['recordings'],
      security: [],
      response: { 200: JwksSchema },
    },
    handler: async (_request, reply) => {
      // Media servers may cache the set briefly; they refetch when a grant names a kid they lack.
      reply.header('cache-control', 'public, max-age=300')
      return mediaGrantJwks(app.db, keys)
    },
  })
}

export default jwksRoutes
