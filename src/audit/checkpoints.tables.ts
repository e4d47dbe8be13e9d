/** Signed checkpoints of the audit chain (append-only; migration 0009). */
export interface AuditCheckpointsTable {
  number: number
  chain_seq: number
  chain_hash: string
  prev_chain_seq: number
  prev_chain_hash: string
  signed_at: Date
  kid: string
  jws: string
}

export interface CheckpointTables {
  audit_checkpoints: AuditCheckpointsTable
}
