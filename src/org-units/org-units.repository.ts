import { sql, type Selectable } from 'kysely'
import type { Reach } from '../kernel/access.ts'
import type { Queryable } from '../kernel/db.ts'
import { newId } from '../kernel/ids.ts'
import type { OrgUnit } from './org-units.schemas.ts'
import type { OrgUnitsTable } from './org-units.tables.ts'

/** The unit every tree hangs from; created by the first migration. */
export const ROOT_ORG_UNIT_ID = '00000000-0000-7000-8000-000000000001'

function toOrgUnit(row: Selectable<OrgUnitsTable>): OrgUnit {
  return {
    id: row.id,
    parent_id: row.parent_id,
    code: row.code,
    name: row.name,
    depth: row.path.split('/').length - 2,
    created_at: row.created_at.toISOString(),
  }
}

/** The whole tree, parents before children. */
export async function listOrgUnits(q: Queryable): Promise<OrgUnit[]> {
  const rows = await q.selectFrom('org_units').selectAll().orderBy('path').execute()
  return rows.map(toOrgUnit)
}

export async function findOrgUnit(q: Queryable, id: string): Promise<OrgUnit | null> {
  const row = await q.selectFrom('org_units').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toOrgUnit(row) : null
}

/** Creates a unit under `parentId`; null when the parent does not exist. */
export async function createOrgUnit(q: Queryable, input: { parentId: string; code: string; name: string; createdBy: string }): Promise<OrgUnit | null> {
  const parent = await q.selectFrom('org_units').select('path').where('id', '=', input.parentId).executeTakeFirst()
  if (!parent) return null
  const id = newId()
  const row = await q
    .insertInto('org_units')
    .values({ id, parent_id: input.parentId, code: input.code, name: input.name, path: `${parent.path}${id}/`, created_by: input.createdBy })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toOrgUnit(row)
}

/**
 * Ids of a unit and every unit below it, as a subquery for other domains' reach filters:
 * `.where('org_unit_id', 'in', unitSubtree(trx, unitId))`.
 */
export function unitSubtree(q: Queryable, unitId: string) {
  return q
    .selectFrom('org_units')
    .select('org_units.id')
    .where('org_units.path', 'like', sql<string>`(select u.path from org_units u where u.id = ${unitId}) || '%'`)
}

/**
 * The unit `unitId` (no row when it does not exist) with whether a caller of unit `callerUnit`
 * creates records in it with `reach` (own: that unit only; unit: it and below; all: any), as a
 * query for a statement that decides in SQL.
 */
export function unitWithCreationReach(q: Queryable, unitId: string, reach: Reach, callerUnit: string | null) {
  const allowed =
    reach === 'all'
      ? sql<boolean>`true`
      : callerUnit === null
        ? sql<boolean>`false`
        : reach === 'own'
          ? sql<boolean>`u.id = ${callerUnit}::uuid`
          : sql<boolean>`coalesce(u.path like (select a.path from org_units a where a.id = ${callerUnit}::uuid) || '%', false)`
  return q
    .selectFrom('org_units as u')
    .select(['u.id', allowed.as('allowed')])
    .where('u.id', '=', unitId)
}
