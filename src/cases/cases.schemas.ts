import { Type, type Static } from 'typebox'
import { PageQuery, pageOf } from '../kernel/pagination.ts'
import { StaffRefSchema } from '../staff/staff.repository.ts'
import { CASE_STATUSES } from './case-status.ts'
import { CASE_CATEGORIES, CASE_CHANNELS, SEVERITIES } from '../policies/case-vocabulary.ts'

const Uuid = Type.String({ format: 'uuid' })
const Instant = Type.String({ format: 'date-time', description: 'RFC 3339 date-time with offset, e.g. 2025-06-02T10:15:00+09:00' })
const Subject = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$', description: 'A staff id (the JWT sub)', examples: ['staff-0042'] })

const ChannelSchema = Type.Enum([...CASE_CHANNELS])
const CategorySchema = Type.Enum([...CASE_CATEGORIES])
const SeveritySchema = Type.Enum([...SEVERITIES])
const StatusSchema = Type.Enum([...CASE_STATUSES])
const Categories = Type.Array(CategorySchema, { minItems: 1, maxItems: 8, uniqueItems: true })

/** The customer's contact details: personal information (個人情報). */
const CustomerSchema = Type.Object(
  {
    name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()])),
    address: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 500 }), Type.Null()])),
    phone: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 50, pattern: '^[0-9+()\\-\\s]+$', examples: ['03-1234-5678'] }), Type.Null()])),
    email: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 254 }), Type.Null()])),
  },
  { $id: 'Customer', additionalProperties: false },
)
export type Customer = Static<typeof CustomerSchema>

const ExternalRefSchema = Type.Object(
  {
    system: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: "The other system's name", examples: ['kikan-soudan'] }),
    ref: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'The id of the case in that system',
      examples: ['SOU-2025-000123'],
    }),
  },
  { $id: 'ExternalRef', additionalProperties: false },
)

export const CreateCaseSchema = Type.Object(
  {
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: "Default: the caller's org unit" })),
    channel: ChannelSchema,
    occurred_at: Instant,
    location: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
    categories: Categories,
    severity: SeveritySchema,
    summary: Type.String({ minLength: 1, maxLength: 10000 }),
    responders: Type.Optional(Type.Array(Subject, { maxItems: 20, uniqueItems: true, description: 'Staff ids; the creating staff member is always added' })),
    customer: Type.Optional(CustomerSchema),
    external_ref: Type.Optional(ExternalRefSchema),
  },
  {
    $id: 'CreateCase',
    additionalProperties: false,
    examples: [
      {
        channel: 'counter',
        occurred_at: '2025-06-02T10:15:00+09:00',
        location: '市民課 2番窓口',
        categories: ['verbal_abuse', 'prolonged_detention'],
        severity: 'medium',
        summary: '転居届の不備を伝えたところ大声で職員を罵倒し、約90分にわたり窓口に居座った。',
        customer: { name: '窓口 太郎', phone: '03-1234-5678' },
      },
    ],
  },
)
export type CreateCase = Static<typeof CreateCaseSchema>

export const UpdateCaseSchema = Type.Object(
  {
    channel: Type.Optional(ChannelSchema),
    occurred_at: Type.Optional(Instant),
    location: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
    categories: Type.Optional(Categories),
    severity: Type.Optional(SeveritySchema),
    summary: Type.Optional(Type.String({ minLength: 1, maxLength: 10000 })),
    customer: Type.Optional(Type.Union([CustomerSchema, Type.Null()], { description: 'Replaces the contact details; null removes them' })),
  },
  { $id: 'UpdateCase', additionalProperties: false, minProperties: 1 },
)
export type UpdateCase = Static<typeof UpdateCaseSchema>

/** What an integration client sends for PUT /v1/cases/by-external-ref/{system}/{ref}. */
export const UpsertCaseSchema = Type.Object(
  {
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: "Default: the caller's org unit" })),
    channel: ChannelSchema,
    occurred_at: Instant,
    location: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
    categories: Categories,
    severity: SeveritySchema,
    summary: Type.String({ minLength: 1, maxLength: 10000 }),
    responders: Type.Optional(Type.Array(Subject, { maxItems: 20, uniqueItems: true })),
    customer: Type.Optional(Type.Union([CustomerSchema, Type.Null()])),
  },
  { $id: 'UpsertCase', additionalProperties: false },
)
export type UpsertCase = Static<typeof UpsertCaseSchema>

export const TransitionSchema = Type.Object(
  {
    to: StatusSchema,
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
  },
  { $id: 'CaseTransition', additionalProperties: false },
)

export const AddResponderSchema = Type.Object({ subject: Subject }, { $id: 'AddResponder', additionalProperties: false })

/**
 * 複数名で対応: set while a counter case has fewer responders than its severity needs, or a case that
 * may not be handled alone (一人で対応しない) has fewer than the policy's never-alone minimum (default 2).
 */
const ResponderShortfallSchema = Type.Object(
  {
    required: Type.Integer(),
    actual: Type.Integer(),
    policy_version_id: Uuid,
  },
  { $id: 'ResponderShortfall', additionalProperties: false },
)

const caseHeader = {
  id: Uuid,
  number: Type.String({ description: 'Per fiscal year (年度), e.g. 2025-000123' }),
  org_unit_id: Uuid,
  channel: ChannelSchema,
  occurred_at: Type.String({ format: 'date-time' }),
  location: Type.Union([Type.String(), Type.Null()]),
  categories: Type.Array(CategorySchema),
  severity: SeveritySchema,
  status: StatusSchema,
  summary: Type.String(),
  responders: Type.Array(StaffRefSchema),
  external_ref: Type.Union([ExternalRefSchema, Type.Null()]),
  handled_alone_forbidden: Type.Boolean({ description: '一人で対応しない: the escalation policy forbids handling this case alone' }),
  escalation_policy_version_id: Type.Union([Uuid, Type.Null()], { description: 'The escalation policy version that set handled_alone_forbidden' }),
  responder_shortfall: Type.Union([ResponderShortfallSchema, Type.Null()], {
    description: '複数名で対応: too few responders for the severity, or fewer than two where handling alone is forbidden',
  }),
  created_by: StaffRefSchema,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  version: Type.Integer({ minimum: 1 }),
}

export const CaseSchema = Type.Object(
  {
    ...caseHeader,
    customer: Type.Union([CustomerSchema, Type.Null()], {
      description: 'null when absent or when the caller may not see personal data (then customer_redacted is true)',
    }),
    customer_redacted: Type.Boolean(),
    name_display_policy_version_id: Type.String({ format: 'uuid', description: 'The name-display policy that decided how staff appear' }),
  },
  { $id: 'Case', additionalProperties: false },
)
export type CaseView = Static<typeof CaseSchema>

export const CaseSummarySchema = Type.Object(caseHeader, { $id: 'CaseSummary', additionalProperties: false })
export type CaseSummaryView = Static<typeof CaseSummarySchema>

export const CasePageSchema = pageOf(CaseSummarySchema, 'CasePage')

export const CaseListQuerySchema = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    severity: Type.Optional(SeveritySchema),
    category: Type.Optional(CategorySchema),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'That unit and the units below it' })),
    responder: Type.Optional(Subject),
    occurred_from: Type.Optional(Type.String({ format: 'date-time' })),
    occurred_to: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive' })),
    external_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Text in the summary (case-insensitive substring)' })),
    ...PageQuery,
  },
  { additionalProperties: false },
)

export const CaseIdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export const ExternalRefParams = Type.Object(
  { system: ExternalRefSchema.properties.system, ref: ExternalRefSchema.properties.ref },
  { additionalProperties: false },
)
