import { Type, type Static } from 'typebox'
import { CaseSummarySchema } from './cases.schemas.ts'
import { PageQuery, pageOf } from '../kernel/pagination.ts'
import { StaffRefSchema } from '../staff/staff.repository.ts'
import { EVENT_TYPES, LADDER_TYPES, RECORDABLE_EVENT_TYPES } from './event-types.ts'

const Uuid = Type.String({ format: 'uuid' })

const EventDetailsSchema = Type.Object(
  {
    police_via: Type.Optional(
      Type.Enum(['110', '#9110', 'local_station'], {
        description: 'For police_called / police_consultation: 110 when urgent, otherwise #9110 or the local station',
      }),
    ),
    decided_by: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        minItems: 1,
        maxItems: 10,
        uniqueItems: true,
        description: 'For conversation_ended: staff ids of those who decided (several, incl. a supervisor)',
      }),
    ),
  },
  { $id: 'EventDetails', additionalProperties: false },
)

export const CreateEventSchema = Type.Object(
  {
    type: Type.Enum([...RECORDABLE_EVENT_TYPES]),
    occurred_at: Type.String({ format: 'date-time', description: 'When it happened; may be in the past, not in the future' }),
    description: Type.String({ minLength: 1, maxLength: 10000, description: 'What happened, as facts' }),
    quote: Type.Optional(Type.String({ minLength: 1, maxLength: 10000, description: "The customer's exact words, where recorded" })),
    corrects_event_id: Type.Optional(Type.String({ format: 'uuid', description: 'Required for (and only for) a correction: the event it corrects' })),
    details: Type.Optional(EventDetailsSchema),
  },
  { $id: 'CreateCaseEvent', additionalProperties: false },
)
export type CreateEvent = Static<typeof CreateEventSchema>

export const CaseEventSchema = Type.Object(
  {
    id: Uuid,
    case_id: Uuid,
    seq: Type.Integer({ minimum: 1, description: 'Order in which events were written' }),
    type: Type.Enum([...EVENT_TYPES]),
    occurred_at: Type.String({ format: 'date-time' }),
    recorded_at: Type.String({ format: 'date-time' }),
    actor: StaffRefSchema,
    description: Type.Union([Type.String(), Type.Null()]),
    quote: Type.Union([Type.String(), Type.Null()]),
    details: Type.Object({}, { additionalProperties: true }),
    corrects_event_id: Type.Union([Uuid, Type.Null()]),
    policy_version_id: Type.Union([Uuid, Type.Null()], { description: 'The policy version a system decision followed' }),
    redacted: Type.Boolean({ description: 'description and quote withheld: the caller may not see personal data' }),
  },
  { $id: 'CaseEvent', additionalProperties: false },
)
export type CaseEventView = Static<typeof CaseEventSchema>

export const EventPageSchema = pageOf(CaseEventSchema, 'CaseEventPage')
export const EventListQuerySchema = Type.Object({ ...PageQuery }, { additionalProperties: false })

const TimelineEntrySchema = Type.Object(
  {
    ...CaseEventSchema.properties,
    corrections: Type.Array(CaseEventSchema, { description: 'Later events that correct this one, in the order written' }),
  },
  { $id: 'TimelineEntry', additionalProperties: false },
)

const EscalationLadderSchema = Type.Object(
  {
    counts: Type.Object(Object.fromEntries(LADDER_TYPES.map((t) => [t, Type.Integer({ minimum: 0 })])), { additionalProperties: false }),
    warnings_before_police: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description: 'Requests to stop, exit orders and final warnings before the police were first called; null if they were not',
    }),
  },
  { $id: 'EscalationLadder', additionalProperties: false },
)

/** The report a supervisor reads: the facts in time order (事実関係を時系列で整理). */
export const TimelineSchema = Type.Object(
  {
    case: CaseSummarySchema,
    entries: Type.Array(TimelineEntrySchema, { description: 'Events in the order they happened; corrections shown against the event they correct' }),
    escalation_ladder: EscalationLadderSchema,
    generated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'CaseTimeline', additionalProperties: false },
)
export type TimelineView = Static<typeof TimelineSchema>
