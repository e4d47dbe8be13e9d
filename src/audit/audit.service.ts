import { changesOfRecord } from '../changes/changes.repository.ts'
import type { SigningKeys } from '../keys/keys.service.ts'
import { linkAllPendingEntries } from '../kernel/audit-chain.ts'
import type { ServiceContext } from '../kernel/context.ts'
import type { Db } from '../kernel/db.ts'
import { badRequest, notFound } from '../kernel/errors.ts'
import { decodeCursor, encodeCursor, paginate } from '../kernel/pagination.ts'
import { resolveChainRange } from './audit.export.ts'
import { type AuditFilters, auditEventsOfRecord, countUnlinked, type HistoryStart, listAuditEvents } from './audit.repository.ts'
import { ADMIN_RECORD_TYPES, type AuditEventQuery, type ChainVerificationResult, type ChainVerifyQuery, type HistoryItem } from './audit.schemas.ts'
import { verifyChain } from './chain-verification.ts'
import { verifyAgainstCheckpoint } from './checkpoints.service.ts'

/**
 * The audit trail for auditors (and for admins, the entries about policies and org units): queries,
 * a record's chain of custody, verification of the hash chain. The trail itself is written by the
 * kernel (src/kernel/audit.ts); this module only reads it.
 */

/** A page of entries in the order they were written, filtered. */
export async function searchAuditTrail(ctx: ServiceContext, q: AuditEventQuery) {
  const limit = q.limit ?? 50
  const order = q.order ?? 'oldest'
  const filters: AuditFilters = {
    subject: q.subject,
    action: q.action,
    resourceType: q.resource_type,
    resourceId: q.resource_id,
    outcome: q.outcome,
    requestId: q.request_id,
    from: q.from === undefined ? undefined : new Date(q.from),
    to: q.to === undefined ? undefined : new Date(q.to),
    // Admins (reach own): entries about policies and org units only.
    resourceTypes: ctx.reach === 'own' ? ADMIN_RECORD_TYPES : undefined,
  }
  const afterId = q.cursor === undefined ? null : Number(decodeCursor(q.cursor, 1)[0])
  const rows = await listAuditEvents(ctx.db, filters, { order, limit: limit + 1, afterId: Number.isFinite(afterId) ? afterId : null })
  const { page, nextCursor } = paginate(rows, limit, (row) => [row.id])
  // The query itself is audited: its filters (ids, kinds and instants: the trail holds no
  // personal data to search by) and how many entries it returned, never their contents.
  const { limit: _limit, cursor: _cursor, ...searched } = q
  ctx.audit.details = { filters: searched, order, count: page.length }
  return { items: page, next_cursor: nextCursor }
}

// History merges two sources sorted by (instant, source, id); a change sorts before the audit
// entry of the request that made it when both carry the same instant.
const SOURCE_RANK = { change: 0, audit: 1 } as const

/** Chain of custody: every access to a record and every change of it, in order. */
export async function recordHistory(ctx: ServiceContext, type: string, id: string, limit: number, cursorText: string | undefined) {
  // Admins (audit:read reach own) see entries about policies and org units only.
  if (ctx.reach === 'own' && !ADMIN_RECORD_TYPES.includes(type)) throw notFound('not_found.record')
  // Reading a record's custody reads the audit trail, not the record: the entry names the
  // record in its details, so the history does not grow with every page an auditor reads.
  ctx.audit.resourceType = 'audit_event'
  ctx.audit.resourceId = null
  ctx.audit.details = { record_type: type, record_id: id }

  let cursor: { at: Date; rank: number; id: number } | null = null
  if (cursorText !== undefined) {
    const [at, rank, lastId] = decodeCursor(cursorText, 3)
    const when = new Date(String(at))
    if (Number.isNaN(when.getTime()) || (rank !== 0 && rank !== 1) || typeof lastId !== 'number')
      throw badRequest('pagination.cursor_unknown', [{ pointer: 'querystring/cursor', message: 'pagination.cursor_invalid' }])
    cursor = { at: when, rank, id: lastId }
  }
  const startFor = (rank: number): HistoryStart | null => {
    if (!cursor) return null
    if (rank > cursor.rank) return { at: cursor.at, mode: 'at-or-after', id: 0 }
    if (rank < cursor.rank) return { at: cursor.at, mode: 'after', id: 0 }
    return { at: cursor.at, mode: 'keyset', id: cursor.id }
  }

  const entries = await auditEventsOfRecord(ctx.db, type, id, startFor(SOURCE_RANK.audit), limit + 1)
  const changes = await changesOfRecord(ctx.db, type, id, startFor(SOURCE_RANK.change), limit + 1)
  type Keyed = { item: HistoryItem; at: number; rank: number; id: number }
  const merged: Keyed[] = [
    ...entries.map((e) => ({
      item: { occurred_at: e.occurred_at, source: 'audit' as const, audit: e, change: null },
      at: Date.parse(e.occurred_at),
      rank: SOURCE_RANK.audit,
      id: e.id,
    })),
    ...changes.map((c) => ({
      item: {
        occurred_at: c.occurred_at.toISOString(),
        source: 'change' as const,
        audit: null,
        change: { position: c.position, kind: c.kind, data: c.data },
      },
      at: c.occurred_at.getTime(),
      rank: SOURCE_RANK.change,
      id: c.id,
    })),
  ].sort((a, b) => a.at - b.at || a.rank - b.rank || a.id - b.id)

  const page = merged.slice(0, limit)
  const last = page[page.length - 1]
  const nextCursor = merged.length > limit && last ? encodeCursor([new Date(last.at).toISOString(), last.rank, last.id]) : null
  ctx.audit.details = { ...ctx.audit.details, count: page.length }
  return { items: page.map((k) => k.item), next_cursor: nextCursor }
}

/**
 * Verifies the chain over a range, or (with `checkpoint`, a checkpoint JWS held outside) from the
 * first entry up to the checkpoint's position against what it signed. Everything committed so far
 * is linked first, so the answer covers it. Runs on the pool, outside any request transaction: a
 * long range takes seconds.
 */
export async function verifyAuditChain(ctx: ServiceContext, db: Db, keys: SigningKeys, query: ChainVerifyQuery): Promise<ChainVerificationResult> {
  const { checkpoint, ...bounds } = query
  if (checkpoint !== undefined && (bounds.from !== undefined || bounds.to !== undefined)) {
    throw badRequest('audit.checkpoint_fixes_range', [{ pointer: 'querystring/checkpoint', message: 'audit.not_with_from_to' }])
  }
  await linkAllPendingEntries(db)
  if (checkpoint !== undefined) {
    const { chain, fromSeq, toSeq, check } = await verifyAgainstCheckpoint(db, keys, checkpoint)
    const unlinked = await countUnlinked(db)
    const valid = chain.broken === null && check.holds
    ctx.audit.details = { checkpoint: check.checkpoint, chain_seq: check.chain_seq, kid: check.kid, checked: chain.checked, valid, failure: check.failure }
    return { valid, from_seq: fromSeq, to_seq: toSeq, unlinked, ...chain, checkpoint: check }
  }
  const range = await resolveChainRange(db, bounds)
  const result = range.toSeq >= range.fromSeq ? await verifyChain(db, range) : { checked: 0, first_seq: null, last_seq: null, last_hash: null, broken: null }
  const unlinked = await countUnlinked(db)
  ctx.audit.details = { from_seq: range.fromSeq, to_seq: range.toSeq, checked: result.checked, valid: result.broken === null }
  return { valid: result.broken === null, from_seq: range.fromSeq, to_seq: range.toSeq, unlinked, ...result, checkpoint: null }
}
