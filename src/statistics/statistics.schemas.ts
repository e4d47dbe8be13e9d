import { Type, type Static } from 'typebox'
import { CASE_STATUSES } from '../cases/case-status.ts'
import { CASE_OUTCOMES } from '../cases/case-statistics.repository.ts'
import { CASE_CATEGORIES, CASE_CHANNELS, SEVERITIES } from '../policies/case-vocabulary.ts'

/** Statistics for policy making (政策立案のための統計): request and response shapes. */

const DateString = Type.String({ format: 'date', description: 'YYYY-MM-DD (Asia/Tokyo)' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

const CASE_DIMENSIONS = ['month', 'fiscal_year', 'org_unit', 'channel', 'category', 'severity', 'status', 'outcome'] as const
export type CaseDimension = (typeof CASE_DIMENSIONS)[number]

export const CaseStatisticsQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date', description: 'First day of the period (Tokyo date of occurrence); with `to`' })),
    to: Type.Optional(Type.String({ format: 'date', description: 'Last day of the period, inclusive; with `from`' })),
    fiscal_year: Type.Optional(Type.Integer({ minimum: 1970, maximum: 2999, description: '年度: April 1 to March 31; instead of from/to' })),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'This unit and every unit below it' })),
    channel: Type.Optional(Type.Enum([...CASE_CHANNELS])),
    category: Type.Optional(Type.Enum([...CASE_CATEGORIES])),
    severity: Type.Optional(Type.Enum([...SEVERITIES])),
    status: Type.Optional(Type.Enum([...CASE_STATUSES])),
    group_by: Type.Optional(
      Type.String({
        pattern: `^(${CASE_DIMENSIONS.join('|')})(,(${CASE_DIMENSIONS.join('|')}))*$`,
        maxLength: 200,
        description: `Comma-separated, any of: ${CASE_DIMENSIONS.join(', ')}. A case counts once in each of its categories.`,
        examples: ['month,category'],
      }),
    ),
  },
  { additionalProperties: false },
)
export type CaseStatisticsQuery = Static<typeof CaseStatisticsQuerySchema>

/** A count: exact, or `<3` where small cells are suppressed (小さなセルの秘匿). */
const count = (description?: string) => Type.Union([Type.Integer({ minimum: 0 }), Type.Literal('<3')], description ? { description } : {})
const Count = count()
const Days = Nullable(Type.Number({ description: 'Days from occurrence to closing; null without enough closed cases' }))

const CaseMeasuresSchema = Type.Object(
  {
    cases: Count,
    not_handled_alone: count('一人で対応しない: cases nobody may handle alone'),
    not_handled_alone_with_shortfall: count('Of those, cases that lacked responders at any time while handled'),
    escalated: count('Cases escalated (an escalation event, automatic or a hand-over)'),
    stop_requests: count('Requests to stop (中止要求), events'),
    exit_orders: count('Exit orders under 庁舎管理権, events'),
    final_warnings: count('Final warnings (最終警告), events'),
    police_calls: count('Police called (110), events'),
    police_consultations: count('Police consulted (#9110, local station), events'),
    limited_apologies: count('Apologies limited to the discomfort caused, events'),
    faults_acknowledged: count('Faults acknowledged after a fact check, events'),
    closed: count('Cases closed'),
    days_to_close_median: Days,
    days_to_close_p90: Days,
    with_recordings: count('Cases with at least one recording'),
    with_notice_missing: count('Cases with a recording made without the notice the policy required'),
  },
  { $id: 'CaseStatisticsMeasures', additionalProperties: false },
)
export type CaseMeasures = Static<typeof CaseMeasuresSchema>

const CaseGroupSchema = Type.Object(
  {
    month: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}$', description: 'YYYY-MM (Tokyo)' })),
    fiscal_year: Type.Optional(Type.Integer()),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid' })),
    channel: Type.Optional(Type.Enum([...CASE_CHANNELS])),
    category: Type.Optional(Type.Enum([...CASE_CATEGORIES])),
    severity: Type.Optional(Type.Enum([...SEVERITIES])),
    status: Type.Optional(Type.Enum([...CASE_STATUSES])),
    outcome: Type.Optional(Type.Enum([...CASE_OUTCOMES], { description: 'The furthest step of the escalation ladder the case reached' })),
  },
  { additionalProperties: false },
)

export const CaseStatisticsSchema = Type.Object(
  {
    period: Type.Object({ from: DateString, to: DateString }, { additionalProperties: false }),
    group_by: Type.Array(Type.Enum([...CASE_DIMENSIONS])),
    suppressed: Type.Boolean({ description: 'Whether small cells are suppressed (auditors, admins); `rule` says how' }),
    rule: Nullable(Type.String()),
    rows: Type.Array(Type.Object({ group: CaseGroupSchema, measures: CaseMeasuresSchema }, { additionalProperties: false })),
    total: CaseMeasuresSchema,
  },
  { $id: 'CaseStatistics', additionalProperties: false },
)
export type CaseStatistics = Static<typeof CaseStatisticsSchema>

const RECORDING_DIMENSIONS = ['classification', 'status', 'org_unit'] as const
export type RecordingDimension = (typeof RECORDING_DIMENSIONS)[number]
export const HOLD_TYPES = ['audit', 'litigation', 'appeal', 'disclosure_request', 'incident', 'other'] as const

export const RecordingStatisticsQuerySchema = Type.Object(
  {
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'This unit and every unit below it' })),
    group_by: Type.Optional(
      Type.String({
        pattern: `^(${RECORDING_DIMENSIONS.join('|')})(,(${RECORDING_DIMENSIONS.join('|')}))*$`,
        maxLength: 100,
        description: `Comma-separated, any of: ${RECORDING_DIMENSIONS.join(', ')}`,
        examples: ['classification,org_unit'],
      }),
    ),
  },
  { additionalProperties: false },
)
export type RecordingStatisticsQuery = Static<typeof RecordingStatisticsQuerySchema>

export const RECORDING_COUNT_MEASURES = [
  'recordings',
  'active',
  'on_hold',
  ...HOLD_TYPES.map((h) => `on_hold_${h}` as const),
  'due',
  'disposed',
  'transferred',
  'purged',
  'disclosure_requests_holding',
  'incidents_holding',
] as const

const RecordingMeasuresSchema = Type.Object(
  {
    recordings: count('Recordings (any status)'),
    active: count('Kept, retention running'),
    on_hold: count('Kept by at least one hold today'),
    on_hold_audit: count('Kept by an audit or inspection hold (監査・検査)'),
    on_hold_litigation: count('Kept by a litigation hold (訴訟)'),
    on_hold_appeal: count('Kept by an appeal hold (不服申立て)'),
    on_hold_disclosure_request: count('Kept by a disclosure request hold (開示請求)'),
    on_hold_incident: count('Kept by an incident hold (漏えい等)'),
    on_hold_other: count('Kept by another hold'),
    due: count('Retention over: awaiting disposal or transfer'),
    disposed: count('Disposed of (廃棄)'),
    transferred: count('Transferred to the archives (移管)'),
    purged: count('Purged automatically (personal information only, not a document)'),
    disclosure_requests_holding: count('Disclosure requests holding recordings of the group today'),
    incidents_holding: count('Incidents holding recordings of the group today'),
  },
  { $id: 'RecordingStatisticsMeasures', additionalProperties: false },
)
export type RecordingMeasures = Static<typeof RecordingMeasuresSchema>

export const RecordingStatisticsSchema = Type.Object(
  {
    as_of: DateString,
    group_by: Type.Array(Type.Enum([...RECORDING_DIMENSIONS])),
    suppressed: Type.Boolean(),
    rule: Nullable(Type.String()),
    rows: Type.Array(
      Type.Object(
        {
          group: Type.Object(
            {
              classification: Type.Optional(Type.Enum(['administrative_document', 'personal_information', 'both', 'neither'])),
              status: Type.Optional(Type.Enum(['active', 'due', 'disposed', 'transferred', 'purged'])),
              org_unit_id: Type.Optional(Type.String({ format: 'uuid' })),
            },
            { additionalProperties: false },
          ),
          measures: RecordingMeasuresSchema,
        },
        { additionalProperties: false },
      ),
    ),
    total: RecordingMeasuresSchema,
    upcoming_disposals: Type.Array(Type.Object({ month: Type.String({ pattern: '^\\d{4}-\\d{2}$' }), recordings: count() }, { additionalProperties: false }), {
      description: 'Active recordings whose retention runs out, per month, this month and the 11 after (Tokyo); open-ended holds excluded',
    }),
  },
  { $id: 'RecordingStatistics', additionalProperties: false },
)
export type RecordingStatistics = Static<typeof RecordingStatisticsSchema>
