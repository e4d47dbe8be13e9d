import { Type, type Static, type TSchema } from 'typebox'

const Nullable = <T extends TSchema>(schema: T, description?: string) => Type.Union([schema, Type.Null()], description ? { description } : {})

const KeyPurposeSchema = Type.Enum(['media_grant', 'audit_checkpoint'], {
  description:
    'media_grant: signs media access grants (JWKS /.well-known/jwks.json); ' +
    'audit_checkpoint: signs audit checkpoints (JWKS /.well-known/audit-checkpoint-jwks.json)',
})

/** A signing key as administrators and auditors see it: never any private or sealed material. */
const SigningKeySchema = Type.Object(
  {
    kid: Type.String({ description: 'Key id (RFC 7638 thumbprint of the public key), in the JWS header of what it signs' }),
    purpose: KeyPurposeSchema,
    alg: Type.String(),
    signs: Type.Boolean({ description: 'true for the one key of its purpose that signs now' }),
    published: Type.Boolean({ description: 'Whether its public part is in its JWKS now' }),
    created_at: Type.String({ format: 'date-time' }),
    created_by: Nullable(Type.String(), 'Who rotated it in; null: created on first use'),
    reason: Nullable(Type.String(), 'Why it was rotated in'),
    superseded_at: Nullable(Type.String({ format: 'date-time' }), 'When a newer key took over (its private part was erased then)'),
    retires_at: Nullable(
      Type.String({ format: 'date-time' }),
      'When it leaves the JWKS (every grant it signed has expired by then); null while it signs, and for checkpoint keys, which stay published',
    ),
    kek_id: Nullable(Type.String(), 'Fingerprint of the key-encryption key sealing its private part; null once superseded'),
  },
  { $id: 'SigningKey', additionalProperties: false },
)
export type SigningKeyView = Static<typeof SigningKeySchema>

export const SigningKeyListSchema = Type.Object({ items: Type.Array(SigningKeySchema) }, { $id: 'SigningKeyList', additionalProperties: false })

export const RotateKeySchema = Type.Object(
  {
    purpose: KeyPurposeSchema,
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why (kept with the new key; e.g. scheduled yearly rotation, suspected exposure)' }),
  },
  { additionalProperties: false },
)
export type RotateKey = Static<typeof RotateKeySchema>

export const KeyRotationSchema = Type.Object(
  {
    purpose: KeyPurposeSchema,
    previous: Nullable(
      Type.Object(
        {
          kid: Type.String(),
          superseded_at: Type.String({ format: 'date-time' }),
          retires_at: Nullable(Type.String({ format: 'date-time' }), 'When it leaves the JWKS; null for checkpoint keys (published for good)'),
        },
        { additionalProperties: false },
      ),
      'The key that signed until now; null when there was none',
    ),
    current: SigningKeySchema,
  },
  { $id: 'KeyRotation', additionalProperties: false },
)
export type KeyRotationView = Static<typeof KeyRotationSchema>

const JwkSchema = Type.Object(
  {
    kty: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.Literal('sig'),
  },
  { $id: 'Jwk', additionalProperties: true, description: 'A public JSON Web Key (RFC 7517)' },
)
export const JwksSchema = Type.Object({ keys: Type.Array(JwkSchema) }, { $id: 'Jwks', additionalProperties: false })
