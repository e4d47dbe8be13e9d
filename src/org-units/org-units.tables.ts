import type { ColumnType } from 'kysely'

export interface OrgUnitsTable {
  id: string
  parent_id: string | null
  code: string
  name: string
  /** Ids from the root down to this unit, '/'-separated, ending in '/'. */
  path: string
  created_at: ColumnType<Date, never, never>
  created_by: string
}

export interface OrgUnitTables {
  org_units: OrgUnitsTable
}
