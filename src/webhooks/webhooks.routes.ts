import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { feedHead } from '../changes/changes.repository.js'
import { sequenceAllWithin } from '../kernel/sequencer.js'
import type { Trx } from '../kernel/db.js'
import { notFound, unprocessable } from '../kernel/errors.js'
import { decodeCursor, paginate } from '../kernel/pagination.js'
import { findOrgUnit } from '../org-units/org-units.repository.js'
import { generateSecret } from './signature.js'
import type { TargetPolicy } from './targets.js'
import { deleteWebhook, findDelivery, findWebhook, insertWebhook, listDeliveries, listWebhooks, redeliver, updateWebhook } from './webhooks.repository.js'
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
} from './webhooks.schemas.js'

// The head after numbering everything committed so far: a new webhook receives exactly the
// changes committed after it was created.
async function currentHead(trx: Trx): Promise<number> {
  await sequenceAllWithin(trx)
  return feedHead(trx)
}

export interface WebhookRouteOptions {
  targets: TargetPolicy
}

/** Webhooks: administrators register receivers of the change feed; deliveries are signed and retried. */
const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRouteOptions> = async (app, { targets }) => {
  const checkUrl = (url: string) => {
    const refused = targets.checkUrl(url)
    if (refused) throw unprocessable(`the URL cannot be used: ${refused}`, [{ pointer: 'body/url', message: refused }])
  }
  const checkUnit = async (q: Parameters<typeof findOrgUnit>[0], unitId: string | null | undefined) => {
    if (unitId && !(await findOrgUnit(q, unitId)))
      throw unprocessable('the org unit does not exist', [{ pointer: 'body/org_unit_id', message: 'no such org unit' }])
  }

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
      const body = request.body
      checkUrl(body.url)
      await checkUnit(request.trx, body.org_unit_id)
      const secret = body.secret ?? generateSecret()
      const webhook = await insertWebhook(request.trx, {
        url: body.url,
        kinds: body.kinds,
        orgUnitId: body.org_unit_id ?? null,
        description: body.description ?? '',
        secret,
        startPosition: await currentHead(request.trx),
        createdBy: request.access.caller.subject,
      })
      request.audit.resourceId = webhook.id
      request.audit.details = { kinds: body.kinds.length }
      reply.code(201).header('location', `/v1/webhooks/${webhook.id}`)
      return { ...webhook, secret }
    },
  })

  app.get('', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'listWebhooks',
      summary: 'List webhooks',
      tags: ['webhooks'],
      response: { 200: WebhookListSchema },
    },
    handler: async (request) => {
      const items = await listWebhooks(request.trx)
      request.audit.details = { count: items.length }
      return { items }
    },
  })

  app.get('/:id', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'getWebhook',
      summary: 'Get a webhook (never its secret)',
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      response: { 200: WebhookSchema },
    },
    handler: async (request) => {
      const webhook = await findWebhook(request.trx, request.params.id)
      if (!webhook) throw notFound('webhook')
      return webhook
    },
  })

  app.patch('/:id', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'updateWebhook',
      summary: 'Change a webhook: URL, kinds, unit, description, active, or a new secret',
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      body: UpdateWebhookSchema,
      response: { 200: WebhookSchema },
    },
    handler: async (request) => {
      const body = request.body
      if (body.url !== undefined) checkUrl(body.url)
      await checkUnit(request.trx, body.org_unit_id)
      const webhook = await updateWebhook(request.trx, request.params.id, {
        url: body.url,
        kinds: body.kinds,
        orgUnitId: body.org_unit_id,
        description: body.description,
        active: body.active,
        secret: body.secret,
      })
      if (!webhook) throw notFound('webhook')
      // Which fields changed, never their values (the secret above all).
      request.audit.details = { fields: Object.keys(body).sort() }
      return webhook
    },
  })

  app.delete('/:id', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'deleteWebhook',
      summary: 'Delete a webhook; queued deliveries are cancelled, past ones stay on record',
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      response: { 204: Type.Null({ description: 'Deleted' }) },
    },
    handler: async (request, reply) => {
      if (!(await deleteWebhook(request.trx, request.params.id))) throw notFound('webhook')
      reply.code(204)
      return null
    },
  })

  app.get('/:id/deliveries', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'listWebhookDeliveries',
      summary: "A webhook's deliveries and their outcome, newest change first",
      tags: ['webhooks'],
      params: WebhookParamsSchema,
      querystring: DeliveryQuerySchema,
      response: { 200: DeliveryPageSchema },
    },
    handler: async (request) => {
      if (!(await findWebhook(request.trx, request.params.id))) throw notFound('webhook')
      const limit = request.query.limit ?? 50
      const before = request.query.cursor === undefined ? null : Number(decodeCursor(request.query.cursor, 1)[0])
      const rows = await listDeliveries(request.trx, request.params.id, {
        status: request.query.status,
        beforePosition: before !== null && Number.isFinite(before) ? before : null,
        limit: limit + 1,
      })
      const { page, nextCursor } = paginate(rows, limit, (d) => [d.change_position])
      request.audit.details = { count: page.length }
      return { items: page, next_cursor: nextCursor }
    },
  })

  app.get('/:id/deliveries/:deliveryId', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'getWebhookDelivery',
      summary: 'A delivery with every attempt',
      tags: ['webhooks'],
      params: DeliveryParamsSchema,
      response: { 200: DeliveryDetailSchema },
    },
    handler: async (request) => {
      const delivery = await findDelivery(request.trx, request.params.id, request.params.deliveryId)
      if (!delivery) throw notFound('delivery')
      request.audit.details = { delivery_id: delivery.id }
      return delivery
    },
  })

  app.post('/:id/deliveries/:deliveryId/redeliver', {
    config: { permission: 'webhooks:manage' },
    schema: {
      operationId: 'redeliverWebhookDelivery',
      summary: 'Queue a delivery again now (for one more attempt)',
      tags: ['webhooks'],
      params: DeliveryParamsSchema,
      response: { 202: DeliverySchema },
    },
    handler: async (request, reply) => {
      const delivery = await redeliver(request.trx, request.params.id, request.params.deliveryId)
      if (!delivery) throw notFound('delivery')
      request.audit.details = { delivery_id: delivery.id }
      reply.code(202)
      return delivery
    },
  })
}

export default webhookRoutes
