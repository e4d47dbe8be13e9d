import type { ColumnType, Generated } from 'kysely'

interface SigningKeysTable {
  kid: string
  purpose: 'media_grant'
  alg: string
  public_jwk: ColumnType<Record<string, unknown>, string, never>
  private_jwk: ColumnType<Record<string, unknown>, string, never>
  created_at: Generated<Date>
  retired_at: Date | null
}

export interface MediaGrantTables {
  signing_keys: SigningKeysTable
}
