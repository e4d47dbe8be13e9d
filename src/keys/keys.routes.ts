import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { rotateSigningKey, type SigningKeys, signingKeyList } from './keys.service.ts'
import { KeyRotationSchema, RotateKeySchema, SigningKeyListSchema } from './keys.schemas.ts'

/** Signing keys: what exists (no private parts, ever), and rotation. */
const keyRoutes: FastifyPluginAsyncTypebox<{ keys: SigningKeys }> = async (app, { keys }) => {
  app.get('', {
    config: { permission: 'keys:read', resourceType: 'signing_key' },
    schema: {
      operationId: 'listSigningKeys',
      summary: 'Signing keys and their state',
      description:
        'Every signing key, newest first: its purpose, whether it signs now, whether it is published, when it was superseded and when ' +
        'it leaves the JWKS, who rotated it in and why, and the fingerprint of the key-encryption key sealing it. Never private material.',
      tags: ['keys'],
      response: { 200: SigningKeyListSchema },
    },
    handler: async (request) => signingKeyList(request.ctx),
  })

  app.post('/rotate', {
    config: { permission: 'keys:rotate', resourceType: 'signing_key', location: false },
    schema: {
      operationId: 'rotateSigningKey',
      summary: 'Rotate the signing key of a purpose',
      description:
        'Creates a new key that signs from now on, on every instance at once. The old key loses its private part and stays in its ' +
        'JWKS: a media grant key until every grant it signed has expired (retires_at), a checkpoint key for good. Audited with the old ' +
        'and new kid; the reason is kept with the new key.',
      tags: ['keys'],
      body: RotateKeySchema,
      response: { 201: KeyRotationSchema },
    },
    handler: async (request, reply) => {
      const rotation = await rotateSigningKey(request.ctx, keys, request.body)
      reply.code(201)
      return rotation
    },
  })
}

export default keyRoutes
