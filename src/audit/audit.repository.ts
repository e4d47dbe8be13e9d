import { type RawBuilder, sql, type Selectable } from 'kysely'
import { unlinkedEntries } from '../kernel/audit-chain.ts'
import type { Queryable } from '../kernel/db.ts'
import type { AuditEvent } from './audit.schemas.ts'
import type { AuditEventsTable, AuditOutcome } from '../kernel/audit.tables.ts'

/** The auditors' queries over the trail the kernel writes (src/kernel/audit.ts, audit-chain.ts). */

type AuditRow = Selectable<AuditEventsTable> & { chain_seq: number | null; prev_hash: string | null; hash: string | null }

// Entries with their link, if linked yet (null until the linker has reached them).
function entriesWithLinks(q: Queryable) {
  return q
    .selectFrom('audit_events')
    .leftJoin('audit_chain', 'audit_chain.entry_id', 'audit_events.id')
    .selectAll('audit_events')
    .select(['audit_chain.seq as chain_seq', 'audit_chain.prev_hash', 'audit_chain.hash'])
}

function toAuditEvent(row: AuditRow): AuditEvent {
  return {
    id: row.id,
    chain_seq: row.chain_seq,
    occurred_at: row.occurred_at.toISOString(),
    subject: row.subject,
    roles: row.roles,
    org_unit: row.org_unit,
    action: row.action,
    route: row.route,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    outcome: row.outcome,
    status: row.status,
    request_id: row.request_id,
    client_address: row.client_address,
    details: row.details,
    prev_hash: row.prev_hash,
    hash: row.hash,
  }
}

export interface AuditFilters {
  subject?: string
  action?: string
  resourceType?: string
  resourceId?: string
  outcome?: AuditOutcome
  requestId?: string
  from?: Date
  to?: Date
  /** Only entries about these resource types (an admin's reach); undefined: all. */
  resourceTypes?: readonly string[]
}

/** A page of entries in id order (the order they were written), after the cursor id. */
export async function listAuditEvents(
  q: Queryable,
  filters: AuditFilters,
  page: { order: 'oldest' | 'newest'; limit: number; afterId: number | null },
): Promise<AuditEvent[]> {
  let query = entriesWithLinks(q)
  if (filters.subject !== undefined) query = query.where('subject', '=', filters.subject)
  if (filters.action !== undefined) query = query.where('action', '=', filters.action)
  if (filters.resourceType !== undefined) query = query.where('resource_type', '=', filters.resourceType)
  if (filters.resourceId !== undefined) query = query.where('resource_id', '=', filters.resourceId)
  if (filters.outcome !== undefined) query = query.where('outcome', '=', filters.outcome)
  if (filters.requestId !== undefined) query = query.where('request_id', '=', filters.requestId)
  if (filters.from !== undefined) query = query.where('occurred_at', '>=', filters.from)
  if (filters.to !== undefined) query = query.where('occurred_at', '<', filters.to)
  if (filters.resourceTypes !== undefined) query = query.where('resource_type', 'in', filters.resourceTypes.length ? [...filters.resourceTypes] : [''])
  const newest = page.order === 'newest'
  if (page.afterId !== null) query = query.where('id', newest ? '<' : '>', page.afterId)
  const rows = await query
    .orderBy('id', newest ? 'desc' : 'asc')
    .limit(page.limit)
    .execute()
  return rows.map(toAuditEvent)
}

/**
 * Where a chain-of-custody page starts: strictly after an instant, at or after it, or after an
 * (instant, id) key. History pages merge two sources sorted by (instant, source, id).
 */
export interface HistoryStart {
  at: Date
  mode: 'after' | 'at-or-after' | 'keyset'
  id: number
}

/** Entries about one record, oldest first (chain of custody). */
export async function auditEventsOfRecord(
  q: Queryable,
  resourceType: string,
  resourceId: string,
  start: HistoryStart | null,
  limit: number,
): Promise<AuditEvent[]> {
  let query = entriesWithLinks(q).where('resource_type', '=', resourceType).where('resource_id', '=', resourceId)
  if (start?.mode === 'after') query = query.where('occurred_at', '>', start.at)
  if (start?.mode === 'at-or-after') query = query.where('occurred_at', '>=', start.at)
  if (start?.mode === 'keyset') {
    query = query.where((eb) => eb.or([eb('occurred_at', '>', start.at), eb.and([eb('occurred_at', '=', start.at), eb('id', '>', start.id)])]))
  }
  const rows = await query.orderBy('occurred_at').orderBy('id').limit(limit).execute()
  return rows.map(toAuditEvent)
}

/** The last linked chain position (0 before the first). */
export async function chainHead(q: Queryable): Promise<number> {
  const row = await q.selectFrom('audit_chain').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return row ? Number(row.seq) : 0
}

/** The first chain position of an entry that occurred at or after `at`; null when none. */
export function firstSeqAtOrAfter(q: Queryable, at: Date): Promise<number | null> {
  return chainPositionBy(q, sql`min`, '>=', at)
}

/** The last chain position of an entry that occurred before `at`; null when none. */
export function lastSeqBefore(q: Queryable, at: Date): Promise<number | null> {
  return chainPositionBy(q, sql`max`, '<', at)
}

// A time bound of a range as a chain position: the entries' time, their links' positions.
async function chainPositionBy(q: Queryable, aggregate: RawBuilder<unknown>, compare: '>=' | '<', at: Date): Promise<number | null> {
  const row = await q
    .selectFrom('audit_events')
    .innerJoin('audit_chain', 'audit_chain.entry_id', 'audit_events.id')
    .select(sql<number | null>`${aggregate}(audit_chain.seq)`.as('seq'))
    .where('audit_events.occurred_at', compare, at)
    .executeTakeFirst()
  return row?.seq == null ? null : Number(row.seq)
}

/** Entries not linked yet (their transactions were running at the last linking round). */
export async function countUnlinked(q: Queryable): Promise<number> {
  const row = await q
    .selectFrom('audit_events')
    .select(sql<number>`count(*)`.as('n'))
    .where(await unlinkedEntries(q))
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}

/** How far linking is behind (metrics): entries not linked yet, and the age of the oldest in seconds. */
export async function chainLinkingLag(q: Queryable): Promise<{ unlinked: number; oldestSeconds: number }> {
  const row = await q
    .selectFrom('audit_events')
    .select([sql<number>`count(*)`.as('n'), sql<number>`coalesce(extract(epoch from now() - min(occurred_at)), 0)::float8`.as('age')])
    .where(await unlinkedEntries(q))
    .executeTakeFirst()
  return { unlinked: Number(row?.n ?? 0), oldestSeconds: Number(row?.age ?? 0) }
}
