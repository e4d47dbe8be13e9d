import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { TargetPolicy } from './targets.ts'
import {
  CreatedWebhookSchema,
  CreateWebhookSchema,
  DeliveryDetailSchema,
  DeliveryPageSchema,
  DeliveryParamsSchema,
  DeliveryQuerySchema,
  DeliverySchema,
  UpdateWebhookSchema,
  WebhookListSchema,
  WebhookParamsSchema,
  WebhookSchema,
} from './webhooks.schemas.ts'
import { changeWebhook, createWebhook, redeliverNow, removeWebhook, webhook, webhookDeliveries, webhookDelivery, webhookList } from './webhooks.service.ts'

interface WebhookRouteOptions {
  targets: TargetPolicy
}

/** Webhooks: administrators register receivers of the change feed; deliveries are signed and retried. */
const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRouteOptions> = async (app, { targets }) => {
  app.post('', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'createWebhook',
      summary: 'Register a webhook',
      description:
        'The webhook receives every change after the current feed head whose kind it subscribes to (and, with org_unit_id, of that ' +
        'unit and below). The response carries the signing secret, generated when none is given: it is never shown again.',
      tags: ['webhooks'],
      body: CreateWebhookSchema,
      response: { 201: CreatedWebhookSchema },
    },
    handler: async (request, reply) => {
      const created = await createWebhook(request.ctx, targets, request.body)
      reply.code(201).header('location', `/v1/webhooks/${created.id}`)
      return created
    },
  })

  app.get('', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'listWebhooks',
      summary: 'List webhooks',
      description: 'Admins only. Every webhook with its URL, kinds, unit and state; never its secret.',
      tags: ['webhooks'],
      response: { 200: WebhookListSchema },
    },
    handler: async (request) => ({ items: await webhookList(request.ctx) }),
  })

  app.get('/:id', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'getWebhook',
      summary: 'Get a webhook (never its secret)',
      description: 'Admins only. The signing secret is shown once, in the answer that creates the webhook, and never again.',
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      response: { 200: WebhookSchema },
    },
    handler: async (request) => webhook(request.ctx, request.params.id),
  })

  app.patch('/:id', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'updateWebhook',
      summary: 'Change a webhook: URL, kinds, unit, description, active, or a new secret',
      description: 'Admins only. A new URL is checked against the allowed targets as on creation. A new secret is the one you send: it is not echoed.',
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      body: UpdateWebhookSchema,
      response: { 200: WebhookSchema },
    },
    handler: async (request) => changeWebhook(request.ctx, targets, request.params.id, request.body),
  })

  app.delete('/:id', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'deleteWebhook',
      summary: 'Delete a webhook; queued deliveries are cancelled, past ones stay on record',
      description: 'Admins only. Deliveries still queued are cancelled; past deliveries stay on record.',
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      response: { 204: Type.Null({ description: 'Deleted' }) },
    },
    handler: async (request, reply) => {
      await removeWebhook(request.ctx, request.params.id)
      reply.code(204)
      return null
    },
  })

  app.get('/:id/deliveries', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'listWebhookDeliveries',
      summary: "A webhook's deliveries and their outcome, newest change first",
      description: 'Admins only. Paged with cursor, newest change first: each delivery of a change with its outcome.',
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      querystring: DeliveryQuerySchema,
      response: { 200: DeliveryPageSchema },
    },
    handler: async (request) => webhookDeliveries(request.ctx, request.params.id, request.query),
  })

  app.get('/:id/deliveries/:deliveryId', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'getWebhookDelivery',
      summary: 'A delivery with every attempt',
      description: 'Admins only. A delivery with every attempt: when, the status the target answered, and the error if any.',
      tags: ['webhooks'],
      params: DeliveryParamsSchema,
      response: { 200: DeliveryDetailSchema },
    },
    handler: async (request) => webhookDelivery(request.ctx, request.params.id, request.params.deliveryId),
  })

  app.post('/:id/deliveries/:deliveryId/redeliver', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'redeliverWebhookDelivery',
      summary: 'Queue a delivery again now (for one more attempt)',
      description: 'Admins only. Queues the delivery for one more attempt now (202); the outcome shows in its attempts.',
      tags: ['webhooks'],
      params: DeliveryParamsSchema,
      response: { 202: DeliverySchema },
    },
    handler: async (request, reply) => {
      const delivery = await redeliverNow(request.ctx, request.params.id, request.params.deliveryId)
      reply.code(202)
      return delivery
    },
  })
}

export default webhookRoutes
