import { Type, type Static, type TSchema } from 'typebox'
import { PageQuery, pageOf } from '../kernel/pagination.ts'
import { CheckpointCheckSchema } from './checkpoints.schemas.ts'

const Nullable = <T extends TSchema>(schema: T, description?: string) => Type.Union([schema, Type.Null()], description ? { description } : {})

/** One audit entry. Ids, kinds and counts only: entries never hold personal data values. */
const AuditEventSchema = Type.Object(
  {
    id: Type.Integer(),
    chain_seq: Nullable(Type.Integer({ minimum: 1 }), 'Position in the hash chain; null until the linker has linked it (about a second after commit)'),
    occurred_at: Type.String({ format: 'date-time' }),
    subject: Nullable(Type.String(), 'The caller (JWT sub); null when no valid token was presented'),
    roles: Type.Array(Type.String()),
    org_unit: Nullable(Type.String()),
    action: Type.String({ description: 'The operation (operationId), e.g. getCase' }),
    route: Type.String({ description: 'Method and route pattern' }),
    resource_type: Nullable(Type.String()),
    resource_id: Nullable(Type.String()),
    outcome: Type.Enum(['allowed', 'denied', 'failed']),
    status: Type.Integer(),
    request_id: Type.String(),
    client_address: Nullable(Type.String()),
    details: Type.Record(Type.String(), Type.Unknown()),
    prev_hash: Nullable(Type.String()),
    hash: Nullable(Type.String()),
  },
  { $id: 'AuditEvent', additionalProperties: false },
)
export type AuditEvent = Static<typeof AuditEventSchema>

export const AuditEventPageSchema = pageOf(AuditEventSchema, 'AuditEventPage')

export const AuditEventQuerySchema = Type.Object(
  {
    subject: Type.Optional(Type.String({ maxLength: 200 })),
    action: Type.Optional(Type.String({ maxLength: 200, description: 'operationId, e.g. getCase' })),
    resource_type: Type.Optional(Type.String({ maxLength: 100 })),
    resource_id: Type.Optional(Type.String({ maxLength: 200 })),
    outcome: Type.Optional(Type.Enum(['allowed', 'denied', 'failed'])),
    request_id: Type.Optional(Type.String({ maxLength: 128 })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Entries at or after this instant' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Entries before this instant' })),
    order: Type.Optional(Type.Enum(['oldest', 'newest'], { default: 'oldest', description: 'oldest first (default) or newest first' })),
    ...PageQuery,
  },
  { additionalProperties: false },
)
export type AuditEventQuery = Static<typeof AuditEventQuerySchema>

// A bound of a chain range: a chain position, or an instant.
const RangeBound = (what: string) =>
  Type.Optional(
    Type.Union([Type.Integer({ minimum: 1 }), Type.String({ format: 'date-time' })], {
      description: `${what}: a chain position (integer), or an instant (date-time), see the README`,
    }),
  )

export const ChainRangeQuerySchema = Type.Object(
  {
    from: RangeBound('Start, inclusive (default: the first entry)'),
    to: RangeBound('End: a position inclusive, an instant exclusive (default: the last linked entry)'),
  },
  { additionalProperties: false },
)

export const ChainVerifyQuerySchema = Type.Object(
  {
    ...ChainRangeQuerySchema.properties,
    checkpoint: Type.Optional(
      Type.String({
        minLength: 5,
        maxLength: 4000,
        description:
          'A checkpoint (its compact JWS) held outside the service: verifies its signature, then that the chain is intact from the first ' +
          'entry up to its position and holds its hash there. Not together with from/to.',
      }),
    ),
  },
  { additionalProperties: false },
)
export type ChainVerifyQuery = Static<typeof ChainVerifyQuerySchema>

export const ChainVerificationSchema = Type.Object(
  {
    valid: Type.Boolean({ description: 'true when every entry in the range matched its hash and links to the one before' }),
    from_seq: Type.Integer({ minimum: 1, description: 'The first chain position of the range' }),
    to_seq: Type.Integer({ minimum: 0, description: 'The last chain position of the range (0 or less than from_seq: empty range)' }),
    checked: Type.Integer({ minimum: 0, description: 'Entries verified before the end or the first broken link' }),
    first_seq: Nullable(Type.Integer()),
    last_seq: Nullable(Type.Integer({ description: 'The last position verified' })),
    last_hash: Nullable(Type.String({ description: 'Hash at last_seq: keep it to compare with a later export or verification' })),
    broken: Nullable(
      Type.Object(
        {
          chain_seq: Type.Integer(),
          id: Nullable(Type.Integer()),
          reason: Type.Enum(['hash-mismatch', 'prev-hash-mismatch', 'missing-entry']),
        },
        { additionalProperties: false },
      ),
      'The first broken link; null when none',
    ),
    unlinked: Type.Integer({ minimum: 0, description: 'Entries of transactions still running, not yet in the chain' }),
    checkpoint: Nullable(CheckpointCheckSchema, 'With ?checkpoint=: whether the chain still holds it, and if not, why; null otherwise'),
  },
  { $id: 'ChainVerification', additionalProperties: false },
)
export type ChainVerificationResult = Static<typeof ChainVerificationSchema>

const RECORD_TYPES = ['case', 'recording', 'policy', 'org_unit'] as const
/** Record types an admin (audit:read reach own) may see entries of. */
export const ADMIN_RECORD_TYPES: readonly string[] = ['policy', 'org_unit']

export const HistoryParamsSchema = Type.Object(
  {
    type: Type.Enum([...RECORD_TYPES], { description: 'The kind of record' }),
    id: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
)

const HistoryItemSchema = Type.Object(
  {
    occurred_at: Type.String({ format: 'date-time' }),
    source: Type.Enum(['audit', 'change'], {
      description: 'audit: a request that read or changed the record (allowed or refused); change: a committed change from the feed',
    }),
    audit: Nullable(AuditEventSchema),
    change: Nullable(
      Type.Object(
        {
          position: Nullable(Type.Integer({ description: 'Feed position; null until numbered' })),
          kind: Type.String(),
          data: Type.Record(Type.String(), Type.Unknown()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'HistoryItem', additionalProperties: false },
)
export type HistoryItem = Static<typeof HistoryItemSchema>

export const HistoryPageSchema = pageOf(HistoryItemSchema, 'HistoryPage')
export const HistoryQuerySchema = Type.Object({ ...PageQuery }, { additionalProperties: false })
