import { Type, type Static } from 'typebox'
import { StaffRefSchema } from '../staff/staff.repository.ts'

const Uuid = Type.String({ format: 'uuid' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])
const Subject = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$', description: 'A staff id (the JWT sub)', examples: ['staff-0042'] })
const Sha256 = Type.String({
  pattern: '^[0-9a-fA-F]{64}$',
  description: 'SHA-256, hex (stored lower-case)',
  examples: ['9b1c8e4d2f7a6b5c3d0e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c'],
})
/** A week of media at most: far beyond any counter or phone recording. */
const MAX_SECONDS = 7 * 24 * 3600

const REDACTION_TREATMENTS = ['muted', 'bleeped', 'blurred', 'cut'] as const

const RedactionSchema = Type.Object(
  {
    start_seconds: Type.Number({ minimum: 0, maximum: MAX_SECONDS, description: 'From this offset into the original (seconds)' }),
    end_seconds: Type.Number({ minimum: 0, maximum: MAX_SECONDS, description: 'To this offset (seconds); after start, within the original' }),
    treatment: Type.Enum([...REDACTION_TREATMENTS], { description: 'What was done: muted, bleeped, blurred (video) or cut out' }),
    ground: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The ground for withholding (不開示事由), e.g. 個人情報保護法第78条第1項第2号 or 情報公開法第5条第1号 (a third party)',
    }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'What was withheld, in words that name no one' })),
  },
  { $id: 'Redaction', additionalProperties: false },
)

export const CreateDerivativeSchema = Type.Object(
  {
    storage_uri: Type.String({ format: 'uri', maxLength: 2000, description: "Where the redacted media is in the municipality's storage" }),
    sha256: Sha256,
    size_bytes: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    media_type: Type.String({ pattern: '^(audio|video)/[a-z0-9][a-z0-9.+-]{0,99}$', description: 'audio/* or video/*', examples: ['audio/mp4'] }),
    original_sha256: Type.String({
      pattern: '^[0-9a-fA-F]{64}$',
      description: "The original's SHA-256 when the derivative was made from it: must be the recording's",
      examples: ['3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7'],
    }),
    redactions: Type.Array(RedactionSchema, { minItems: 1, maxItems: 500, description: 'Each time range changed, how and on which ground' }),
    made_by: Subject,
    checked_by: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '^[^\\s]+$',
      description: 'Who checked the redaction (a staff id); not the one who made it',
      examples: ['staff-0107'],
    }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { $id: 'CreateDerivative', additionalProperties: false },
)
export type CreateDerivative = Static<typeof CreateDerivativeSchema>

export const KeepDerivativeSchema = Type.Object(
  {
    until: Type.String({ format: 'date', description: 'The last day it is kept, even after the original is disposed of' }),
    reason: Type.String({ minLength: 1, maxLength: 2000, description: 'Why it outlives its original (e.g. it is part of a disclosure file)' }),
  },
  { $id: 'KeepDerivative', additionalProperties: false },
)
export type KeepDerivative = Static<typeof KeepDerivativeSchema>

export const DerivativeSchema = Type.Object(
  {
    id: Uuid,
    recording_id: Type.String({ format: 'uuid', description: 'The original' }),
    storage_uri: Nullable(Type.String({ description: 'null when redacted (see redacted) or once disposed of' })),
    redacted: Type.Boolean({ description: 'storage_uri is withheld: the caller lacks recordings:media_access on the original' }),
    sha256: Type.String(),
    size_bytes: Type.Integer(),
    media_type: Type.String(),
    original_sha256: Type.String({ description: "The original's SHA-256 when it was made" }),
    redactions: Type.Array(RedactionSchema),
    made_by: StaffRefSchema,
    checked_by: StaffRefSchema,
    note: Nullable(Type.String()),
    status: Type.Enum(['active', 'disposed'], { description: 'disposed: its media went with the original (or after the date it was kept to)' }),
    kept_beyond_original: Nullable(
      Type.Object(
        { until: Type.String({ format: 'date' }), reason: Type.String(), decided_by: StaffRefSchema, decided_at: Type.String({ format: 'date-time' }) },
        { additionalProperties: false, description: 'A decision that it outlives its original, through until' },
      ),
    ),
    disposed_at: Nullable(Type.String({ format: 'date-time' })),
    disposition_id: Nullable(Type.String({ format: 'uuid', description: "The original's disposition record" })),
    registered_by: StaffRefSchema,
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Derivative', additionalProperties: false },
)
export type DerivativeView = Static<typeof DerivativeSchema>
export const DerivativeListSchema = Type.Object(
  { items: Type.Array(DerivativeSchema, { description: 'Oldest first' }) },
  { $id: 'DerivativeList', additionalProperties: false },
)

export const DerivativeParams = Type.Object({ id: Uuid, derivativeId: Uuid }, { additionalProperties: false })
