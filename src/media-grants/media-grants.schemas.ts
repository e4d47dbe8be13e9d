import { Type, type Static } from 'typebox'

export const MediaGrantSchema = Type.Object(
  {
    token: Type.String({ description: 'A JWT (ES256, typ media-grant+jwt) for the media server; verify it with the JWKS at /.well-known/jwks.json' }),
    token_type: Type.Literal('media-grant+jwt'),
    jti: Type.String({ format: 'uuid', description: 'The grant id, also in the audit trail' }),
    recording_id: Type.String({ format: 'uuid' }),
    derivative_id: Type.Optional(Type.String({ format: 'uuid', description: 'Present when the grant opens a redacted copy of the recording' })),
    storage_uri: Type.String(),
    sha256: Type.String({ description: 'The media server checks the file against it' }),
    issuer: Type.String(),
    audience: Type.String(),
    expires_at: Type.String({ format: 'date-time' }),
    jwks_uri: Type.String({ description: 'Where the public keys are published' }),
  },
  { $id: 'MediaAccessGrant', additionalProperties: false },
)
export type MediaGrantView = Static<typeof MediaGrantSchema>
