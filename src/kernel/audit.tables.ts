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
  // Set once by the chainer, never by a request.
  chain_seq: ColumnType<number | null, never, number>
  prev_hash: ColumnType<string | null, never, string>
  hash: ColumnType<string | null, never, string>
}

export interface AuditTables {
  audit_events: AuditEventsTable
}
