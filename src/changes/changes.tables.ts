import type { ColumnType, Generated } from 'kysely'

export interface ChangesTable {
  id: Generated<number>
  txid: ColumnType<string, never, never>
  occurred_at: ColumnType<Date, never, never>
  kind: string
  resource_type: string
  resource_id: string
  org_unit_id: string | null
  data: ColumnType<Record<string, unknown>, string | undefined, never>
}

export interface ChangeTables {
  changes: ChangesTable
}
