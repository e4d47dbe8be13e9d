import type { Trx } from '../core/db.js'

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
  await trx
    .insertInto('changes')
    .values(
      changes.map((c) => ({
        kind: c.kind,
        resource_type: c.resourceType,
        resource_id: c.resourceId,
        org_unit_id: c.orgUnitId,
        data: JSON.stringify(c.data ?? {}),
      })),
    )
    .execute()
}
