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
  /** The feed position: set once by the sequencer after the change committed, gap-free. */
  position: ColumnType<number | null, never, number>
}

/** One commit ticket per transaction that wrote changes, drawn at COMMIT by a deferred trigger. */
interface ChangeCommitsTable {
  txid: ColumnType<string, never, never>
  ticket: ColumnType<number, never, never>
}

export interface ChangeTables {
  changes: ChangesTable
  change_commits: ChangeCommitsTable
}
