import type { ColumnType, Generated } from 'kysely'

export type AuditOutcome = 'allowed' | 'denied' | 'failed'

export interface AuditEventsTable {
  id: Generated<number>
  txid: ColumnType<string, never, never>
  occurred_at: ColumnType<Date, never, never>
  subject: string | null
  roles: string[]
  org_unit: string | null
  action: string
  route: string
  resource_type: string | null
  resource_id: string | null
  outcome: AuditOutcome
  status: number
  request_id: string
  client_address: string | null
  details: ColumnType<Record<string, unknown>, string | undefined, never>
}

/** The hash chain: one row per linked entry, inserted by the linker only (audit-chain.ts), never changed. */
interface AuditChainTable {
  seq: number
  entry_id: number
  prev_hash: string
  hash: string
}

export interface AuditTables {
  audit_events: AuditEventsTable
  audit_chain: AuditChainTable
}
