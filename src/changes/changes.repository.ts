import { sql, type Selectable } from 'kysely'
import type { Queryable } from '../kernel/db.ts'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import type { Change } from './changes.schemas.ts'
import type { ChangesTable } from '../kernel/changes.tables.ts'

/** Which changes a reader may see: all, or those of a unit subtree plus organisation-wide ones. */
export type FeedScope = { kind: 'all' } | { kind: 'unit'; unitId: string | null }

function toChange(row: Pick<Selectable<ChangesTable>, 'position' | 'kind' | 'resource_type' | 'resource_id' | 'org_unit_id' | 'occurred_at' | 'data'>): Change {
  return {
    position: row.position!,
    kind: row.kind,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    org_unit_id: row.org_unit_id,
    occurred_at: row.occurred_at.toISOString(),
    data: row.data,
  }
}

/** The last position numbered so far (0 before the first). */
export async function feedHead(q: Queryable): Promise<number> {
  const row = await q.selectFrom('changes').select(sql<number | null>`max(position)`.as('head')).executeTakeFirst()
  return Number(row?.head ?? 0)
}

/**
 * Up to `limit` changes with positions in (after, upTo], in position order, within the scope.
 * `upTo` is a head read before: every position up to it is numbered and visible, so the caller
 * may resume from `upTo` when fewer than `limit` came back.
 */
export async function readChanges(q: Queryable, input: { after: number; upTo: number; limit: number; scope: FeedScope }): Promise<Change[]> {
  if (input.upTo <= input.after) return []
  let query = q
    .selectFrom('changes')
    .select(['position', 'kind', 'resource_type', 'resource_id', 'org_unit_id', 'occurred_at', 'data'])
    .where('position', '>', input.after)
    .where('position', '<=', input.upTo)
  if (input.scope.kind === 'unit') {
    const unitId = input.scope.unitId
    query = query.where((eb) =>
      unitId === null ? eb('org_unit_id', 'is', null) : eb.or([eb('org_unit_id', 'is', null), eb('org_unit_id', 'in', unitSubtree(q, unitId))]),
    )
  }
  const rows = await query.orderBy('position').limit(input.limit).execute()
  return rows.map(toChange)
}

/** Changes of one record, oldest first (chain of custody); `start` as in the audit history. */
export async function changesOfRecord(
  q: Queryable,
  resourceType: string,
  resourceId: string,
  start: { at: Date; mode: 'after' | 'at-or-after' | 'keyset'; id: number } | null,
  limit: number,
) {
  let query = q
    .selectFrom('changes')
    .select(['id', 'position', 'kind', 'occurred_at', 'data'])
    .where('resource_type', '=', resourceType)
    .where('resource_id', '=', resourceId)
  if (start?.mode === 'after') query = query.where('occurred_at', '>', start.at)
  if (start?.mode === 'at-or-after') query = query.where('occurred_at', '>=', start.at)
  if (start?.mode === 'keyset') {
    query = query.where((eb) => eb.or([eb('occurred_at', '>', start.at), eb.and([eb('occurred_at', '=', start.at), eb('id', '>', start.id)])]))
  }
  return query.orderBy('occurred_at').orderBy('id').limit(limit).execute()
}

/** The changes at these positions (for webhook payloads). */
export async function changesAtPositions(q: Queryable, positions: number[]): Promise<Change[]> {
  if (positions.length === 0) return []
  const rows = await q
    .selectFrom('changes')
    .select(['position', 'kind', 'resource_type', 'resource_id', 'org_unit_id', 'occurred_at', 'data'])
    .where('position', 'in', positions)
    .execute()
  return rows.map(toChange)
}

/** How far the sequencer is behind (metrics): committed changes without a position, and the age of the oldest in seconds. */
export async function feedLag(q: Queryable): Promise<{ unsequenced: number; oldestSeconds: number }> {
  const row = await q
    .selectFrom('changes')
    .select([sql<number>`count(*)`.as('n'), sql<number>`coalesce(extract(epoch from now() - min(occurred_at)), 0)::float8`.as('age')])
    .where('position', 'is', null)
    .executeTakeFirst()
  return { unsequenced: Number(row?.n ?? 0), oldestSeconds: Number(row?.age ?? 0) }
}
