import { Type, type Static } from 'typebox'
import { CASE_CATEGORIES, CASE_CHANNELS } from './case-vocabulary.ts'

/**
 * Policy bodies, one schema per type. Municipal rules change on announced dates (施行日):
 * each type has versions, each in force from its effective date until the next one's.
 */
export const POLICY_TYPES = ['recording', 'name_display', 'escalation', 'retention', 'calendar', 'incident_response', 'disclosure'] as const
export type PolicyType = (typeof POLICY_TYPES)[number]

const DateString = Type.String({ format: 'date', description: 'YYYY-MM-DD' })

/** 録音・録画: notice to the other party (告知) and residents' recording (庁舎管理権). */
const RecordingPolicySchema = Type.Object(
  {
    notice_required: Type.Boolean({ description: 'Whether the other party must be told before recording (告知)' }),
    notice_methods: Type.Array(Type.Enum(['verbal', 'sign', 'automated_message', 'written', 'screen_display']), {
      minItems: 1,
      uniqueItems: true,
      description: 'Ways of giving notice that count (e.g. a sign 「防犯カメラ作動中」, an automated phone message)',
    }),
    resident_recording: Type.Enum(['allowed', 'permission_required', 'prohibited'], {
      description: 'Whether residents may record on the premises (庁舎管理権)',
    }),
    purposes: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 20, description: 'The stated purposes of recording' }),
  },
  { $id: 'RecordingPolicy', additionalProperties: false },
)

/** 名札の見直し: how staff appear in responses. */
const NameDisplayPolicySchema = Type.Object(
  {
    mode: Type.Enum(['full_name', 'surname_only', 'business_name'], { description: 'How staff names appear in every response' }),
  },
  { $id: 'NameDisplayPolicy', additionalProperties: false },
)

/** Escalation (一人で対応しない, 複数名で対応). */
const EscalationPolicySchema = Type.Object(
  {
    immediate_categories: Type.Array(Type.Enum([...CASE_CATEGORIES]), {
      uniqueItems: true,
      description: 'Categories that escalate a case at once and forbid handling it alone',
    }),
    min_responders: Type.Object(
      {
        channels: Type.Array(Type.Enum([...CASE_CHANNELS]), { uniqueItems: true, description: 'Channels where responders are counted (at the counter)' }),
        by_severity: Type.Object(
          {
            low: Type.Integer({ minimum: 1, maximum: 10 }),
            medium: Type.Integer({ minimum: 1, maximum: 10 }),
            high: Type.Integer({ minimum: 1, maximum: 10 }),
            critical: Type.Integer({ minimum: 1, maximum: 10 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false, description: 'Minimum number of responders by severity' },
    ),
    // 一人で対応しない means never alone: whatever the severity or channel, a case the policy
    // forbids handling alone needs this many. Optional so that versions already in force keep
    // their meaning with the default.
    never_alone_min_responders: Type.Optional(
      Type.Integer({
        minimum: 2,
        maximum: 10,
        description: 'Fewest responders, on any channel and at any severity, for a case that may not be handled alone (一人で対応しない). Absent: 2.',
      }),
    ),
  },
  { $id: 'EscalationPolicy', additionalProperties: false },
)

export const CLASSIFICATIONS = ['administrative_document', 'personal_information', 'both', 'neither'] as const
export type Classification = (typeof CLASSIFICATIONS)[number]

const RetentionPeriodSchema = Type.Union(
  [
    Type.Object(
      { unit: Type.Literal('days'), value: Type.Integer({ minimum: 1, maximum: 364 }) },
      { additionalProperties: false, description: 'Less than one year (1年未満)' },
    ),
    Type.Object(
      { unit: Type.Literal('years'), value: Type.Union([Type.Literal(1), Type.Literal(3), Type.Literal(5), Type.Literal(10), Type.Literal(30)]) },
      { additionalProperties: false, description: 'A standard period: 1, 3, 5, 10 or 30 years' },
    ),
  ],
  { $id: 'RetentionPeriod' },
)

export const RetentionRuleSchema = Type.Object(
  {
    record_category: Type.String({
      pattern: '^(\\*|[a-z][a-z0-9_]{0,63})$',
      description: "A record category, or '*' for any category without a rule of its own",
      examples: ['case_recording', '*'],
    }),
    classification: Type.Enum([...CLASSIFICATIONS], {
      description: 'Administrative document (行政文書/公文書), personal information (個人情報), both or neither',
    }),
    period: RetentionPeriodSchema,
    start: Type.Enum(['next_fiscal_year', 'creation_date'], {
      description: '起算日: April 1 of the fiscal year after creation (施行令第8条), or the creation date (periods under a year)',
    }),
    action: Type.Enum(['dispose', 'transfer', 'review'], { description: 'At expiry: disposal (廃棄), transfer to the archives (移管), or review' }),
  },
  { $id: 'RetentionRule', additionalProperties: false },
)
export type RetentionRule = Static<typeof RetentionRuleSchema>

/** 保存期間表: the retention schedule. */
const RetentionPolicySchema = Type.Object(
  {
    rules: Type.Array(RetentionRuleSchema, { minItems: 1, maxItems: 500 }),
    // Purging evidence nobody reviewed is the worst failure a records system can have.
    review_period_days: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 366,
        description:
          'An unclassified recording (provisional classification) is kept at least this many days from its registration, ' +
          'counting the registration day as day 1, so a records manager can look before any automatic purge. Absent: 30.',
      }),
    ),
  },
  { $id: 'RetentionPolicy', additionalProperties: false },
)

/**
 * The office calendar beyond the law: closures (臨時休業, 年末年始休業 beyond 12/29–1/3).
 * Weekends, national holidays and 12/29–1/3 are office holidays by law (行政機関の休日に関する
 * 法律第1条) and are not listed here. A version is the whole calendar from its effective date:
 * the version in force on a date decides that date, so closures still ahead are carried forward.
 */
const CalendarPolicySchema = Type.Object(
  {
    closures: Type.Array(
      Type.Object(
        {
          from: DateString,
          to: Type.String({ format: 'date', description: 'YYYY-MM-DD, the last closed day (inclusive)' }),
          reason: Type.String({ minLength: 1, maxLength: 200, description: 'e.g. 年末・年始休業' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 500, description: 'Closed periods, each at most 366 days; dates before the version takes effect follow the version in force then' },
    ),
    // 第2条 moves deadlines for acts toward the office; whether the office's own decision
    // deadlines (e.g. 開示決定等の期限) move too is for each municipality to say (DOMAIN.md).
    office_decisions_roll_forward: Type.Optional(
      Type.Boolean({
        description:
          "Whether the office's own decision deadlines also move to the next working day when they fall on an office holiday " +
          '(deadlines for acts toward the office always do, 行政機関の休日に関する法律第2条). Absent: true.',
      }),
    ),
  },
  { $id: 'CalendarPolicy', additionalProperties: false },
)

/**
 * The response plan for leak incidents (漏えい等, 個人情報保護法第68条): who to tell, the reporting
 * threshold, the ordinance's own sensitive categories (条例要配慮個人情報) and how report deadlines
 * are counted. Prepared in advance (備えあれば憂いなし), versioned like every policy.
 */
const IncidentResponsePolicySchema = Type.Object(
  {
    point_of_contact: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Subject of the default owner (窓口) of a new incident; absent: whoever opens it' }),
    ),
    contacts: Type.Array(
      Type.Object(
        {
          role: Type.String({ minLength: 1, maxLength: 100, description: 'e.g. 保護管理者, legal, public_relations, technical, records' }),
          name: Type.String({ minLength: 1, maxLength: 200 }),
          contact: Type.String({ minLength: 1, maxLength: 200, description: 'Extension, e-mail or phone' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 100, description: 'Whom to notify when an incident is opened, with their roles' },
    ),
    persons_threshold: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description: 'More persons affected than this makes an incident reportable (行政機関等: 100, so 100 is not and 101 is)',
    }),
    ordinance_sensitive_categories: Type.Array(
      Type.Object(
        {
          code: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', examples: ['sexual_orientation'] }),
          label: Type.String({ minLength: 1, maxLength: 200, description: 'e.g. LGBT等に関する情報' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 100, description: 'Information the ordinance marks sensitive (条例要配慮個人情報): involving any makes an incident reportable' },
    ),
    reporting: Type.Object(
      {
        first_report_days: Type.Integer({ minimum: 1, maximum: 30, description: '速報 (「速やかに」, in practice 3–5 days)' }),
        final_report_days: Type.Integer({ minimum: 1, maximum: 366, description: '確報: 30 days' }),
        final_report_days_wrongful_purpose: Type.Integer({ minimum: 1, maximum: 366, description: '確報 where a wrongful purpose is suspected: 60 days' }),
        day_one: Type.Enum(['awareness_date', 'day_after_awareness'], {
          description: "Which day is day 1: the day of becoming aware (the Commission's guidelines) or the day after (民法第140条)",
        }),
        roll_forward_office_holidays: Type.Boolean({
          description: 'Whether a deadline on an office holiday (weekend, national holiday, 12/29–1/3, closures) moves to the next office day',
        }),
        warn_days_before: Type.Integer({ minimum: 0, maximum: 30, description: 'incident.report_due is published this many days before a due date' }),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'IncidentResponsePolicy', additionalProperties: false },
)

export const DISCLOSURE_KINDS = ['personal_information', 'information_disclosure'] as const
export type DisclosureKind = (typeof DISCLOSURE_KINDS)[number]

/** How one kind of disclosure request is decided in time. */
const DisclosureKindRulesSchema = Type.Object(
  {
    decision_period_days: Type.Integer({
      minimum: 1,
      maximum: 60,
      description: 'Days to decide, counted from the day after receipt (national law: 30; many ordinances 14 or 15)',
    }),
    max_extension_days: Type.Integer({
      minimum: 0,
      maximum: 60,
      description: 'The longest single extension (national law: 30; 0: none)',
    }),
    warning_days: Type.Integer({ minimum: 0, maximum: 59, description: 'Days before the deadline when deadline_approaching is published' }),
    roll_forward_off_holidays: Type.Optional(
      Type.Boolean({
        description:
          'Whether a deadline on an office holiday moves to the next working day. Absent: as the calendar policy says for the ' +
          "office's own decisions (office_decisions_roll_forward)",
      }),
    ),
  },
  { $id: 'DisclosureKindRules', additionalProperties: false },
)

/** 開示請求: decision periods, extensions and warnings per kind of request. */
const DisclosurePolicySchema = Type.Object(
  {
    kinds: Type.Object(
      {
        personal_information: DisclosureKindRulesSchema,
        information_disclosure: DisclosureKindRulesSchema,
      },
      {
        additionalProperties: false,
        description: 'personal_information: 保有個人情報開示請求 (個人情報保護法第76条); information_disclosure: 情報公開請求 (情報公開法・条例)',
      },
    ),
  },
  { $id: 'DisclosurePolicy', additionalProperties: false },
)

export const POLICY_BODY_SCHEMAS = {
  recording: RecordingPolicySchema,
  name_display: NameDisplayPolicySchema,
  escalation: EscalationPolicySchema,
  retention: RetentionPolicySchema,
  calendar: CalendarPolicySchema,
  incident_response: IncidentResponsePolicySchema,
  disclosure: DisclosurePolicySchema,
} as const

export interface PolicyBodies {
  recording: Static<typeof RecordingPolicySchema>
  name_display: Static<typeof NameDisplayPolicySchema>
  escalation: Static<typeof EscalationPolicySchema>
  retention: Static<typeof RetentionPolicySchema>
  calendar: Static<typeof CalendarPolicySchema>
  incident_response: Static<typeof IncidentResponsePolicySchema>
  disclosure: Static<typeof DisclosurePolicySchema>
}

/** One version of a policy, as decisions use it: they record `id` with what they decided. */
export interface PolicyVersion<T extends PolicyType = PolicyType> {
  id: string
  type: T
  effective_from: string
  body: PolicyBodies[T]
  note: string
  created_by: string
  created_at: string
}

// ---- The HTTP shapes of policies (routes and the contract) ----

/** The earliest date the service answers for: its shipped defaults take effect on it. */
export const POLICY_EPOCH = '1970-01-01'

const PolicyTypeSchema = Type.Enum([...POLICY_TYPES], {
  description:
    'recording (録音・録画), name_display (名札), escalation (複数名対応・即時エスカレーション), retention (保存期間表), calendar (閉庁日), ' +
    'incident_response (漏えい等の対応計画), disclosure (開示請求の期限)',
})

const VERSION_NAMES = {
  recording: 'Recording',
  name_display: 'NameDisplay',
  escalation: 'Escalation',
  retention: 'Retention',
  calendar: 'Calendar',
  incident_response: 'IncidentResponse',
  disclosure: 'Disclosure',
} as const satisfies Record<PolicyType, string>

/** Shared component names, e.g. RecordingPolicyVersion, CreateRecordingPolicyVersion. */
export const policyVersionSchemaName = (type: PolicyType) => `${VERSION_NAMES[type]}PolicyVersion`

function versionSchema<T extends PolicyType, B extends (typeof POLICY_BODY_SCHEMAS)[T]>(type: T, body: B) {
  return Type.Object(
    {
      id: Type.String({ format: 'uuid', description: 'Decisions record this id with what they decided' }),
      type: Type.Literal(type),
      effective_from: Type.String({ format: 'date', description: '施行日: in force from this day (Asia/Tokyo)' }),
      effective_until: Type.Union([Type.String({ format: 'date' }), Type.Null()], {
        description: 'The last day in force: the day before the next version takes effect; null while no later version exists',
      }),
      body,
      note: Type.String({ description: 'Why this version exists (e.g. the 規程 or 告示 it implements)' }),
      created_by: Type.String({ description: 'Subject of the administrator who created it; system for shipped defaults' }),
      created_at: Type.String({ format: 'date-time' }),
    },
    { $id: policyVersionSchemaName(type), additionalProperties: false },
  )
}

const RecordingPolicyVersionSchema = versionSchema('recording', RecordingPolicySchema)
const NameDisplayPolicyVersionSchema = versionSchema('name_display', NameDisplayPolicySchema)
const EscalationPolicyVersionSchema = versionSchema('escalation', EscalationPolicySchema)
const RetentionPolicyVersionSchema = versionSchema('retention', RetentionPolicySchema)
const CalendarPolicyVersionSchema = versionSchema('calendar', CalendarPolicySchema)
const IncidentResponsePolicyVersionSchema = versionSchema('incident_response', IncidentResponsePolicySchema)
const DisclosurePolicyVersionSchema = versionSchema('disclosure', DisclosurePolicySchema)

export const POLICY_VERSION_SCHEMAS = {
  recording: RecordingPolicyVersionSchema,
  name_display: NameDisplayPolicyVersionSchema,
  escalation: EscalationPolicyVersionSchema,
  retention: RetentionPolicyVersionSchema,
  calendar: CalendarPolicyVersionSchema,
  incident_response: IncidentResponsePolicyVersionSchema,
  disclosure: DisclosurePolicyVersionSchema,
} as const

/** A version of any type; `type` tells which body it has. */
export const AnyPolicyVersionSchema = Type.Union(
  [
    RecordingPolicyVersionSchema,
    NameDisplayPolicyVersionSchema,
    EscalationPolicyVersionSchema,
    RetentionPolicyVersionSchema,
    CalendarPolicyVersionSchema,
    IncidentResponsePolicyVersionSchema,
    DisclosurePolicyVersionSchema,
  ],
  { $id: 'AnyPolicyVersion' },
)

/** A version as the API shows it: with the last day it is in force. */
export type PolicyVersionView<T extends PolicyType = PolicyType> = T extends PolicyType ? PolicyVersion<T> & { effective_until: string | null } : never

export const PoliciesInForceSchema = Type.Object(
  {
    at: Type.String({ format: 'date', description: 'The date asked about (Asia/Tokyo; today unless ?at= was given)' }),
    policies: Type.Object(
      {
        recording: RecordingPolicyVersionSchema,
        name_display: NameDisplayPolicyVersionSchema,
        escalation: EscalationPolicyVersionSchema,
        retention: RetentionPolicyVersionSchema,
        calendar: CalendarPolicyVersionSchema,
        incident_response: IncidentResponsePolicyVersionSchema,
        disclosure: DisclosurePolicyVersionSchema,
      },
      { additionalProperties: false, description: "Each type's version in force on that date" },
    ),
  },
  { $id: 'PoliciesInForce', additionalProperties: false },
)

export const PolicyVersionHistorySchema = Type.Object(
  {
    type: PolicyTypeSchema,
    today: Type.String({ format: 'date', description: 'Today in Asia/Tokyo' }),
    in_force_id: Type.String({ format: 'uuid', description: 'The version in force today; later ones are scheduled' }),
    items: Type.Array(AnyPolicyVersionSchema, { description: 'Every version, oldest first (a handful per year: not paginated)' }),
  },
  { $id: 'PolicyVersionHistory', additionalProperties: false },
)

function createVersionSchema<T extends PolicyType, B extends (typeof POLICY_BODY_SCHEMAS)[T]>(type: T, body: B) {
  return Type.Object(
    {
      effective_from: Type.String({ format: 'date', description: '施行日 (Asia/Tokyo): today or later; one version per type and date' }),
      body,
      note: Type.String({ minLength: 1, maxLength: 2000, description: 'Why: the amendment, 規程 or 告示 this version implements' }),
    },
    { $id: `Create${policyVersionSchemaName(type)}`, additionalProperties: false },
  )
}

export const CREATE_POLICY_VERSION_SCHEMAS = {
  recording: createVersionSchema('recording', RecordingPolicySchema),
  name_display: createVersionSchema('name_display', NameDisplayPolicySchema),
  escalation: createVersionSchema('escalation', EscalationPolicySchema),
  retention: createVersionSchema('retention', RetentionPolicySchema),
  calendar: createVersionSchema('calendar', CalendarPolicySchema),
  incident_response: createVersionSchema('incident_response', IncidentResponsePolicySchema),
  disclosure: createVersionSchema('disclosure', DisclosurePolicySchema),
} as const

export const AtQuerySchema = Type.Object(
  {
    at: Type.Optional(Type.String({ format: 'date', description: `A date (YYYY-MM-DD, Asia/Tokyo) from ${POLICY_EPOCH} on; default today` })),
  },
  { additionalProperties: false },
)

export const PolicyTypeParamsSchema = Type.Object({ type: PolicyTypeSchema }, { additionalProperties: false })
export const PolicyVersionParamsSchema = Type.Object({ type: PolicyTypeSchema, id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
