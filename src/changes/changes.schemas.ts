import { Type, type Static } from 'typebox'

export const ChangeSchema = Type.Object(
  {
    position: Type.Integer({ minimum: 1, description: 'Feed position: 1, 2, 3, … without gaps, in commit order' }),
    kind: Type.String({ description: 'e.g. case.created, case.transitioned, event.appended, recording.disposed, policy.version_created' }),
    resource_type: Type.String({ description: 'case, recording, policy, org_unit, …' }),
    resource_id: Type.String(),
    org_unit_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The org unit the record belongs to; null for organisation-wide records (policies)',
    }),
    occurred_at: Type.String({ format: 'date-time', description: 'When the change was written (its transaction commits shortly after)' }),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'Ids, versions, statuses, kinds: never personal data' }),
  },
  { $id: 'Change', additionalProperties: false },
)
export type Change = Static<typeof ChangeSchema>

export const ChangePageSchema = Type.Object(
  {
    items: Type.Array(ChangeSchema),
    next_after: Type.Integer({ minimum: 0, description: 'Pass as `after` to continue: every change up to it has been shown to you' }),
    head: Type.Integer({ minimum: 0, description: 'The last position numbered when this page was read' }),
  },
  { $id: 'ChangePage', additionalProperties: false },
)
export type ChangePage = Static<typeof ChangePageSchema>

export const MAX_WAIT_SECONDS = 30

export const ChangeQuerySchema = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Return changes after this position (0: from the start)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'At most this many changes (1–1000, default 100)' })),
    wait: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_WAIT_SECONDS,
        default: 0,
        description: 'Seconds to wait for a change when there is none after `after` yet (long poll, at most 30)',
      }),
    ),
  },
  { additionalProperties: false },
)
