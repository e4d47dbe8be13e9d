import type { Trx } from './db.js'

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

/**
 * Writes changes to the outbox in the caller's transaction, so a change is published exactly
 * when it commits. After the commit the sequencer (sequencer.ts) gives them gap-free feed
 * positions in commit order; changes of one call keep the order given here.
 */
export async function publishChanges(trx: Trx, changes: readonly DomainChange[]): Promise<void> {
  if (changes.length === 0) return
  const collected = collecting.get(trx)
  if (collected) {
    collected.push(...changes)
    return
  }
  await trx.insertInto('changes').values(changes.map(changeRow)).execute()
}

export function changeRow(c: DomainChange) {
  return { kind: c.kind, resource_type: c.resourceType, resource_id: c.resourceId, org_unit_id: c.orgUnitId, data: JSON.stringify(c.data ?? {}) }
}

// A request's transaction collects its changes and writes them with its audit entry at the end,
// in one statement (unit-of-work.plugin.ts): one round trip less per change.
const collecting = new WeakMap<Trx, DomainChange[]>()

export function collectChanges(trx: Trx): void {
  collecting.set(trx, [])
}

export function takeCollectedChanges(trx: Trx): DomainChange[] {
  const changes = collecting.get(trx) ?? []
  collecting.delete(trx)
  return changes
}
