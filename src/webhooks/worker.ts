import http from 'node:http'
import https from 'node:https'
import { changesAtPositions, feedHead, readChanges } from '../changes/changes.repository.ts'
import type { Change } from '../changes/changes.schemas.ts'
import { sequencePendingChanges } from '../kernel/sequencer.ts'
import type { Db } from '../kernel/db.ts'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import { SIGNATURE_HEADER, signDelivery } from './signature.ts'
import type { TargetPolicy } from './targets.ts'
import {
  activeWebhooks,
  claimDueDeliveries,
  enqueueDeliveries,
  lockDispatchPosition,
  recordAttempt,
  releaseClaim,
  setDispatchPosition,
  webhooksWithDueDeliveries,
  type ActiveWebhook,
  type ClaimedDelivery,
} from './webhooks.repository.ts'
import type { DeliveryPayload } from './webhooks.schemas.ts'
import { render } from '../kernel/messages/index.ts'
import { takeJobLock } from '../kernel/job-lock.ts'

/**
 * Webhook delivery, in two steps that every instance runs (background job):
 *
 * 1. Dispatch: a consumer of the change feed like any other. Under an advisory lock it reads
 *    the feed after its stored position and queues one delivery per (webhook, change) that the
 *    webhook subscribes to, in the same transaction that moves its position on: the feed is
 *    gap-free, so no change is skipped, and the unique (webhook, change) key means none is
 *    queued twice.
 * 2. Deliver: each webhook's deliveries go out one at a time in feed order (or up to
 *    WEBHOOK_PARALLEL_PER_WEBHOOK at once, unordered), several webhooks in parallel. A delivery
 *    is claimed only when it is among the first pending ones of its webhook (by position) and
 *    due, with FOR UPDATE SKIP LOCKED and a lease, so across all instances a webhook never has
 *    more in flight than allowed and none delivers what another holds. It is POSTed signed and
 *    every attempt recorded. A failure (no 2xx in time) is retried with exponential backoff and
 *    jitter, capped, and holds back the webhook's later deliveries until it is delivered or dead
 *    (after the last attempt; an admin can redeliver it). The queue is in PostgreSQL, so a
 *    restart loses nothing: what was due is delivered by whichever instance runs next.
 * 3. Shutdown aborts attempts in flight (AbortSignal): each is recorded as aborted and its
 *    delivery is due again at once, with the same delivery id, for the next instance; claimed
 *    deliveries not yet sent are put back as they were. Nothing waits out a lease.
 */

const DISPATCH_LOCK_KEY = 0x6d61_6403

export interface DeliveryOptions {
  timeoutMs: number
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  targets: TargetPolicy
  /** Deliveries of one webhook in flight at once (WEBHOOK_PARALLEL_PER_WEBHOOK): 1, the default, keeps feed order. */
  parallelPerWebhook?: number
  /** Attempts per round at most; the next round goes on. */
  batchSize?: number
  /** No new attempt starts after this long in a round, so dispatch and other webhooks get their turn. */
  roundMs?: number
  /** Webhooks served at once per worker. */
  concurrency?: number
}

/** What an attempt cut short by shutdown records as its error. */
export const ABORTED_AT_SHUTDOWN = 'aborted: the service was shutting down'

/** Queues deliveries for changes numbered since the last round. Returns how many changes it read. */
export async function dispatchWebhookDeliveries(db: Db, batchSize = 1000): Promise<number> {
  // Like any reader: number what has committed first, rather than wait for the sequencer's round.
  await sequencePendingChanges(db)
  return db.transaction().execute(async (trx) => {
    if (!(await takeJobLock(trx, DISPATCH_LOCK_KEY, { wait: false }))) return 0
    const position = await lockDispatchPosition(trx)
    const head = await feedHead(trx)
    if (head <= position) return 0
    const webhooks = await activeWebhooks(trx)
    if (webhooks.length === 0) {
      // Nobody listens: the changes are not for anyone (a new webhook starts at the head).
      await setDispatchPosition(trx, head)
      return head - position
    }
    const changes = await readChanges(trx, { after: position, upTo: head, limit: batchSize, scope: { kind: 'all' } })
    const units = new Map<string, Set<string>>()
    for (const w of webhooks) {
      if (w.orgUnitId !== null && !units.has(w.orgUnitId)) {
        const rows = await unitSubtree(trx, w.orgUnitId).execute()
        units.set(w.orgUnitId, new Set(rows.map((r) => r.id)))
      }
    }
    const deliveries = changes.flatMap((c) =>
      webhooks.filter((w) => subscribes(w, c, units)).map((w) => ({ webhookId: w.id, position: c.position, kind: c.kind })),
    )
    await enqueueDeliveries(trx, deliveries)
    const reached = changes.length === batchSize ? changes[changes.length - 1]!.position : head
    await setDispatchPosition(trx, reached)
    return reached - position
  })
}

function subscribes(w: ActiveWebhook, c: Change, units: Map<string, Set<string>>): boolean {
  if (c.position <= w.startPosition) return false
  const kindMatches = w.kinds.some((k) => k === '*' || k === c.kind || (k.endsWith('.*') && c.kind.startsWith(k.slice(0, -1))))
  if (!kindMatches) return false
  // Organisation-wide changes (no unit) go to every webhook, as they appear in every feed.
  if (w.orgUnitId === null || c.org_unit_id === null) return true
  return units.get(w.orgUnitId)?.has(c.org_unit_id) ?? false
}

/** Delay before attempt n+1 after n failed attempts: base·2^(n-1), ±20 % jitter, capped. */
export function retryDelayMs(failedAttempts: number, options: Pick<DeliveryOptions, 'retryBaseMs' | 'retryMaxMs'>): number {
  const exponential = options.retryBaseMs * 2 ** Math.min(failedAttempts - 1, 30)
  const jittered = exponential * (0.8 + Math.random() * 0.4)
  return Math.round(Math.min(jittered, options.retryMaxMs))
}

/**
 * Delivers what is due now: lanes (up to `concurrency`) take webhooks that have a due delivery,
 * claim and send the next one(s) of that webhook, and come back to it while it has more, so a
 * backlog drains within one round while every webhook keeps its order. A round ends when nothing
 * is due, or after `batchSize` attempts or `roundMs` (then the next round dispatches what is new
 * and serves webhooks that were not due at this round's start). Returns how many attempts were
 * made (a claimed delivery put back unsent at shutdown is none).
 */
export async function deliverDueWebhooks(db: Db, options: DeliveryOptions, signal?: AbortSignal): Promise<number> {
  const concurrency = options.concurrency ?? 8
  const perWebhook = options.parallelPerWebhook ?? 1
  const budget = options.batchSize ?? 100
  const deadline = Date.now() + (options.roundMs ?? 5000)
  // Longer than an attempt can take, so a live worker never loses its claim.
  const leaseMs = options.timeoutMs + 60_000
  const waiting = await webhooksWithDueDeliveries(db, perWebhook)
  let reserved = 0
  let attempts = 0
  const lane = async () => {
    for (;;) {
      if (signal?.aborted || reserved >= budget || Date.now() > deadline) return
      const webhookId = waiting.shift()
      if (webhookId === undefined) return
      const room = Math.min(perWebhook, budget - reserved)
      reserved += room
      const claimed = await claimDueDeliveries(db, { webhookId, perWebhook, limit: room, leaseMs })
      reserved -= room - claimed.length
      // Nothing due for it now: in flight elsewhere, waiting for a retry, or done.
      if (claimed.length === 0) continue
      const changes = new Map(
        (
          await changesAtPositions(
            db,
            claimed.map((c) => c.changePosition),
          )
        ).map((c) => [c.position, c]),
      )
      const sent = await Promise.all(claimed.map((claim) => attempt(db, claim, changes.get(claim.changePosition), options, signal)))
      attempts += sent.filter(Boolean).length
      waiting.push(webhookId)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return attempts
}

/** One attempt, recorded. False if shutdown came first and the claim was put back unsent. */
async function attempt(db: Db, claim: ClaimedDelivery, change: Change | undefined, options: DeliveryOptions, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) {
    await releaseClaim(db, claim)
    return false
  }
  const attemptedAt = new Date()
  let result: { status: number | null; error: string | null }
  if (!change) {
    result = { status: null, error: `change ${claim.changePosition} not found` }
  } else {
    const payload: DeliveryPayload = { delivery_id: claim.id, webhook_id: claim.webhookId, change }
    const body = JSON.stringify(payload)
    const timestamp = Math.floor(Date.now() / 1000)
    result = await post(
      claim.url,
      body,
      {
        'content-type': 'application/json',
        'user-agent': 'Madoguchi-Webhooks/1',
        [SIGNATURE_HEADER]: signDelivery(claim.secret, body, timestamp),
        'madoguchi-delivery': claim.id,
        'madoguchi-event': change.kind,
        'madoguchi-attempt': String(claim.attempt),
      },
      options,
      signal,
    )
  }
  const delivered = result.status !== null && result.status >= 200 && result.status < 300
  // Cut short by shutdown: not the receiver's failure, so due again at once and never the end of it.
  const aborted = !delivered && result.status === null && signal?.aborted === true
  const retryAt = aborted ? 'now' : delivered || claim.attempt >= options.maxAttempts ? null : new Date(Date.now() + retryDelayMs(claim.attempt, options))
  await recordAttempt(db, claim, {
    attemptedAt,
    durationMs: Date.now() - attemptedAt.getTime(),
    httpStatus: result.status,
    error: delivered ? null : aborted ? ABORTED_AT_SHUTDOWN : (result.error ?? `HTTP ${result.status}`),
    delivered,
    retryAt,
  })
  return true
}

/** One POST: the status, or why there was none. Redirects are not followed (a 3xx is a failure). */
function post(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  options: DeliveryOptions,
  signal?: AbortSignal,
): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    let url: URL
    try {
      url = new URL(rawUrl)
    } catch {
      resolve({ status: null, error: 'invalid URL' })
      return
    }
    const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null
    if (!client) {
      resolve({ status: null, error: 'unsupported scheme' })
      return
    }
    // Address literals skip name resolution (and the lookup hook): check them here.
    const literal = url.hostname.replace(/^\[|\]$/g, '')
    if (/^[\d.]+$|:/.test(literal)) {
      const refused = options.targets.refusal(literal, url.protocol)
      if (refused) {
        resolve({ status: null, error: `refused: ${render(refused, 'en')}` })
        return
      }
    }
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        lookup: options.targets.lookupFor(url.protocol),
        timeout: options.timeoutMs,
        agent: false,
        // Shutdown destroys the request at once instead of waiting for the receiver.
        ...(signal ? { signal } : {}),
      },
      (response) => {
        // The body is not needed; read it (bounded) so the socket can close cleanly.
        let size = 0
        response.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > 64 * 1024) response.destroy()
        })
        response.on('end', () => resolve({ status: response.statusCode ?? null, error: null }))
        response.on('error', () => resolve({ status: response.statusCode ?? null, error: null }))
        response.on('close', () => resolve({ status: response.statusCode ?? null, error: null }))
      },
    )
    const timer = setTimeout(() => request.destroy(new Error(`timed out after ${options.timeoutMs} ms`)), options.timeoutMs)
    request.on('timeout', () => request.destroy(new Error(`timed out after ${options.timeoutMs} ms`)))
    request.on('error', (error: Error) => resolve({ status: null, error: error.message.slice(0, 500) }))
    request.on('close', () => clearTimeout(timer))
    request.end(body)
  })
}

/** One round of the background job: dispatch what is new, then deliver what is due. */
export async function runWebhookRound(db: Db, options: DeliveryOptions, signal?: AbortSignal): Promise<number> {
  while (!signal?.aborted && (await dispatchWebhookDeliveries(db)) > 0) {
    // keep dispatching until caught up
  }
  if (signal?.aborted) return 0
  return deliverDueWebhooks(db, options, signal)
}
