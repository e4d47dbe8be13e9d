import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdempotencyKeyHeader } from '../kernel/http-headers.ts'
import { CreateDerivativeSchema, DerivativeListSchema, DerivativeParams, DerivativeSchema, KeepDerivativeSchema } from './derivatives.schemas.ts'
import { getDerivative, keepDerivative, listDerivatives, registerDerivative } from './derivatives.service.ts'
import { RecordingIdParams } from './recordings.schemas.ts'

/** Redaction derivatives of a recording (部分開示): metadata of redacted copies; the original never changes. */
const derivativeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/:id/derivatives', {
    config: { permission: 'recordings:derive', idempotent: true },
    schema: {
      operationId: 'registerDerivative',
      summary: 'Register a redacted copy of a recording (for partial disclosure)',
      description:
        "Metadata of media the municipality's tools produced: its own storage_uri, sha256 and media type, the original's sha256 when it was made " +
        "(409 when it is not the recording's), and each time range changed, how and on which ground for withholding. The original's record and " +
        'hash are never touched. The derivative follows the original: its holds keep it, its disposal disposes of it.',
      tags: ['recordings'],
      params: RecordingIdParams,
      headers: IdempotencyKeyHeader,
      body: CreateDerivativeSchema,
      response: { 201: DerivativeSchema },
    },
    handler: async (request, reply) => {
      const created = await registerDerivative(request.ctx, request.params.id, request.body)
      reply.code(201).header('location', `/v1/recordings/${request.params.id}/derivatives/${created.id}`)
      return created
    },
  })

  app.get('/:id/derivatives', {
    config: { permission: 'recordings:read' },
    schema: {
      operationId: 'listDerivatives',
      summary: 'The redacted copies of a recording',
      description: 'storage_uri is redacted where the caller lacks media access to the original.',
      tags: ['recordings'],
      params: RecordingIdParams,
      response: { 200: DerivativeListSchema },
    },
    handler: async (request) => ({ items: await listDerivatives(request.ctx, request.params.id) }),
  })

  app.get('/:id/derivatives/:derivativeId', {
    config: { permission: 'recordings:read' },
    schema: {
      operationId: 'getDerivative',
      summary: 'One redacted copy of a recording',
      description: 'A redacted copy (for partial disclosure) with its redactions and who made and checked it; the original recording never changes.',
      tags: ['recordings'],
      params: DerivativeParams,
      response: { 200: DerivativeSchema },
    },
    handler: async (request) => getDerivative(request.ctx, request.params.id, request.params.derivativeId),
  })

  app.post('/:id/derivatives/:derivativeId/keep', {
    config: { permission: 'recordings:dispose' },
    schema: {
      operationId: 'keepDerivative',
      summary: 'Decide that a redacted copy outlives its original (records manager)',
      description:
        'Without this decision a derivative is disposed of with its original. With it, the derivative stays through until, then the retention sweep ' +
        'disposes of it. Once per derivative.',
      tags: ['recordings'],
      params: DerivativeParams,
      body: KeepDerivativeSchema,
      response: { 200: DerivativeSchema },
    },
    handler: async (request) => keepDerivative(request.ctx, request.params.id, request.params.derivativeId, request.body),
  })
}

export default derivativeRoutes
