import type { ColumnType } from 'kysely'

/** Tables of the shared core (not of a domain). */
export interface IdempotencyKeysTable {
  subject: string
  operation: string
  key: string
  request_hash: string
  status: number | null
  response: ColumnType<unknown, string | null, string | null>
  location: string | null
  created_at: ColumnType<Date, never, never>
}

export interface CoreTables {
  idempotency_keys: IdempotencyKeysTable
}
