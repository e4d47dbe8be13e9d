import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { auditNow } from '../kernel/unit-of-work.plugin.ts'
import { JwksSchema } from '../keys/keys.schemas.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import { CheckpointPageSchema, CheckpointQuerySchema, CheckpointSchema } from './checkpoints.schemas.ts'
import { CHECKPOINT_JWKS_PATH, checkpointOnRequest, checkpointPage } from './checkpoints.service.ts'

/** Signed checkpoints of the audit chain: the list for auditors, and one on demand. */
const checkpointRoutes: FastifyPluginAsyncTypebox<{ keys: SigningKeys }> = async (app, { keys }) => {
  app.get('/checkpoints', {
    config: { permission: 'audit:verify', resourceType: 'audit_checkpoint' },
    schema: {
      operationId: 'listAuditCheckpoints',
      summary: 'Signed checkpoints of the audit chain',
      description:
        'Every checkpoint, oldest (default) or newest first, with its JWS: keep copies outside the service and verify the chain against ' +
        'them later (GET /v1/audit-events/verify?checkpoint=…). Each names the previous one, so they chain to each other.',
      tags: ['audit'],
      querystring: CheckpointQuerySchema,
      response: { 200: CheckpointPageSchema },
    },
    handler: async (request) => checkpointPage(request.ctx, request.query),
  })

  app.post('/checkpoints', {
    // Linking runs in transactions of its own (the embedded database has one connection); the
    // checkpoint and this request's audit entry then commit together.
    config: { permission: 'audit:checkpoint', resourceType: 'audit_checkpoint', transaction: false },
    schema: {
      operationId: 'createAuditCheckpoint',
      summary: 'Sign a checkpoint of the audit chain now',
      description:
        'Links every committed entry, then signs a checkpoint of the chain head (201), or returns the last checkpoint when it already ' +
        'covers the head (200). Published on the change feed as audit.checkpoint, like those the service signs every ' +
        'AUDIT_CHECKPOINT_INTERVAL_MS. 409 when nothing is linked yet, or when the chain no longer holds the last checkpoint.',
      tags: ['audit'],
      response: { 200: CheckpointSchema, 201: CheckpointSchema },
    },
    handler: async (request, reply) => {
      const result = await checkpointOnRequest(request.ctx, request.server.db, keys, (trx, status) => auditNow(request, status, trx))
      reply.code(result.status)
      return result.checkpoint
    },
  })
}

/** The public keys that verify checkpoints: every checkpoint key, for good (checkpoints are kept for good). */
export const checkpointJwksRoutes: FastifyPluginAsyncTypebox<{ keys: SigningKeys }> = async (app, { keys }) => {
  app.get(CHECKPOINT_JWKS_PATH, {
    config: { permission: 'public' },
    schema: {
      operationId: 'getAuditCheckpointJwks',
      summary: 'Public keys that verify audit checkpoints',
      description:
        "For auditors and other systems holding checkpoints: verify a checkpoint's signature with these keys (by kid). Keys that signed " +
        'checkpoints stay here after a rotation, for as long as the checkpoints exist. Keep a copy with your checkpoints.',
      tags: ['audit'],
      security: [],
      response: { 200: JwksSchema },
    },
    handler: async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      await keys.ensure(app.db, 'audit_checkpoint')
      return keys.jwks(app.db, 'audit_checkpoint')
    },
  })
}

export default checkpointRoutes
