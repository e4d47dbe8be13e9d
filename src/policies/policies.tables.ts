import type { ColumnType } from 'kysely'
import type { PolicyType } from './policies.schemas.ts'

export interface PolicyVersionsTable {
  id: string
  type: PolicyType
  effective_from: string
  body: ColumnType<unknown, string, never>
  note: string
  created_by: string
  created_at: ColumnType<Date, never, never>
}

export interface PolicyTables {
  policy_versions: PolicyVersionsTable
}
