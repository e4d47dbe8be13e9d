import { Type, type Static } from 'typebox'

export const OrgUnitSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    parent_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'null for the root unit' }),
    code: Type.String({ description: 'Short code unique across the organisation, e.g. shimin-ka' }),
    name: Type.String({ description: 'Display name, e.g. 市民課' }),
    depth: Type.Integer({ minimum: 0, description: '0 for the root unit' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'OrgUnit', additionalProperties: false },
)
export type OrgUnit = Static<typeof OrgUnitSchema>

export const CreateOrgUnitSchema = Type.Object(
  {
    parent_id: Type.String({ format: 'uuid', description: 'The unit this one belongs to' }),
    code: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', examples: ['shimin-ka'] }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { $id: 'CreateOrgUnit', additionalProperties: false },
)
export type CreateOrgUnit = Static<typeof CreateOrgUnitSchema>

export const OrgUnitListSchema = Type.Object({ items: Type.Array(OrgUnitSchema) }, { $id: 'OrgUnitList', additionalProperties: false })
