import { Type, type Static } from 'typebox'
import { PageQuery, pageOf } from '../kernel/pagination.ts'
import { CLASSIFICATIONS, RetentionRuleSchema } from '../policies/policies.schemas.ts'
import { StaffRefSchema } from '../staff/staff.repository.ts'

const Uuid = Type.String({ format: 'uuid' })
const Instant = Type.String({ format: 'date-time', description: 'RFC 3339 date-time with offset, e.g. 2025-06-02T10:15:00+09:00' })
const DateString = Type.String({ format: 'date', description: 'YYYY-MM-DD (Asia/Tokyo)' })

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

/** 見直し期間: how long an unclassified recording is kept from an automatic purge (issue 10 item 2). */
const ReviewUntil = Nullable(
  Type.String({
    format: 'date',
    description:
      'An unclassified (provisional) recording that would be purged automatically: the last day of the review period after its registration ' +
      '(retention policy review_period_days, default 30), before which it is not purged, so a records manager can look; ' +
      'null otherwise and once a records manager classified it',
  }),
)
const Subject = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$', description: 'A staff id (the JWT sub)', examples: ['staff-0042'] })
const RecordCategory = Type.String({
  pattern: '^[a-z][a-z0-9_]{0,63}$',
  description: 'A record category of the retention schedule (保存期間表)',
  examples: ['case_recording'],
})
const Reason = Type.String({ minLength: 1, maxLength: 2000 })
const SHA256_EXAMPLE = '3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7'

const MEDIA_KINDS = ['audio', 'video'] as const
const SOURCES = ['staff_device', 'fixed_camera', 'phone_system', 'resident_provided'] as const
const RECORDED_BY = ['organisation', 'resident'] as const
const NOTICE_METHODS = ['verbal', 'sign', 'automated_message', 'written', 'screen_display'] as const
const RECORDING_STATUSES = ['active', 'due', 'disposed', 'transferred', 'purged'] as const
const RECORDING_FLAGS = ['notice_missing', 'resident_recording_prohibited', 'resident_recording_without_permission'] as const
/** Holds anyone with recordings:hold places; `incident` holds are placed and released through their incident (漏えい等). */
const PLACEABLE_HOLD_TYPES = ['audit', 'litigation', 'appeal', 'disclosure_request', 'other'] as const
const HOLD_TYPES = [...PLACEABLE_HOLD_TYPES, 'incident'] as const
const HOLD_STATUSES = ['active', 'lapsed', 'released'] as const
const DISPOSITION_ACTIONS = ['dispose', 'transfer', 'purge'] as const
const DISPOSITION_STATUSES = ['proposed', 'executed', 'cancelled'] as const
const ACCESS_PURPOSES = ['case_handling', 'fact_check', 'disclosure_request', 'police_request', 'litigation', 'audit', 'other'] as const

export type RecordingFlag = (typeof RECORDING_FLAGS)[number]

/** The fields a recording may carry that can identify people (個人情報): redacted and removed like the media. */
const personalFields = {
  description: Type.Optional(
    Nullable(Type.String({ minLength: 1, maxLength: 10000, description: 'What the recording shows; may name people (personal field)' })),
  ),
  participants: Type.Optional(
    Nullable(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 20, description: 'Who can be heard or seen, as recorded (personal field)' }),
    ),
  ),
  caller_number: Type.Optional(
    Nullable(
      Type.String({
        minLength: 1,
        maxLength: 50,
        pattern: '^[0-9+()\\-\\s]+$',
        description: "The other party's number, for phone-system recordings (personal field)",
        examples: ['03-1234-5678'],
      }),
    ),
  ),
}
const descriptiveFields = {
  title: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200, description: 'A label without names, e.g. 市民課窓口 3番 午前' }))),
  location: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 500, description: 'Where it was recorded' }))),
  ...personalFields,
}

const NoticeInputSchema = Type.Object(
  {
    given: Type.Boolean({ description: 'Whether the other party was told the interaction is recorded (告知)' }),
    method: Type.Optional(
      Type.Enum([...NOTICE_METHODS], { description: 'Required when given: how (a sign 「防犯カメラ作動中」, an automated phone message, …)' }),
    ),
    at: Type.Optional(Instant),
  },
  { $id: 'RecordingNoticeInput', additionalProperties: false },
)

export const CreateRecordingSchema = Type.Object(
  {
    case_id: Type.Optional(Type.String({ format: 'uuid', description: 'The case the recording belongs to; one you reach' })),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: "Default: the case's unit, else yours" })),
    media_kind: Type.Enum([...MEDIA_KINDS]),
    source: Type.Enum([...SOURCES]),
    recorded_by: Type.Enum([...RECORDED_BY], { description: 'Who made the recording: the organisation, or a resident (then source is resident_provided)' }),
    recorder: Type.Optional(Subject),
    started_at: Instant,
    ended_at: Instant,
    storage_uri: Type.String({ format: 'uri', maxLength: 2000, description: "Where the media is in the municipality's storage" }),
    sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'SHA-256 of the media, hex (stored lower-case)', examples: [SHA256_EXAMPLE] }),
    size_bytes: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    media_type: Type.String({
      pattern: '^(audio|video)/[a-z0-9][a-z0-9.+-]{0,99}$',
      description: 'audio/* for audio, video/* for video',
      examples: ['audio/mp4'],
    }),
    notice: NoticeInputSchema,
    resident_permission: Type.Optional(Type.Boolean({ description: 'For recordings by a resident: whether the office permitted it (庁舎管理権)' })),
    on_premises: Type.Optional(
      Type.Boolean({ description: "For recordings by a resident: made on the office's premises, where 庁舎管理権 applies (default true)" }),
    ),
    record_category: Type.Optional(RecordCategory),
    ...descriptiveFields,
  },
  { $id: 'CreateRecording', additionalProperties: false },
)
export type CreateRecording = Static<typeof CreateRecordingSchema>

export const UpdateRecordingSchema = Type.Object(descriptiveFields, {
  $id: 'UpdateRecording',
  additionalProperties: false,
  minProperties: 1,
  description: 'Descriptive fields only; facts of the recording (times, media, notice) and its classification do not change here',
})
export type UpdateRecording = Static<typeof UpdateRecordingSchema>

export const ClassifySchema = Type.Object(
  {
    administrative_document: Type.Boolean({ description: '行政文書/公文書: used and managed organisationally' }),
    personal_information: Type.Boolean({ description: '個人情報: a person can be identified from it' }),
    record_category: RecordCategory,
    reason: Reason,
  },
  { $id: 'ClassifyRecording', additionalProperties: false },
)
export type Classify = Static<typeof ClassifySchema>

export const PlaceHoldSchema = Type.Object(
  {
    type: Type.Enum([...PLACEABLE_HOLD_TYPES], {
      description:
        'audit (監査・検査) and litigation (訴訟) last until released; appeal (不服申立て) and disclosure_request (開示請求) until one year after the day after their ' +
        'decision; other until released or its own date',
    }),
    reference: Type.String({ minLength: 1, maxLength: 200, description: 'The audit, lawsuit, appeal or request it is for (its number)' }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    until: Type.Optional(Type.String({ format: 'date', description: 'Only for type other (施行令第9条第2項): the last day it keeps the recording' })),
  },
  {
    $id: 'PlaceHold',
    additionalProperties: false,
    examples: [{ type: 'litigation', reference: '令和7年(ワ)第123号', note: '損害賠償請求訴訟の証拠として保全' }],
  },
)
export type PlaceHold = Static<typeof PlaceHoldSchema>

export const HoldDecisionSchema = Type.Object(
  { decision_date: Type.String({ format: 'date', description: 'The date of the decision on the appeal or disclosure request' }) },
  { $id: 'HoldDecision', additionalProperties: false },
)
export const ReleaseHoldSchema = Type.Object({ reason: Reason }, { $id: 'ReleaseHold', additionalProperties: false })

export const ProposeDispositionSchema = Type.Object(
  {
    action: Type.Enum(['dispose', 'transfer'], {
      description: 'Disposal (廃棄) or transfer to the archives (移管); must match the rule unless it says review',
    }),
    reason: Reason,
  },
  { $id: 'ProposeDisposition', additionalProperties: false },
)
export const DecideDispositionSchema = Type.Object({ reason: Type.Optional(Reason) }, { $id: 'DecideDisposition', additionalProperties: false })
export const CancelDispositionSchema = Type.Object({ reason: Reason }, { $id: 'CancelDisposition', additionalProperties: false })

export const GrantRequestSchema = Type.Object(
  {
    purpose: Type.Optional(Type.Enum([...ACCESS_PURPOSES], { description: 'Why the media is opened; recorded in the audit trail and the grant' })),
    derivative_id: Type.Optional(Type.String({ format: 'uuid', description: "A redacted copy of this recording: the grant opens the copy's media" })),
  },
  { $id: 'MediaAccessRequest', additionalProperties: false },
)

// ---------------------------------------------------------------------------------------------
// Responses

const RecordingClassificationSummarySchema = Type.Object(
  {
    administrative_document: Type.Boolean(),
    personal_information: Type.Boolean(),
    key: Type.Enum([...CLASSIFICATIONS], { description: "The retention schedule's classification for the two flags" }),
    record_category: Type.String(),
    provisional: Type.Boolean({ description: 'true: presumed at registration, no records manager has classified it yet' }),
    classified_at: Type.String({ format: 'date-time' }),
    classified_by: StaffRefSchema,
  },
  { $id: 'RecordingClassificationSummary', additionalProperties: false },
)

const RetentionSummarySchema = Type.Object(
  {
    policy_version_id: Uuid,
    start: DateString,
    end: Type.String({ format: 'date', description: "The schedule's end, never before review_until: kept through this day" }),
    review_until: ReviewUntil,
    action: Type.Enum(['dispose', 'transfer', 'review']),
    effective_end: Nullable(Type.String({ format: 'date', description: 'The later of the end and every hold; null while a hold without an end keeps it' })),
    on_hold: Type.Boolean({ description: 'A hold keeps the recording today' }),
  },
  { $id: 'RetentionSummary', additionalProperties: false },
)

export const RecordingSchema = Type.Object(
  {
    id: Uuid,
    case_id: Nullable(Uuid),
    org_unit_id: Uuid,
    media_kind: Type.Enum([...MEDIA_KINDS]),
    source: Type.Enum([...SOURCES]),
    recorded_by: Type.Enum([...RECORDED_BY]),
    recorder: Nullable(StaffRefSchema),
    started_at: Type.String({ format: 'date-time' }),
    ended_at: Type.String({ format: 'date-time' }),
    document_date: Type.String({
      format: 'date',
      description: '作成・取得日: the Tokyo date of started_at, or of registration for recordings a resident provided',
    }),
    storage_uri: Nullable(Type.String({ description: 'null when redacted (see redacted) or once the media is gone' })),
    sha256: Type.String(),
    size_bytes: Type.Integer(),
    media_type: Type.String(),
    title: Nullable(Type.String()),
    location: Nullable(Type.String()),
    description: Nullable(Type.String()),
    participants: Nullable(Type.Array(Type.String())),
    caller_number: Nullable(Type.String()),
    redacted: Type.Boolean({
      description:
        'storage_uri and the personal fields (description, participants, caller_number) are withheld: the caller lacks recordings:media_access on this ' +
        'recording',
    }),
    notice: Type.Object(
      { given: Type.Boolean(), method: Nullable(Type.Enum([...NOTICE_METHODS])), at: Nullable(Type.String({ format: 'date-time' })) },
      { additionalProperties: false },
    ),
    resident_permission: Nullable(Type.Boolean()),
    on_premises: Nullable(Type.Boolean()),
    notice_missing: Type.Boolean({ description: 'The recording policy in force required notice and none that counts was given' }),
    flags: Type.Array(Type.Enum([...RECORDING_FLAGS])),
    recording_policy_version_id: Type.String({ format: 'uuid', description: 'The recording policy the notice and resident-recording rules were judged by' }),
    classification: RecordingClassificationSummarySchema,
    retention: RetentionSummarySchema,
    status: Type.Enum([...RECORDING_STATUSES], {
      description: 'active; due (retention ended, no hold keeps it: awaiting disposition); disposed, transferred or purged (tombstones)',
    }),
    due_since: Nullable(DateString),
    pending_disposition_id: Nullable(Uuid),
    disposition_id: Nullable(Uuid),
    registered_by: StaffRefSchema,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    version: Type.Integer({ minimum: 1 }),
  },
  { $id: 'Recording', additionalProperties: false },
)
export type RecordingView = Static<typeof RecordingSchema>
export const RecordingPageSchema = pageOf(RecordingSchema, 'RecordingPage')

export const RecordingListQuerySchema = Type.Object(
  {
    case_id: Type.Optional(Type.String({ format: 'uuid' })),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'That unit and the units below it' })),
    classification: Type.Optional(Type.Enum([...CLASSIFICATIONS])),
    record_category: Type.Optional(RecordCategory),
    status: Type.Optional(Type.Enum([...RECORDING_STATUSES])),
    retention_end_before: Type.Optional(
      Type.String({ format: 'date', description: 'Effective end of retention before this date (recordings a hold keeps without an end never match)' }),
    ),
    retention_end_after: Type.Optional(
      Type.String({ format: 'date', description: 'Effective end after this date (recordings a hold keeps without an end always match)' }),
    ),
    on_hold: Type.Optional(Type.Boolean({ description: 'Whether a hold keeps the recording today' })),
    ...PageQuery,
  },
  { additionalProperties: false },
)

export const RecordingIdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export const HoldParams = Type.Object({ id: Uuid, holdId: Uuid }, { additionalProperties: false })

const ClassificationEntrySchema = Type.Object(
  {
    id: Uuid,
    administrative_document: Type.Boolean(),
    personal_information: Type.Boolean(),
    key: Type.Enum([...CLASSIFICATIONS]),
    record_category: Type.String(),
    reason: Type.String(),
    provisional: Type.Boolean(),
    classified_by: StaffRefSchema,
    classified_at: Type.String({ format: 'date-time' }),
    retention: Type.Object(
      {
        policy_version_id: Uuid,
        rule: RetentionRuleSchema,
        rule_match: Type.Enum(['exact', 'wildcard']),
        document_date: DateString,
        start: DateString,
        end: DateString,
        action: Type.Enum(['dispose', 'transfer', 'review']),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'RecordingClassification', additionalProperties: false },
)
export const ClassificationHistorySchema = Type.Object(
  { items: Type.Array(ClassificationEntrySchema, { description: 'Oldest first; the last is in force' }) },
  { $id: 'RecordingClassificationHistory', additionalProperties: false },
)

export const HoldSchema = Type.Object(
  {
    id: Uuid,
    recording_id: Uuid,
    type: Type.Enum([...HOLD_TYPES], { description: 'incident: kept while a leak incident (漏えい等) is handled; its reference is the incident id' }),
    reference: Type.String(),
    note: Nullable(Type.String()),
    status: Type.Enum([...HOLD_STATUSES], { description: 'active: keeps the recording today; lapsed: its end has passed; released' }),
    until: Nullable(Type.String({ format: 'date', description: 'The last day it keeps the recording; null while it lasts until released or decided' })),
    decision_date: Nullable(DateString),
    decision_recorded_by: Nullable(StaffRefSchema),
    decision_recorded_at: Nullable(Type.String({ format: 'date-time' })),
    placed_by: StaffRefSchema,
    placed_at: Type.String({ format: 'date-time' }),
    released_at: Nullable(Type.String({ format: 'date-time' })),
    released_by: Nullable(StaffRefSchema),
    release_reason: Nullable(Type.String()),
  },
  { $id: 'RecordingHold', additionalProperties: false },
)
export type HoldView = Static<typeof HoldSchema>
export const HoldListSchema = Type.Object(
  { items: Type.Array(HoldSchema, { description: 'Every hold ever placed, oldest first' }) },
  { $id: 'RecordingHoldList', additionalProperties: false },
)

const NEXT_STEPS = ['purge', 'disposal_due', 'transfer_due', 'review_due', 'held', 'awaiting_approval', 'none'] as const

export const RetentionExplanationSchema = Type.Object(
  {
    recording_id: Uuid,
    status: Type.Enum([...RECORDING_STATUSES]),
    classification: RecordingClassificationSummarySchema,
    document_date: DateString,
    document_date_basis: Type.Enum(['started_at', 'registered_at'], {
      description: 'Made by the organisation: when recording started; provided by a resident: when obtained',
    }),
    policy_version: Type.Object(
      { id: Uuid, effective_from: DateString },
      { additionalProperties: false, description: 'The retention schedule in force when it was classified' },
    ),
    rule: RetentionRuleSchema,
    rule_match: Type.Enum(['exact', 'wildcard'], { description: "exact: a rule for this record category; wildcard: the schedule's '*' rule" }),
    start: Type.String({ format: 'date', description: '起算日' }),
    schedule_end: Type.String({ format: 'date', description: "Last day under the schedule's rule" }),
    review_until: ReviewUntil,
    action: Type.Enum(['dispose', 'transfer', 'review']),
    holds: Type.Array(HoldSchema, { description: 'Holds that keep the recording today' }),
    effective_end: Nullable(Type.String({ format: 'date', description: 'Later of the schedule and every hold; null while a hold without an end keeps it' })),
    next: Type.Object(
      {
        step: Type.Enum([...NEXT_STEPS]),
        on: Nullable(Type.String({ format: 'date', description: 'When it happens (or happened); null when it waits on a person' })),
        detail: Type.String(),
      },
      { additionalProperties: false },
    ),
    explanation: Type.Array(Type.String(), { description: 'The reasoning, one step a line' }),
  },
  { $id: 'RetentionExplanation', additionalProperties: false },
)
export type RetentionExplanationView = Static<typeof RetentionExplanationSchema>

export const DispositionSchema = Type.Object(
  {
    id: Uuid,
    recording_id: Uuid,
    action: Type.Enum([...DISPOSITION_ACTIONS], {
      description: 'dispose (廃棄), transfer (移管), or purge (automatic, personal information that is no document)',
    }),
    status: Type.Enum([...DISPOSITION_STATUSES]),
    reason: Type.String(),
    proposed_by: StaffRefSchema,
    proposed_at: Type.String({ format: 'date-time' }),
    decided_by: Nullable(StaffRefSchema),
    decided_at: Nullable(Type.String({ format: 'date-time' })),
    decision_reason: Nullable(Type.String()),
    recording: Type.Object(
      {
        org_unit_id: Uuid,
        case_id: Nullable(Uuid),
        media_kind: Type.Enum([...MEDIA_KINDS]),
        media_type: Type.String(),
        sha256: Type.String({ description: 'The media that was disposed of' }),
        size_bytes: Type.Integer(),
        started_at: Type.String({ format: 'date-time' }),
        record_category: Type.String(),
        classification: Type.Enum([...CLASSIFICATIONS]),
      },
      { additionalProperties: false },
    ),
    due_under: Type.Object(
      {
        policy_version_id: Uuid,
        rule: RetentionRuleSchema,
        start: DateString,
        schedule_end: DateString,
        effective_end: DateString,
      },
      { additionalProperties: false, description: 'The rule that made it due' },
    ),
  },
  { $id: 'Disposition', additionalProperties: false },
)
export type DispositionView = Static<typeof DispositionSchema>
export const DispositionPageSchema = pageOf(DispositionSchema, 'DispositionPage')
export const DispositionListQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.Enum([...DISPOSITION_STATUSES])),
    action: Type.Optional(Type.Enum([...DISPOSITION_ACTIONS])),
    recording_id: Type.Optional(Type.String({ format: 'uuid' })),
    ...PageQuery,
  },
  { additionalProperties: false },
)
export const DispositionIdParams = Type.Object({ id: Uuid }, { additionalProperties: false })

const DueRecordingSchema = Type.Object(
  {
    recording_id: Uuid,
    case_id: Nullable(Uuid),
    org_unit_id: Uuid,
    media_kind: Type.Enum([...MEDIA_KINDS]),
    record_category: Type.String(),
    classification: Type.Enum([...CLASSIFICATIONS]),
    sha256: Type.String(),
    started_at: Type.String({ format: 'date-time' }),
    status: Type.Enum(['active', 'due']),
    schedule_end: DateString,
    review_until: ReviewUntil,
    effective_end: DateString,
    due_since: Type.String({ format: 'date', description: 'The day after the effective end' }),
    action_due: Type.Enum(['dispose', 'transfer', 'review', 'purge'], {
      description: 'dispose/transfer/review: by two records managers; purge: automatic by the next sweep (personal information that is no document)',
    }),
    retention_policy_version_id: Uuid,
    pending_disposition_id: Nullable(Uuid),
  },
  { $id: 'DueRecording', additionalProperties: false },
)
export type DueRecordingView = Static<typeof DueRecordingSchema>
export const DuePageSchema = pageOf(DueRecordingSchema, 'DueRecordingPage')
export const DueQuerySchema = Type.Object(
  {
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'That unit and the units below it' })),
    action: Type.Optional(Type.Enum(['dispose', 'transfer', 'review', 'purge'])),
    ...PageQuery,
  },
  { additionalProperties: false },
)
