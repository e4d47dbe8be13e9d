import { sql, type RawBuilder, type Selectable } from 'kysely'
import type { Db, Queryable } from '../kernel/db.ts'
import { newId } from '../kernel/ids.ts'
import type { Delivery, Webhook } from './webhooks.schemas.ts'
import type { WebhookDeliveriesTable, WebhooksTable } from './webhooks.tables.ts'

type WebhookRow = Selectable<WebhooksTable>
type DeliveryRow = Selectable<WebhookDeliveriesTable>

function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    kinds: row.kinds,
    org_unit_id: row.org_unit_id,
    description: row.description,
    active: row.active,
    start_position: row.start_position,
    created_at: row.created_at.toISOString(),
    created_by: row.created_by,
    updated_at: row.updated_at.toISOString(),
  }
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    change_position: row.change_position,
    kind: row.kind,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    last_attempt_at: row.last_attempt_at?.toISOString() ?? null,
    last_status: row.last_status,
    last_error: row.last_error,
    delivered_at: row.delivered_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  }
}

export async function insertWebhook(
  q: Queryable,
  input: { url: string; kinds: string[]; orgUnitId: string | null; description: string; secret: string; startPosition: number; createdBy: string },
): Promise<Webhook> {
  const row = await q
    .insertInto('webhooks')
    .values({
      id: newId(),
      url: input.url,
      kinds: input.kinds,
      org_unit_id: input.orgUnitId,
      description: input.description,
      secret: input.secret,
      active: true,
      start_position: input.startPosition,
      created_by: input.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toWebhook(row)
}

export async function listWebhooks(q: Queryable): Promise<Webhook[]> {
  const rows = await q.selectFrom('webhooks').selectAll().where('deleted_at', 'is', null).orderBy('created_at').orderBy('id').execute()
  return rows.map(toWebhook)
}

export async function findWebhook(q: Queryable, id: string): Promise<Webhook | null> {
  const row = await q.selectFrom('webhooks').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst()
  return row ? toWebhook(row) : null
}

export async function updateWebhook(
  q: Queryable,
  id: string,
  changes: { url?: string; kinds?: string[]; orgUnitId?: string | null; description?: string; active?: boolean; secret?: string },
): Promise<Webhook | null> {
  const row = await q
    .updateTable('webhooks')
    .set({
      ...(changes.url !== undefined ? { url: changes.url } : {}),
      ...(changes.kinds !== undefined ? { kinds: changes.kinds } : {}),
      ...(changes.orgUnitId !== undefined ? { org_unit_id: changes.orgUnitId } : {}),
      ...(changes.description !== undefined ? { description: changes.description } : {}),
      ...(changes.active !== undefined ? { active: changes.active } : {}),
      ...(changes.secret !== undefined ? { secret: changes.secret } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
  return row ? toWebhook(row) : null
}

/** Deletes a webhook (kept as a record with its deliveries) and cancels what is still queued. */
export async function deleteWebhook(q: Queryable, id: string): Promise<boolean> {
  const row = await q
    .updateTable('webhooks')
    .set({ deleted_at: new Date(), active: false, updated_at: new Date() })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returning('id')
    .executeTakeFirst()
  if (!row) return false
  await q.updateTable('webhook_deliveries').set({ status: 'cancelled' }).where('webhook_id', '=', id).where('status', '=', 'pending').execute()
  return true
}

/** A page of a webhook's deliveries, newest change first. */
export async function listDeliveries(
  q: Queryable,
  webhookId: string,
  input: { status?: Delivery['status']; beforePosition: number | null; limit: number },
): Promise<Delivery[]> {
  let query = q.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId)
  if (input.status !== undefined) query = query.where('status', '=', input.status)
  if (input.beforePosition !== null) query = query.where('change_position', '<', input.beforePosition)
  const rows = await query.orderBy('change_position', 'desc').limit(input.limit).execute()
  return rows.map(toDelivery)
}

export async function findDelivery(q: Queryable, webhookId: string, deliveryId: string) {
  const row = await q.selectFrom('webhook_deliveries').selectAll().where('id', '=', deliveryId).where('webhook_id', '=', webhookId).executeTakeFirst()
  if (!row) return null
  const attempts = await q
    .selectFrom('webhook_attempts')
    .select(['attempt', 'attempted_at', 'duration_ms', 'http_status', 'error'])
    .where('delivery_id', '=', deliveryId)
    .orderBy('id')
    .execute()
  return {
    ...toDelivery(row),
    attempt_log: attempts.map((a) => ({ ...a, attempted_at: a.attempted_at.toISOString() })),
  }
}

/** Queues a delivery again now (one more attempt; a dead one comes back to life for it). */
export async function redeliver(q: Queryable, webhookId: string, deliveryId: string): Promise<Delivery | null> {
  const row = await q
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: new Date() })
    .where('id', '=', deliveryId)
    .where('webhook_id', '=', webhookId)
    .where('status', 'in', ['pending', 'dead', 'delivered'])
    .returningAll()
    .executeTakeFirst()
  return row ? toDelivery(row) : null
}

// ------------------------------------------------------------------------------------------
// The queue, for the worker (src/webhooks/worker.ts).

export interface ActiveWebhook {
  id: string
  kinds: string[]
  orgUnitId: string | null
  startPosition: number
}

export async function activeWebhooks(q: Queryable): Promise<ActiveWebhook[]> {
  const rows = await q
    .selectFrom('webhooks')
    .select(['id', 'kinds', 'org_unit_id', 'start_position'])
    .where('active', '=', true)
    .where('deleted_at', 'is', null)
    .execute()
  return rows.map((r) => ({ id: r.id, kinds: r.kinds, orgUnitId: r.org_unit_id, startPosition: r.start_position }))
}

/** The dispatcher's position, locked for the caller's transaction. */
export async function lockDispatchPosition(q: Queryable): Promise<number> {
  const row = await q.selectFrom('webhook_dispatch').select('position').forUpdate().executeTakeFirstOrThrow()
  return row.position
}

export async function setDispatchPosition(q: Queryable, position: number): Promise<void> {
  await q.updateTable('webhook_dispatch').set({ position }).execute()
}

export async function enqueueDeliveries(q: Queryable, deliveries: Array<{ webhookId: string; position: number; kind: string }>): Promise<void> {
  if (deliveries.length === 0) return
  await q
    .insertInto('webhook_deliveries')
    .values(deliveries.map((d) => ({ id: newId(), webhook_id: d.webhookId, change_position: d.position, kind: d.kind })))
    .onConflict((oc) => oc.columns(['webhook_id', 'change_position']).doNothing())
    .execute()
}

export interface ClaimedDelivery {
  id: string
  webhookId: string
  url: string
  secret: string
  changePosition: number
  attempt: number
}

/**
 * Webhooks with a delivery to send now: one of their first `perWebhook` pending deliveries (by
 * position) is due. With perWebhook 1 that is the oldest pending one: a later delivery never
 * overtakes it, while it is in flight (leased) or waiting for its retry.
 */
export async function webhooksWithDueDeliveries(db: Db, perWebhook: number): Promise<string[]> {
  const rows = await db
    .selectFrom('webhooks as w')
    .select('w.id')
    .where('w.active', '=', true)
    .where('w.deleted_at', 'is', null)
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom(nextPending(db, sql.ref<string>('w.id'), perWebhook).select('h.next_attempt_at').as('head'))
          .select('head.next_attempt_at')
          .where('head.next_attempt_at', '<=', sql<Date>`now()`),
      ),
    )
    .orderBy('w.created_at')
    .execute()
  return rows.map((r) => r.id)
}

// A webhook's first pending deliveries in feed order (served by the partial index of migration 0014).
function nextPending(q: Queryable, webhookId: string | RawBuilder<string>, perWebhook: number) {
  return q
    .selectFrom('webhook_deliveries as h')
    .where('h.webhook_id', '=', webhookId)
    .where('h.status', '=', 'pending')
    .orderBy('h.change_position')
    .limit(perWebhook)
}

/**
 * Claims up to `limit` deliveries of one webhook for this worker: among its first `perWebhook`
 * pending deliveries by position, those due. The rows are locked FOR UPDATE SKIP LOCKED (another
 * worker's claim in progress is skipped, not waited for; one that committed is no longer due),
 * then leased by moving next_attempt_at past the attempt's end, so no other worker takes them
 * while this one delivers outside any transaction. If this worker dies, the lease runs out and
 * another worker retries: at-least-once delivery. Returned in feed order.
 */
export async function claimDueDeliveries(db: Db, input: { webhookId: string; perWebhook: number; limit: number; leaseMs: number }): Promise<ClaimedDelivery[]> {
  if (input.limit <= 0) return []
  return db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom('webhook_deliveries as d')
      .select(['d.id'])
      .where('d.id', 'in', nextPending(trx, input.webhookId, input.perWebhook).select('h.id'))
      .where('d.status', '=', 'pending')
      .where('d.next_attempt_at', '<=', sql<Date>`now()`)
      .orderBy('d.change_position')
      .limit(input.limit)
      .forUpdate('d')
      .skipLocked()
      .execute()
    if (due.length === 0) return []
    const claimed = await trx
      .updateTable('webhook_deliveries as d')
      .from('webhooks as w')
      .set({
        attempts: sql<number>`d.attempts + 1`,
        next_attempt_at: sql<Date>`now() + make_interval(secs => ${input.leaseMs / 1000})`,
      })
      .whereRef('w.id', '=', 'd.webhook_id')
      .where('w.active', '=', true)
      .where('w.deleted_at', 'is', null)
      .where(
        'd.id',
        'in',
        due.map((d) => d.id),
      )
      .returning(['d.id', 'd.webhook_id', 'w.url', 'w.secret', 'd.change_position', 'd.attempts'])
      .execute()
    return claimed
      .map((c) => ({ id: c.id, webhookId: c.webhook_id, url: c.url, secret: c.secret, changePosition: c.change_position, attempt: c.attempts }))
      .sort((a, b) => a.changePosition - b.changePosition)
  })
}

/** Puts a claimed delivery back, unsent (shutdown came first): as it was before the claim, due now. */
export async function releaseClaim(db: Db, claim: ClaimedDelivery): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ attempts: sql<number>`attempts - 1`, next_attempt_at: sql<Date>`now()` })
    .where('id', '=', claim.id)
    .where('attempts', '=', claim.attempt)
    .where('status', '=', 'pending')
    .execute()
}

/**
 * Records an attempt and its outcome. The attempt number fences a worker whose lease ran out:
 * if another worker has claimed the delivery since, only the attempt itself is recorded.
 */
export async function recordAttempt(
  db: Db,
  claim: ClaimedDelivery,
  outcome: {
    attemptedAt: Date
    durationMs: number
    httpStatus: number | null
    error: string | null
    delivered: boolean
    /** When to try again: a time, 'now' (the attempt was cut short by shutdown), or null (dead). */
    retryAt: Date | 'now' | null
  },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_attempts')
      .values({
        delivery_id: claim.id,
        attempt: claim.attempt,
        attempted_at: outcome.attemptedAt,
        duration_ms: outcome.durationMs,
        http_status: outcome.httpStatus,
        error: outcome.error,
      })
      .execute()
    const status = outcome.delivered ? 'delivered' : outcome.retryAt ? 'pending' : 'dead'
    await trx
      .updateTable('webhook_deliveries')
      .set({
        status,
        last_attempt_at: outcome.attemptedAt,
        last_status: outcome.httpStatus,
        last_error: outcome.error,
        ...(outcome.delivered ? { delivered_at: new Date() } : {}),
        ...(outcome.retryAt ? { next_attempt_at: outcome.retryAt === 'now' ? sql<Date>`now()` : outcome.retryAt } : {}),
      })
      .where('id', '=', claim.id)
      .where('attempts', '=', claim.attempt)
      .where('status', '=', 'pending')
      .execute()
  })
}

/**
 * The delivery queue (metrics): pending deliveries, how late the most overdue one is (seconds),
 * and dead ones (no attempts left). Pending ones come from the due index; dead ones are counted
 * over the whole table.
 */
export async function deliveryBacklog(q: Queryable): Promise<{ pending: number; overdueSeconds: number; dead: number }> {
  const [pending, dead] = await Promise.all([
    q
      .selectFrom('webhook_deliveries')
      .select([sql<number>`count(*)`.as('n'), sql<number>`coalesce(extract(epoch from now() - min(next_attempt_at)), 0)::float8`.as('late')])
      .where('status', '=', 'pending')
      .executeTakeFirst(),
    q.selectFrom('webhook_deliveries').select(sql<number>`count(*)`.as('n')).where('status', '=', 'dead').executeTakeFirst(),
  ])
  return { pending: Number(pending?.n ?? 0), overdueSeconds: Math.max(0, Number(pending?.late ?? 0)), dead: Number(dead?.n ?? 0) }
}
