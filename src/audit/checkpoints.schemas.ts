import { Type, type Static } from 'typebox'
import { PageQuery, pageOf } from '../kernel/pagination.ts'

const Hash = (description: string) => Type.String({ pattern: '^[0-9a-f]{64}$', description })

/**
 * What a checkpoint signs (the JWS payload), field by field. The previous checkpoint's position
 * and hash link checkpoints to each other; before the first they are 0 and 64 zeros.
 */
export const CheckpointStatementSchema = Type.Object(
  {
    checkpoint: Type.Integer({ minimum: 1, description: 'The checkpoint number: 1, 2, 3, …' }),
    chain_seq: Type.Integer({ minimum: 1, description: 'The chain position it covers (every linked entry up to it)' }),
    chain_hash: Hash('The hash of the entry at chain_seq'),
    signed_at: Type.String({ format: 'date-time', description: 'When it was signed' }),
    prev_chain_seq: Type.Integer({ minimum: 0, description: "The previous checkpoint's position (0 before the first)" }),
    prev_chain_hash: Hash("The previous checkpoint's hash (64 zeros before the first)"),
  },
  { additionalProperties: false },
)
export type CheckpointStatement = Static<typeof CheckpointStatementSchema>

export const CheckpointSchema = Type.Object(
  {
    ...CheckpointStatementSchema.properties,
    kid: Type.String({ description: 'The checkpoint key that signed it (see /.well-known/audit-checkpoint-jwks.json)' }),
    alg: Type.Literal('ES256'),
    jws: Type.String({ description: 'The checkpoint itself: a compact JWS (typ audit-checkpoint+jws) over the fields above. Keep it outside the service.' }),
  },
  { $id: 'AuditCheckpoint', additionalProperties: false },
)
export type CheckpointView = Static<typeof CheckpointSchema>

export const CheckpointPageSchema = pageOf(CheckpointSchema, 'AuditCheckpointPage')

export const CheckpointQuerySchema = Type.Object(
  {
    order: Type.Optional(Type.Enum(['oldest', 'newest'], { default: 'oldest', description: 'oldest first (default) or newest first' })),
    ...PageQuery,
  },
  { additionalProperties: false },
)
export type CheckpointQuery = Static<typeof CheckpointQuerySchema>

const CHECKPOINT_FAILURES = ['unknown-key', 'signature-invalid', 'chain-broken', 'chain-shorter', 'hash-differs'] as const

/** The outcome of verifying the chain against a checkpoint. */
export const CheckpointCheckSchema = Type.Object(
  {
    checkpoint: Type.Integer({ description: 'The checkpoint number, as the JWS says' }),
    chain_seq: Type.Integer(),
    chain_hash: Type.String(),
    signed_at: Type.String(),
    kid: Type.String(),
    holds: Type.Boolean({ description: 'true when the signature verifies and the chain is intact up to chain_seq and holds chain_hash there' }),
    failure: Type.Union([Type.Enum([...CHECKPOINT_FAILURES]), Type.Null()], {
      description:
        'unknown-key: not signed by a checkpoint key of this service; signature-invalid; chain-broken: an entry at or before the position was ' +
        'altered or removed; chain-shorter: the chain now ends before the position (its tail was cut); hash-differs: the chain holds another ' +
        'hash there (rewritten and re-hashed)',
    }),
    detail: Type.String({ description: 'One sentence naming the checkpoint and what was found' }),
  },
  { additionalProperties: false },
)
export type CheckpointCheck = Static<typeof CheckpointCheckSchema>
