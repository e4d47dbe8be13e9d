import type { ColumnType } from 'kysely'
import type { AuditTables } from './audit.tables.ts'
import type { ChangeTables } from './changes.tables.ts'

/** Replies remembered for Idempotency-Key retries (idempotency.ts). */
interface IdempotencyKeysTable {
  subject: string
  operation: string
  key: string
  request_hash: string
  status: number | null
  response: ColumnType<unknown, string | null, string | null>
  location: string | null
  created_at: ColumnType<Date, never, never>
}

/**
 * The tables the kernel owns: the audit trail, the change outbox and remembered replies. Only
 * kernel functions write them (audit.ts, outbox.ts, audit-chain.ts, sequencer.ts, idempotency.ts);
 * modules read them (audit queries, the change feed).
 */
export interface KernelTables extends AuditTables, ChangeTables {
  idempotency_keys: IdempotencyKeysTable
}
