import { Type, type Static } from 'typebox'
import { OfficeHolidaySchema } from '../calendar/calendar.schemas.ts'
import { PageQuery, pageOf } from '../kernel/pagination.ts'
import { MediaGrantSchema } from '../media-grants/media-grants.schemas.ts'
import { DISCLOSURE_KINDS } from '../policies/policies.schemas.ts'
import { StaffRefSchema } from '../staff/staff.repository.ts'
import { APPEAL_OUTCOMES, DISCLOSURE_DECISIONS, DISCLOSURE_STATUSES, DISCLOSURE_STEPS, ITEM_OUTCOMES } from './disclosure-status.ts'

const Uuid = Type.String({ format: 'uuid' })
const DateString = Type.String({ format: 'date', description: 'YYYY-MM-DD (Asia/Tokyo)' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])
const Reason = Type.String({ minLength: 1, maxLength: 2000 })
const PastDate = (description: string) => Type.String({ format: 'date', description: `${description} (YYYY-MM-DD, Asia/Tokyo; not after today)` })
const IDENTITY_METHODS = ['my_number_card', 'driving_licence', 'passport', 'residence_card', 'health_insurance_card', 'other'] as const
const RECORD_TYPES = ['recording', 'case'] as const

const KindSchema = Type.Enum([...DISCLOSURE_KINDS], {
  description:
    'personal_information: the requester asks for information about themselves (保有個人情報開示請求); ' +
    'information_disclosure: anyone asks for administrative documents (情報公開請求)',
})

// ---------------------------------------------------------------------------------------------
// Requests

const IdentityConfirmationSchema = Type.Object(
  {
    method: Type.Enum([...IDENTITY_METHODS], { description: 'The document the identity was confirmed with (本人確認)' }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'e.g. confirmed at the counter, or copies sent by post' })),
  },
  { $id: 'IdentityConfirmation', additionalProperties: false },
)

const RequesterInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    address: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    contact: Type.Optional(Type.String({ minLength: 1, maxLength: 254, description: 'Phone or e-mail' })),
    identity_confirmation: Type.Optional(IdentityConfirmationSchema),
  },
  {
    $id: 'DisclosureRequesterInput',
    additionalProperties: false,
    description:
      'The requester (個人情報): kept apart, redacted for roles without the right. identity_confirmation is required for personal_information ' +
      'requests, and only for them',
  },
)

export const CreateDisclosureRequestSchema = Type.Object(
  {
    kind: KindSchema,
    received_date: PastDate('The day the request reached the office; the period counts from the day after'),
    subject_matter: Type.String({ minLength: 1, maxLength: 10000, description: 'What is asked for, as the request says it' }),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'The handling unit; default yours' })),
    requester: RequesterInputSchema,
  },
  { $id: 'CreateDisclosureRequest', additionalProperties: false },
)
export type CreateDisclosureRequest = Static<typeof CreateDisclosureRequestSchema>

export const UpdateDisclosureRequestSchema = Type.Object(
  {
    subject_matter: Type.Optional(Type.String({ minLength: 1, maxLength: 10000 })),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'Another handling unit' })),
    requester: Type.Optional(RequesterInputSchema),
  },
  {
    $id: 'UpdateDisclosureRequest',
    additionalProperties: false,
    minProperties: 1,
    description: 'Descriptive fields; the kind and the received date govern the deadline and do not change',
  },
)
export type UpdateDisclosureRequest = Static<typeof UpdateDisclosureRequestSchema>

export const AddRecordSchema = Type.Object(
  {
    type: Type.Enum([...RECORD_TYPES]),
    id: Type.String({ format: 'uuid', description: 'The recording or case (in your reach)' }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { $id: 'AddDisclosureRecord', additionalProperties: false },
)
export type AddRecord = Static<typeof AddRecordSchema>

export const RemoveRecordSchema = Type.Object({ reason: Reason }, { $id: 'RemoveDisclosureRecord', additionalProperties: false })

export const RequestCorrectionSchema = Type.Object(
  { requested_on: PastDate('The day the office asked for the correction (補正を求めた日)'), reason: Reason },
  { $id: 'RequestCorrection', additionalProperties: false },
)
export type RequestCorrection = Static<typeof RequestCorrectionSchema>
export const ReceiveCorrectionSchema = Type.Object(
  {
    corrected_on: PastDate('The day the corrected request arrived (補正がなされた日)'),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { $id: 'ReceiveCorrection', additionalProperties: false },
)
export type ReceiveCorrection = Static<typeof ReceiveCorrectionSchema>
export const ExtendSchema = Type.Object(
  {
    days: Type.Integer({ minimum: 1, maximum: 60, description: "Added to the period; at most the policy's maximum for the kind" }),
    reason: Reason,
    decided_on: PastDate('The day the extension was decided; on or before the original deadline'),
    notified_on: PastDate('The day the requester was notified in writing of the new period and the reasons'),
  },
  { $id: 'ExtendDisclosureDeadline', additionalProperties: false },
)
export type Extend = Static<typeof ExtendSchema>

const DecisionItemInputSchema = Type.Object(
  {
    record_type: Type.Enum([...RECORD_TYPES]),
    record_id: Uuid,
    outcome: Type.Enum([...ITEM_OUTCOMES], { description: 'disclosed, partially_disclosed (a redacted copy) or withheld' }),
    derivative_id: Type.Optional(
      Type.String({ format: 'uuid', description: 'The redacted copy disclosed instead of the original (required for a partially disclosed recording)' }),
    ),
    grounds: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        maxItems: 20,
        description: 'Grounds for what was withheld (不開示事由, e.g. 個人情報保護法第78条第1項第2号); required unless disclosed',
      }),
    ),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { $id: 'DisclosureDecisionItemInput', additionalProperties: false },
)

export const DecideSchema = Type.Object(
  {
    decision: Type.Enum([...DISCLOSURE_DECISIONS]),
    decided_on: PastDate('The date of the decision (開示決定等の日)'),
    reason: Reason,
    items: Type.Array(DecisionItemInputSchema, {
      maxItems: 500,
      description:
        'What the decision says of each covered record: every covered record once for full, partial and non-disclosure; none for no_such_record and ' +
        'existence_neither_confirmed_nor_denied (naming a record would answer whether it exists)',
    }),
  },
  { $id: 'DecideDisclosureRequest', additionalProperties: false },
)
export type Decide = Static<typeof DecideSchema>

export const HandOverSchema = Type.Object(
  {
    record_type: Type.Enum([...RECORD_TYPES]),
    record_id: Uuid,
    derivative_id: Type.Optional(Type.String({ format: 'uuid', description: 'The redacted copy handed over, when the decision names one' })),
    method: Type.Enum(['media_grant', 'medium'], {
      description: "media_grant: a short-lived signed grant for the municipality's media server (recordings; issued now); medium: a copy on a medium",
    }),
    medium: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'For medium: what was handed over, e.g. DVD-R 1枚, 写し (紙) 3枚' })),
    handed_over_on: Type.Optional(PastDate('For medium: the day it was handed over or sent; a grant is issued today')),
  },
  { $id: 'DisclosureHandOverInput', additionalProperties: false },
)
export type HandOver = Static<typeof HandOverSchema>

export const WithdrawSchema = Type.Object(
  { withdrawn_on: PastDate('The day the requester withdrew the request (取下げ)'), reason: Reason },
  { $id: 'WithdrawDisclosureRequest', additionalProperties: false },
)
export type Withdraw = Static<typeof WithdrawSchema>
export const AppealSchema = Type.Object(
  { filed_on: PastDate('The day the appeal (審査請求) was filed'), reason: Reason },
  { $id: 'DisclosureAppeal', additionalProperties: false },
)
export type Appeal = Static<typeof AppealSchema>
export const AppealOutcomeSchema = Type.Object(
  {
    outcome: Type.Enum([...APPEAL_OUTCOMES], { description: 'dismissed (却下), rejected (棄却), granted (認容), partially_granted (一部認容)' }),
    decided_on: PastDate('The date of the decision on the appeal (裁決)'),
    reason: Reason,
  },
  { $id: 'DisclosureAppealOutcome', additionalProperties: false },
)
export type AppealOutcome = Static<typeof AppealOutcomeSchema>

// ---------------------------------------------------------------------------------------------
// Views

const RequesterSchema = Type.Object(
  {
    name: Type.String(),
    address: Nullable(Type.String()),
    contact: Nullable(Type.String()),
    identity_confirmation: Nullable(IdentityConfirmationSchema),
  },
  { $id: 'DisclosureRequester', additionalProperties: false },
)

const CoveredRecordSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'This entry (for removal)' }),
    type: Type.Enum([...RECORD_TYPES]),
    record_id: Uuid,
    hold_id: Nullable(Type.String({ format: 'uuid', description: 'The disclosure_request hold the request placed on the recording' })),
    appeal_hold_id: Nullable(Type.String({ format: 'uuid', description: 'The appeal hold, once an appeal was filed' })),
    note: Nullable(Type.String()),
    added_by: StaffRefSchema,
    added_at: Type.String({ format: 'date-time' }),
    removed_at: Nullable(Type.String({ format: 'date-time' })),
    removed_by: Nullable(StaffRefSchema),
    removal_reason: Nullable(Type.String()),
  },
  { $id: 'DisclosureCoveredRecord', additionalProperties: false },
)

const CorrectionSchema = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    requested_on: DateString,
    reason: Type.String(),
    requested_by: StaffRefSchema,
    corrected_on: Nullable(DateString),
    received_by: Nullable(StaffRefSchema),
    excluded_days: Nullable(Type.Integer({ description: 'corrected_on − requested_on: days not counted; null while open' })),
  },
  { $id: 'DisclosureCorrection', additionalProperties: false },
)

const DecisionItemSchema = Type.Object(
  {
    record_type: Type.Enum([...RECORD_TYPES]),
    record_id: Uuid,
    outcome: Type.Enum([...ITEM_OUTCOMES]),
    derivative_id: Nullable(Uuid),
    grounds: Type.Array(Type.String()),
    note: Nullable(Type.String()),
  },
  { $id: 'DisclosureDecisionItem', additionalProperties: false },
)

const HandoverViewSchema = Type.Object(
  {
    id: Uuid,
    record_type: Type.Enum([...RECORD_TYPES]),
    record_id: Uuid,
    derivative_id: Nullable(Uuid),
    method: Type.Enum(['media_grant', 'medium']),
    medium: Nullable(Type.String()),
    grant_jti: Nullable(Type.String({ format: 'uuid', description: 'The grant issued (its token is shown once, when issued)' })),
    grant_expires_at: Nullable(Type.String({ format: 'date-time' })),
    handed_over_on: DateString,
    recorded_by: StaffRefSchema,
    recorded_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'DisclosureHandover', additionalProperties: false },
)

export const DisclosureRequestSchema = Type.Object(
  {
    id: Uuid,
    kind: KindSchema,
    received_date: DateString,
    subject_matter: Type.String(),
    org_unit_id: Type.String({ format: 'uuid', description: 'The handling unit' }),
    status: Type.Enum([...DISCLOSURE_STATUSES]),
    requester: Nullable(RequesterSchema),
    requester_redacted: Type.Boolean({ description: 'The requester is withheld: the caller lacks disclosure_requests:read_personal' }),
    deadline: Type.Object(
      {
        due_date: Nullable(Type.String({ format: 'date', description: 'The last day to decide; null while a correction is outstanding' })),
        warn_from: Nullable(DateString),
        suspended: Type.Boolean({ description: 'A correction is outstanding: the clock stands still' }),
        policy_version_id: Type.String({ format: 'uuid', description: 'The disclosure policy in force on the received date' }),
      },
      { additionalProperties: false, description: 'GET …/deadline explains it' },
    ),
    corrections: Type.Array(CorrectionSchema),
    extension: Nullable(
      Type.Object({ days: Type.Integer(), reason: Type.String(), decided_on: DateString, notified_on: DateString }, { additionalProperties: false }),
    ),
    records: Type.Array(CoveredRecordSchema, { description: 'Every record the request covers or covered (removed ones with why)' }),
    decision: Nullable(
      Type.Object(
        { decision: Type.Enum([...DISCLOSURE_DECISIONS]), decided_on: DateString, reason: Type.String(), items: Type.Array(DecisionItemSchema) },
        { additionalProperties: false },
      ),
    ),
    handovers: Type.Array(HandoverViewSchema),
    disclosed_on: Nullable(Type.String({ format: 'date', description: 'The first hand-over' })),
    withdrawn_on: Nullable(DateString),
    appeal: Nullable(
      Type.Object(
        { filed_on: DateString, outcome: Nullable(Type.Enum([...APPEAL_OUTCOMES])), decided_on: Nullable(DateString) },
        { additionalProperties: false },
      ),
    ),
    allowed_steps: Type.Array(Type.Enum([...DISCLOSURE_STEPS]), { description: 'The steps the state machine allows from here' }),
    created_by: StaffRefSchema,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    version: Type.Integer({ minimum: 1 }),
  },
  { $id: 'DisclosureRequest', additionalProperties: false },
)
export type DisclosureRequestView = Static<typeof DisclosureRequestSchema>
export const DisclosureRequestPageSchema = pageOf(DisclosureRequestSchema, 'DisclosureRequestPage')

export const DisclosureRequestListQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.Enum([...DISCLOSURE_STATUSES])),
    kind: Type.Optional(KindSchema),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: 'Handled by that unit or a unit below it' })),
    received_from: Type.Optional(Type.String({ format: 'date', description: 'Received on or after' })),
    received_to: Type.Optional(Type.String({ format: 'date', description: 'Received on or before' })),
    record_id: Type.Optional(Type.String({ format: 'uuid', description: 'Covering this recording or case' })),
    due_before: Type.Optional(
      Type.String({
        format: 'date',
        description: 'The due list: undecided requests whose deadline runs and falls before this date, soonest first (others are left out)',
      }),
    ),
    ...PageQuery,
  },
  { additionalProperties: false },
)

export const DisclosureRequestIdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export const CoveredRecordParams = Type.Object({ id: Uuid, entryId: Uuid }, { additionalProperties: false })

export const HandoverResultSchema = Type.Object(
  {
    handover: HandoverViewSchema,
    grant: Nullable(MediaGrantSchema),
    request: DisclosureRequestSchema,
  },
  { $id: 'DisclosureHandoverResult', additionalProperties: false },
)

const StepSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    action: Type.String({ description: 'A step of the state machine, or record_added / record_removed / created / updated' }),
    from_status: Nullable(Type.Enum([...DISCLOSURE_STATUSES])),
    to_status: Type.Enum([...DISCLOSURE_STATUSES]),
    on_date: Nullable(Type.String({ format: 'date', description: 'The date the step took effect (e.g. the decision date)' })),
    reason: Nullable(Type.String()),
    details: Type.Record(Type.String(), Type.Unknown()),
    actor: StaffRefSchema,
    recorded_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'DisclosureRequestStep', additionalProperties: false },
)
export const StepListSchema = Type.Object(
  { items: Type.Array(StepSchema, { description: 'Oldest first' }) },
  { $id: 'DisclosureRequestSteps', additionalProperties: false },
)
export type StepView = Static<typeof StepSchema>

export const DeadlineExplanationSchema = Type.Object(
  {
    request_id: Uuid,
    kind: KindSchema,
    status: Type.Enum([...DISCLOSURE_STATUSES]),
    received_date: DateString,
    counted_from: Type.String({ format: 'date', description: 'The day after receipt (初日不算入, 民法第140条)' }),
    policy_version: Type.Object(
      { id: Uuid, effective_from: DateString },
      { additionalProperties: false, description: 'The disclosure policy in force on the received date' },
    ),
    rule: Type.Object(
      {
        decision_period_days: Type.Integer(),
        max_extension_days: Type.Integer(),
        warning_days: Type.Integer(),
        holidays: Type.Enum(['disclosure_policy', 'calendar_policy'], {
          description: 'Who decides whether a deadline on an office holiday moves: the disclosure policy, or (absent there) the calendar policy',
        }),
      },
      { additionalProperties: false },
    ),
    corrections: Type.Array(CorrectionSchema),
    excluded_days: Type.Integer({ description: 'Days of finished correction rounds, not counted' }),
    suspended: Type.Boolean({ description: 'A correction is outstanding: the deadline is unknown until the corrected request arrives' }),
    original_due_date: Nullable(Type.String({ format: 'date', description: 'Without the extension; the extension must be decided by then' })),
    extension: Nullable(
      Type.Object({ days: Type.Integer(), reason: Type.String(), decided_on: DateString, notified_on: DateString }, { additionalProperties: false }),
    ),
    period_days: Nullable(Type.Integer({ description: 'Days from the received date to the raw due date: the period, excluded days and the extension' })),
    raw_due_date: Nullable(DateString),
    raw_due_date_is_holiday: Nullable(Type.Boolean()),
    roll_forward: Nullable(Type.Boolean({ description: 'Whether a due date on an office holiday moves to the next working day' })),
    due_date: Nullable(Type.String({ format: 'date', description: 'The last day to decide' })),
    skipped: Type.Array(OfficeHolidaySchema, { description: 'The office holidays the due date moved over' }),
    calendar_version_ids: Type.Array(Uuid),
    warn_from: Nullable(Type.String({ format: 'date', description: 'deadline_approaching is published from this day' })),
    decided_on: Nullable(DateString),
    state: Type.Enum(['running', 'suspended', 'decided_in_time', 'decided_late', 'overdue', 'closed'], {
      description: 'running (undecided, due date ahead), overdue (undecided, passed), decided in time or late, suspended, closed (withdrawn)',
    }),
    explanation: Type.Array(Type.String(), { description: 'The reasoning, one step a line' }),
  },
  { $id: 'DisclosureDeadline', additionalProperties: false },
)
export type DeadlineExplanationView = Static<typeof DeadlineExplanationSchema>
