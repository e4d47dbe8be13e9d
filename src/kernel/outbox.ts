import { type RawBuilder, sql } from 'kysely'
import type { Queryable } from './db.ts'

/**
 * The change outbox: the only way rows get into `changes` (the sequencer, sequencer.ts, then
 * gives them their feed positions). A change is written in the transaction that makes it, so it
 * is published exactly when that commits.
 *
 * - Requests publish through their context (`ctx.publish`): the changes stay data until the unit
 *   of work writes them with the request's audit entry, in one statement.
 * - Work outside a request writes with `publishChanges` in its own transaction.
 * - Set-based jobs that compute their changes in SQL (the retention sweep) insert them with
 *   `insertChangesFrom`, so the column list and the table stay here.
 *
 * Changes of one transaction keep the order in which they were published.
 */

/** A committed domain change, as integrating systems see it: ids and kinds, never personal data. */
export interface DomainChange {
  /** e.g. case.created, case.transitioned, event.appended, recording.disposed, policy.version_created */
  kind: string
  resourceType: string
  resourceId: string
  /** The org unit the record belongs to (integration clients see their unit's changes). */
  orgUnitId: string | null
  /** Ids, versions, statuses, kinds. */
  data?: Record<string, unknown>
}

/** Writes changes to the outbox now, in the caller's transaction. */
export async function publishChanges(q: Queryable, changes: readonly DomainChange[]): Promise<void> {
  if (changes.length === 0) return
  await q.insertInto('changes').values(changes.map(changeRow)).execute()
}

export function changeRow(c: DomainChange) {
  return { kind: c.kind, resource_type: c.resourceType, resource_id: c.resourceId, org_unit_id: c.orgUnitId, data: JSON.stringify(c.data ?? {}) }
}

/**
 * An INSERT of the changes a query yields, for a data-modifying CTE: `select` must return the
 * columns kind, resource_type, resource_id (text), org_unit_id (uuid) and data (jsonb), in that
 * order, e.g. `select 'recording.due', 'recording', r.id::text, r.org_unit_id, jsonb_build_object(…) from marked r`.
 */
export function insertChangesFrom(select: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`insert into changes (kind, resource_type, resource_id, org_unit_id, data) ${select}`
}
