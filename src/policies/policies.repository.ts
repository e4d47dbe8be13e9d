import type { Selectable } from 'kysely'
import type { Queryable } from '../kernel/db.ts'
import { newId } from '../kernel/ids.ts'
import { POLICY_TYPES, type PolicyBodies, type PolicyType, type PolicyVersion } from './policies.schemas.ts'
import type { PolicyVersionsTable } from './policies.tables.ts'

function toVersion<T extends PolicyType>(row: Selectable<PolicyVersionsTable>): PolicyVersion<T> {
  return {
    id: row.id,
    type: row.type as T,
    effective_from: row.effective_from,
    body: row.body as PolicyBodies[T],
    note: row.note,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
  }
}

/**
 * The version of a policy in force on a date (Asia/Tokyo, 'YYYY-MM-DD'). Code that decides
 * anything from a policy takes this version as an argument and records its id with the decision.
 * A default version of every type exists from the first migration, so there always is one.
 */
export async function policyInForce<T extends PolicyType>(q: Queryable, type: T, on: string): Promise<PolicyVersion<T>> {
  const row = await q
    .selectFrom('policy_versions')
    .selectAll()
    .where('type', '=', type)
    .where('effective_from', '<=', on)
    .orderBy('effective_from', 'desc')
    .limit(1)
    .executeTakeFirst()
  if (!row) throw new Error(`no ${type} policy in force on ${on}`)
  return toVersion<T>(row)
}

/** The versions of several types in force on a date, in one query. */
export async function policiesInForce<T extends PolicyType = PolicyType>(
  q: Queryable,
  on: string,
  types: readonly T[] = POLICY_TYPES as readonly PolicyType[] as readonly T[],
): Promise<{ [K in T]: PolicyVersion<K> }> {
  const rows = await q
    .selectFrom('policy_versions')
    .distinctOn('type')
    .selectAll()
    .where('type', 'in', [...types])
    .where('effective_from', '<=', on)
    .orderBy('type')
    .orderBy('effective_from', 'desc')
    .execute()
  const byType = Object.fromEntries(rows.map((r) => [r.type, toVersion(r)])) as { [K in T]: PolicyVersion<K> }
  for (const type of types) if (!byType[type]) throw new Error(`no ${type} policy in force on ${on}`)
  return byType
}

/** Every version of every type, by type, oldest first: what an instance keeps (policies.service.ts). */
export async function allPolicyVersions(q: Queryable): Promise<Map<PolicyType, PolicyVersion[]>> {
  const rows = await q.selectFrom('policy_versions').selectAll().orderBy('type').orderBy('effective_from').execute()
  const byType = new Map<PolicyType, PolicyVersion[]>()
  for (const row of rows) {
    const type = row.type as PolicyType
    byType.set(type, [...(byType.get(type) ?? []), toVersion(row)])
  }
  return byType
}

/** A version by id (decisions record ids; explanations look them up). */
export async function findPolicyVersion(q: Queryable, id: string): Promise<PolicyVersion | null> {
  const row = await q.selectFrom('policy_versions').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toVersion(row) : null
}

/** Every version of a type, oldest first. */
export async function listPolicyVersions<T extends PolicyType>(q: Queryable, type: T): Promise<PolicyVersion<T>[]> {
  const rows = await q.selectFrom('policy_versions').selectAll().where('type', '=', type).orderBy('effective_from').execute()
  return rows.map((r) => toVersion<T>(r))
}

export async function insertPolicyVersion<T extends PolicyType>(
  q: Queryable,
  input: { type: T; effectiveFrom: string; body: PolicyBodies[T]; note: string; createdBy: string },
): Promise<PolicyVersion<T>> {
  const row = await q
    .insertInto('policy_versions')
    .values({
      id: newId(),
      type: input.type,
      effective_from: input.effectiveFrom,
      body: JSON.stringify(input.body),
      note: input.note,
      created_by: input.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toVersion<T>(row)
}

/**
 * For each type, the first effective date after `on`: the day the version in force on `on`
 * stops being in force. Types with no later version are absent.
 */
export async function nextEffectiveDates(q: Queryable, on: string, types: readonly PolicyType[] = POLICY_TYPES): Promise<Partial<Record<PolicyType, string>>> {
  const rows = await q
    .selectFrom('policy_versions')
    .select(['type', (eb) => eb.fn.min('effective_from').as('next_from')])
    .where('type', 'in', [...types])
    .where('effective_from', '>', on)
    .groupBy('type')
    .execute()
  return Object.fromEntries(rows.map((r) => [r.type, r.next_from as string]))
}

/**
 * The versions of a type that govern some day in [from, to] (to: null for no end), oldest
 * first: the one in force on `from` and every one taking effect after it up to `to`.
 * Answers for ranges (the calendar decides each day with the version in force that day).
 */
export async function policyVersionsGoverning<T extends PolicyType>(q: Queryable, type: T, from: string, to: string | null): Promise<PolicyVersion<T>[]> {
  let query = q
    .selectFrom('policy_versions')
    .selectAll()
    .where('type', '=', type)
    .where((eb) =>
      eb(
        'effective_from',
        '>=',
        eb
          .selectFrom('policy_versions as p')
          .select((e) => e.fn.max('p.effective_from').as('m'))
          .where('p.type', '=', type)
          .where('p.effective_from', '<=', from),
      ),
    )
  if (to !== null) query = query.where('effective_from', '<=', to)
  const rows = await query.orderBy('effective_from').execute()
  return rows.map((r) => toVersion<T>(r))
}

/** Whether a version of the type already takes effect on that date (one per type and date). */
export async function versionExistsOn(q: Queryable, type: PolicyType, effectiveFrom: string): Promise<boolean> {
  const row = await q.selectFrom('policy_versions').select('id').where('type', '=', type).where('effective_from', '=', effectiveFrom).executeTakeFirst()
  return row !== undefined
}
