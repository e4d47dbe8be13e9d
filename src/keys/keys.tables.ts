import type { ColumnType, Generated } from 'kysely'

/** What a key signs: media access grants, or checkpoints of the audit chain. */
export type KeyPurpose = 'media_grant' | 'audit_checkpoint'

// bytea arrives as a Buffer from pg and as a Uint8Array from the embedded database.
type Bytes = ColumnType<Uint8Array | null, Uint8Array | null, Uint8Array | null>

export interface SigningKeysTable {
  kid: string
  purpose: KeyPurpose
  alg: string
  public_jwk: ColumnType<Record<string, unknown>, string, never>
  created_at: Generated<Date>
  created_by: string | null
  reason: string | null
  /** Set when a newer key took over signing; the private part is erased then. */
  superseded_at: Date | null
  /** From then on the key is no longer published (media grant keys; null: published for good). */
  retires_at: Date | null
  // The sealed private key (key-encryption.ts); all null once superseded.
  kek_id: string | null
  data_key_iv: Bytes
  data_key_tag: Bytes
  data_key_ciphertext: Bytes
  private_key_iv: Bytes
  private_key_tag: Bytes
  private_key_ciphertext: Bytes
}

export interface KeyTables {
  signing_keys: SigningKeysTable
}
