import { feedHead } from '../changes/changes.repository.ts'
import type { ServiceContext } from '../kernel/context.ts'
import { notFound, unprocessable } from '../kernel/errors.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import { sequenceAllWithin } from '../kernel/sequencer.ts'
import { requireOrgUnit } from '../org-units/org-units.service.ts'
import { generateSecret } from './signature.ts'
import type { TargetPolicy } from './targets.ts'
import { deleteWebhook, findDelivery, findWebhook, insertWebhook, listDeliveries, listWebhooks, redeliver, updateWebhook } from './webhooks.repository.ts'
import type { CreateWebhook, Delivery, UpdateWebhook, Webhook } from './webhooks.schemas.ts'

/**
 * Webhooks (administrators): receivers of the change feed. A target must be one the delivery
 * policy allows (targets.ts), checked at registration for an early answer and again at every
 * delivery; a new webhook receives exactly the changes committed after it was created.
 */

function checkUrl(targets: TargetPolicy, url: string): void {
  const refused = targets.checkUrl(url)
  if (refused) throw unprocessable({ id: 'webhooks.url_refused', params: { why: { text: refused } } }, [{ pointer: 'body/url', message: refused }])
}

export async function createWebhook(ctx: ServiceContext, targets: TargetPolicy, body: CreateWebhook): Promise<Webhook & { secret: string }> {
  checkUrl(targets, body.url)
  if (body.org_unit_id) await requireOrgUnit(ctx, body.org_unit_id, 'body/org_unit_id')
  const secret = body.secret ?? generateSecret()
  // The head after numbering everything committed so far: the webhook starts after it.
  await sequenceAllWithin(ctx.db)
  const webhook = await insertWebhook(ctx.db, {
    url: body.url,
    kinds: body.kinds,
    orgUnitId: body.org_unit_id ?? null,
    description: body.description ?? '',
    secret,
    startPosition: await feedHead(ctx.db),
    createdBy: ctx.caller.subject,
  })
  ctx.audit.resourceId = webhook.id
  ctx.audit.details = { kinds: body.kinds.length }
  // The secret is shown this once.
  return { ...webhook, secret }
}

export async function webhookList(ctx: ServiceContext): Promise<Webhook[]> {
  const items = await listWebhooks(ctx.db)
  ctx.audit.details = { count: items.length }
  return items
}

export async function webhook(ctx: ServiceContext, id: string): Promise<Webhook> {
  const found = await findWebhook(ctx.db, id)
  if (!found) throw notFound('not_found.webhook')
  return found
}

export async function changeWebhook(ctx: ServiceContext, targets: TargetPolicy, id: string, body: UpdateWebhook): Promise<Webhook> {
  if (body.url !== undefined) checkUrl(targets, body.url)
  if (body.org_unit_id) await requireOrgUnit(ctx, body.org_unit_id, 'body/org_unit_id')
  const updated = await updateWebhook(ctx.db, id, {
    url: body.url,
    kinds: body.kinds,
    orgUnitId: body.org_unit_id,
    description: body.description,
    active: body.active,
    secret: body.secret,
  })
  if (!updated) throw notFound('not_found.webhook')
  // Which fields changed, never their values (the secret above all).
  ctx.audit.details = { fields: Object.keys(body).sort() }
  return updated
}

/** Deletes a webhook: queued deliveries are cancelled, past ones stay on record. */
export async function removeWebhook(ctx: ServiceContext, id: string): Promise<void> {
  if (!(await deleteWebhook(ctx.db, id))) throw notFound('not_found.webhook')
}

export async function webhookDeliveries(
  ctx: ServiceContext,
  id: string,
  query: { status?: Delivery['status']; limit?: number; cursor?: string },
): Promise<{ items: Delivery[]; next_cursor: string | null }> {
  await webhook(ctx, id)
  const limit = query.limit ?? 50
  const before = query.cursor === undefined ? null : Number(decodeCursor(query.cursor, 1)[0])
  const rows = await listDeliveries(ctx.db, id, {
    status: query.status,
    beforePosition: before !== null && Number.isFinite(before) ? before : null,
    limit: limit + 1,
  })
  const { page, nextCursor } = paginate(rows, limit, (d) => [d.change_position])
  ctx.audit.details = { count: page.length }
  return { items: page, next_cursor: nextCursor }
}

export async function webhookDelivery(ctx: ServiceContext, id: string, deliveryId: string) {
  const delivery = await findDelivery(ctx.db, id, deliveryId)
  if (!delivery) throw notFound('not_found.delivery')
  ctx.audit.details = { delivery_id: delivery.id }
  return delivery
}

/** Queues a delivery again now (one more attempt; a dead one comes back to life for it). */
export async function redeliverNow(ctx: ServiceContext, id: string, deliveryId: string): Promise<Delivery> {
  const delivery = await redeliver(ctx.db, id, deliveryId)
  if (!delivery) throw notFound('not_found.delivery')
  ctx.audit.details = { delivery_id: delivery.id }
  return delivery
}
