import { Type, type Static } from 'typebox'
import { CASE_CATEGORIES, CASE_CHANNELS } from '../cases/cases.vocabulary.js'

/**
 * Policy bodies, one schema per type. Municipal rules change on announced dates (施行日):
 * each type has versions, each in force from its effective date until the next one's.
 */
export const POLICY_TYPES = ['recording', 'name_display', 'escalation', 'retention', 'calendar'] as const
export type PolicyType = (typeof POLICY_TYPES)[number]

const DateString = Type.String({ format: 'date', description: 'YYYY-MM-DD' })

/** 録音・録画: notice to the other party (告知) and residents' recording (庁舎管理権). */
export const RecordingPolicySchema = Type.Object(
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
export const NameDisplayPolicySchema = Type.Object(
  {
    mode: Type.Enum(['full_name', 'surname_only', 'business_name'], { description: 'How staff names appear in every response' }),
  },
  { $id: 'NameDisplayPolicy', additionalProperties: false },
)

/** Escalation (一人で対応しない, 複数名で対応). */
export const EscalationPolicySchema = Type.Object(
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
  },
  { $id: 'EscalationPolicy', additionalProperties: false },
)

export const CLASSIFICATIONS = ['administrative_document', 'personal_information', 'both', 'neither'] as const
export type Classification = (typeof CLASSIFICATIONS)[number]

export const RetentionPeriodSchema = Type.Union(
  [
    Type.Object({ unit: Type.Literal('days'), value: Type.Integer({ minimum: 1, maximum: 364 }) }, { additionalProperties: false, description: 'Less than one year (1年未満)' }),
    Type.Object(
      { unit: Type.Literal('years'), value: Type.Union([Type.Literal(1), Type.Literal(3), Type.Literal(5), Type.Literal(10), Type.Literal(30)]) },
      { additionalProperties: false, description: 'A standard period: 1, 3, 5, 10 or 30 years' },
    ),
  ],
  { $id: 'RetentionPeriod' },
)

export const RetentionRuleSchema = Type.Object(
  {
    record_category: Type.String({ pattern: '^(\\*|[a-z][a-z0-9_]{0,63})$', description: "A record category, or '*' for any category without a rule of its own" }),
    classification: Type.Enum([...CLASSIFICATIONS], { description: 'Administrative document (行政文書/公文書), personal information (個人情報), both or neither' }),
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
export const RetentionPolicySchema = Type.Object(
  { rules: Type.Array(RetentionRuleSchema, { minItems: 1, maxItems: 500 }) },
  { $id: 'RetentionPolicy', additionalProperties: false },
)

/** The office calendar beyond the law: closures (臨時休業, 年末年始休業 beyond 12/29–1/3). */
export const CalendarPolicySchema = Type.Object(
  {
    closures: Type.Array(
      Type.Object({ from: DateString, to: DateString, reason: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
      { maxItems: 500 },
    ),
  },
  { $id: 'CalendarPolicy', additionalProperties: false },
)

export const POLICY_BODY_SCHEMAS = {
  recording: RecordingPolicySchema,
  name_display: NameDisplayPolicySchema,
  escalation: EscalationPolicySchema,
  retention: RetentionPolicySchema,
  calendar: CalendarPolicySchema,
} as const

export interface PolicyBodies {
  recording: Static<typeof RecordingPolicySchema>
  name_display: Static<typeof NameDisplayPolicySchema>
  escalation: Static<typeof EscalationPolicySchema>
  retention: Static<typeof RetentionPolicySchema>
  calendar: Static<typeof CalendarPolicySchema>
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
