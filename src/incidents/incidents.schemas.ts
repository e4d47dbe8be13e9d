import { Type, type Static } from 'typebox'
import { PageQuery, pageOf } from '../kernel/pagination.ts'
import { StaffRefSchema } from '../staff/staff.repository.ts'

/**
 * Leak incidents (漏えい等): the place where the first seed's five principles happen, with the
 * reporting duty of 個人情報保護法第68条. Request and response shapes.
 */

const Uuid = Type.String({ format: 'uuid' })
const DateString = Type.String({ format: 'date', description: 'YYYY-MM-DD (Asia/Tokyo)' })
const Instant = Type.String({ format: 'date-time' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])
const subject = (description = 'A staff member (their subject, as in tokens)') =>
  Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S(.*\\S)?$', description, examples: ['staff-0042'] })
const Subject = subject()
const reason = (description?: string) => Type.String({ minLength: 1, maxLength: 2000, ...(description ? { description } : {}) })
const Reason = reason()

const INCIDENT_KINDS = ['leak', 'loss', 'damage', 'unauthorised_use'] as const
const TEAM_ROLES = ['legal', 'public_relations', 'technical', 'records'] as const
const REPORT_REASONS = [
  'sensitive_personal_information',
  'financial_harm_risk',
  'wrongful_purpose',
  'persons_over_threshold',
  'ordinance_sensitive_information',
] as const
const AUDIENCES = ['press', 'public', 'persons_affected', 'commission', 'partner_organisation', 'other'] as const
const ACTION_KINDS = ['containment', 'recurrence_prevention'] as const
const ACTION_STATUSES = ['open', 'in_progress', 'done', 'cancelled'] as const

const Kind = Type.Enum([...INCIDENT_KINDS], { description: 'leak (漏えい), loss (滅失), damage (毀損), unauthorised use (不正利用)' })
const DataItems = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  maxItems: 50,
  uniqueItems: true,
  description: 'The data items involved, e.g. 氏名, 住所, 電話番号, 音声',
})
const PersonsAffected = Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'Number of persons affected; omit or null while unknown' })
const PersonsBasis = Type.Enum(['estimated', 'confirmed'])

const ReportingFactsFields = {
  sensitive_personal_information: Type.Boolean({ description: '要配慮個人情報 involved (or possibly)' }),
  financial_harm_risk: Type.Boolean({ description: 'Financial harm may result from misuse (財産的被害のおそれ)' }),
  wrongful_purpose_suspected: Type.Boolean({ description: 'A wrongful purpose is suspected (不正の目的のおそれ): the final report gets the longer period' }),
  ordinance_sensitive_categories: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', examples: ['sexual_orientation'] }), {
    maxItems: 100,
    uniqueItems: true,
    description: "Codes of the response plan's ordinance-sensitive categories (条例要配慮個人情報) involved",
  }),
  strongly_encrypted: Type.Boolean({ description: 'The data was protected by strong encryption or equivalent measures (高度な暗号化等): exempts' }),
}
const ReportingFactsSchema = Type.Object(ReportingFactsFields, {
  $id: 'IncidentReportingFacts',
  additionalProperties: false,
  description: 'The facts the reporting duty turns on (規則第43条)',
})
const ReportingFactsInput = Type.Partial(Type.Object(ReportingFactsFields, { additionalProperties: false }), {
  additionalProperties: false,
  description: 'The facts known so far; those left out are false (none)',
})
const ReportingFactsPatch = Type.Partial(Type.Object(ReportingFactsFields, { additionalProperties: false }), {
  additionalProperties: false,
  minProperties: 1,
  description: 'The facts to change; the others stay as they are',
})

const RecordRef = Type.Object(
  { type: Type.Enum(['recording', 'case']), id: Uuid },
  { additionalProperties: false, description: 'A recording or a case the leak concerns' },
)
const RecordRefs = Type.Array(RecordRef, { minItems: 1, maxItems: 100 })
const TeamMemberInput = Type.Object(
  { subject: Subject, role: Type.Enum([...TEAM_ROLES], { description: 'legal, public_relations (広報), technical, records' }) },
  { $id: 'IncidentTeamMemberInput', additionalProperties: false },
)

export const CreateIncidentSchema = Type.Object(
  {
    kind: Kind,
    summary: Type.String({ minLength: 1, maxLength: 10000, description: 'What happened' }),
    discovery: Type.String({ minLength: 1, maxLength: 5000, description: 'How it was discovered, and by whom' }),
    occurred_at: Type.Optional(Instant),
    aware_at: Type.String({ format: 'date-time', description: '知った日時: when the office became aware; the reporting clock starts on its Tokyo date' }),
    drill: Type.Optional(Type.Boolean({ description: '訓練: runs the whole workflow, never reportable, never holds records; listed apart' })),
    org_unit_id: Type.Optional(Type.String({ format: 'uuid', description: "The unit opening it; default the caller's" })),
    owner: Type.Optional(subject("窓口: default the response plan's point of contact, else the caller")),
    data_items: Type.Optional(DataItems),
    persons_affected: Type.Optional(Nullable(PersonsAffected)),
    persons_affected_basis: Type.Optional(PersonsBasis),
    reporting_facts: Type.Optional(ReportingFactsInput),
    records: Type.Optional(RecordRefs),
    team: Type.Optional(Type.Array(TeamMemberInput, { maxItems: 50 })),
  },
  { $id: 'CreateIncident', additionalProperties: false },
)
export type CreateIncident = Static<typeof CreateIncidentSchema>

export const UpdateIncidentSchema = Type.Object(
  {
    kind: Type.Optional(Kind),
    summary: Type.Optional(Type.String({ minLength: 1, maxLength: 10000 })),
    discovery: Type.Optional(Type.String({ minLength: 1, maxLength: 5000 })),
    occurred_at: Type.Optional(Nullable(Instant)),
    aware_at: Type.Optional(Instant),
    data_items: Type.Optional(DataItems),
    persons_affected: Type.Optional(Nullable(PersonsAffected)),
    persons_affected_basis: Type.Optional(Nullable(PersonsBasis)),
    reporting_facts: Type.Optional(ReportingFactsPatch),
  },
  {
    $id: 'UpdateIncident',
    additionalProperties: false,
    minProperties: 1,
    description: 'Descriptive fields and facts; the reporting judgement and deadlines follow. Owner, team and records change by their own requests.',
  },
)
export type UpdateIncident = Static<typeof UpdateIncidentSchema>

export const LinkRecordsSchema = Type.Object({ records: RecordRefs }, { $id: 'LinkIncidentRecords', additionalProperties: false })
export const HandoverSchema = Type.Object({ to: Subject, reason: Reason }, { $id: 'IncidentHandoverInput', additionalProperties: false })
export const CloseIncidentSchema = Type.Object(
  {
    reason: Reason,
    open_actions_reason: Type.Optional(reason('Required to close while actions are still open: why')),
  },
  { $id: 'CloseIncident', additionalProperties: false },
)
export const ReleaseIncidentHoldsSchema = Type.Object({ reason: Reason }, { $id: 'ReleaseIncidentHolds', additionalProperties: false })

const DeadlineSchema = Type.Object(
  {
    days: Type.Integer(),
    day_one: DateString,
    raw_due_date: Type.String({ format: 'date', description: 'Day `days`, counting day_one as day 1' }),
    due_date: Type.String({ format: 'date', description: 'After moving past office holidays where the plan says so' }),
    moved_over: Type.Array(DateString, { description: 'Office holidays the due date moved over' }),
    calendar_version_ids: Type.Array(Uuid),
    status: Type.Enum(['pending', 'due', 'overdue', 'met'], {
      description: 'met: the report was filed (a final report meets the first-report deadline too); due: within the warning days; overdue: past',
    }),
    filed_on: Nullable(DateString),
  },
  { $id: 'IncidentDeadline', additionalProperties: false },
)

const JudgementSchema = Type.Object(
  {
    reportable: Type.Boolean({ description: 'Whether the Commission must be told and the persons notified (第68条)' }),
    reasons: Type.Array(Type.Enum([...REPORT_REASONS]), { description: 'Every ground met (規則第43条), exempt or not' }),
    exemption: Nullable(Type.Enum(['strong_encryption', 'drill'])),
    policy_version_id: Type.String({ format: 'uuid', description: 'The incident_response plan in force on the awareness date' }),
    judged_at: Instant,
  },
  { $id: 'IncidentJudgementSummary', additionalProperties: false },
)

const TeamMemberSchema = Type.Object(
  {
    id: Uuid,
    member: StaffRefSchema,
    role: Type.Enum([...TEAM_ROLES]),
    added_by: StaffRefSchema,
    added_at: Instant,
  },
  { $id: 'IncidentTeamMember', additionalProperties: false },
)

const LinkedRecordSchema = Type.Object(
  {
    type: Type.Enum(['recording', 'case']),
    id: Uuid,
    org_unit_id: Uuid,
    hold_id: Nullable(Type.String({ format: 'uuid', description: 'The incident hold on a recording; null for cases, drills and recordings already gone' })),
    linked_by: StaffRefSchema,
    linked_at: Instant,
  },
  { $id: 'IncidentRecord', additionalProperties: false },
)

const DisclosureSchema = Type.Object(
  {
    id: Uuid,
    decision: Type.Enum(['publish', 'withhold']),
    exception: Nullable(Type.Enum(['publication_would_widen_damage'])),
    reason: Type.String(),
    published_on: Nullable(DateString),
    channel: Nullable(Type.String()),
    decided_by: StaffRefSchema,
    decided_at: Instant,
  },
  { $id: 'IncidentDisclosureDecision', additionalProperties: false },
)

const ReportSchema = Type.Object(
  {
    id: Uuid,
    kind: Type.Enum(['first', 'final'], { description: 'first: 速報; final: 確報' }),
    submitted_on: DateString,
    content_summary: Nullable(Type.String()),
    reference_number: Nullable(Type.String({ description: "The Commission's reference (受付番号)" })),
    recorded_by: StaffRefSchema,
    recorded_at: Instant,
  },
  { $id: 'IncidentReport', additionalProperties: false },
)

const NotificationSchema = Type.Object(
  {
    id: Uuid,
    notified_on: Nullable(DateString),
    method: Nullable(Type.Enum(['letter', 'email', 'phone', 'in_person', 'other'])),
    persons: Nullable(Type.Integer()),
    not_possible_reason: Nullable(Type.Enum(['notification_difficult', 'non_disclosure_information'])),
    alternative: Nullable(Type.Enum(['publication', 'inquiry_desk', 'other'])),
    alternative_detail: Nullable(Type.String()),
    note: Nullable(Type.String()),
    recorded_by: StaffRefSchema,
    recorded_at: Instant,
  },
  { $id: 'IncidentNotification', additionalProperties: false },
)

export const IncidentSchema = Type.Object(
  {
    id: Uuid,
    org_unit_id: Uuid,
    kind: Kind,
    drill: Type.Boolean(),
    status: Type.Enum(['open', 'closed']),
    summary: Nullable(Type.String({ description: 'null when redacted' })),
    discovery: Nullable(Type.String({ description: 'null when redacted' })),
    personal_data_redacted: Type.Boolean({ description: 'Free text withheld from this caller (auditors): what happened, facts, report contents' }),
    occurred_at: Nullable(Instant),
    aware_at: Instant,
    aware_date: Type.String({ format: 'date', description: 'The Tokyo date of aware_at: 知った日' }),
    data_items: Type.Array(Type.String()),
    persons_affected: Nullable(Type.Integer()),
    persons_affected_basis: Nullable(PersonsBasis),
    reporting_facts: ReportingFactsSchema,
    judgement: JudgementSchema,
    deadlines: Nullable(
      Type.Object(
        {
          day_one_rule: Type.Enum(['awareness_date', 'day_after_awareness']),
          roll_forward_office_holidays: Type.Boolean(),
          first_report: DeadlineSchema,
          final_report: DeadlineSchema,
        },
        { additionalProperties: false, description: 'Only while reportable' },
      ),
    ),
    owner: StaffRefSchema,
    opened_by: StaffRefSchema,
    team: Type.Array(TeamMemberSchema, { description: 'Current members' }),
    records: Type.Array(LinkedRecordSchema),
    disclosure: Nullable(DisclosureSchema),
    reports: Type.Array(ReportSchema),
    notifications: Type.Array(NotificationSchema),
    open_actions: Type.Integer({ description: 'Actions open or in progress' }),
    contacts: Type.Array(Type.Object({ role: Type.String(), name: Type.String(), contact: Type.String() }, { additionalProperties: false }), {
      description: 'Whom the response plan says to notify',
    }),
    closed_at: Nullable(Instant),
    closed_by: Nullable(StaffRefSchema),
    close_reason: Nullable(Type.String()),
    open_actions_reason: Nullable(Type.String()),
    created_at: Instant,
    updated_at: Instant,
    version: Type.Integer(),
  },
  { $id: 'Incident', additionalProperties: false },
)
export type IncidentView = Static<typeof IncidentSchema>
export const IncidentPageSchema = pageOf(IncidentSchema, 'IncidentPage')

export const IncidentListQuerySchema = Type.Object(
  {
    drill: Type.Optional(Type.Boolean({ description: 'true: drills only; default false: real incidents only (drills are listed apart)' })),
    status: Type.Optional(Type.Enum(['open', 'closed'])),
    kind: Type.Optional(Kind),
    reportable: Type.Optional(Type.Boolean()),
    owner: Type.Optional(Subject),
    record_id: Type.Optional(Type.String({ format: 'uuid', description: 'Incidents that link this recording or case' })),
    aware_from: Type.Optional(Instant),
    aware_to: Type.Optional(Instant),
    ...PageQuery,
  },
  { additionalProperties: false },
)

export const IncidentIdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export const ActionParams = Type.Object({ id: Uuid, actionId: Uuid }, { additionalProperties: false })
export const MemberParams = Type.Object({ id: Uuid, memberId: Uuid }, { additionalProperties: false })

export const JudgementHistorySchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          seq: Type.Integer(),
          reportable: Type.Boolean(),
          reasons: Type.Array(Type.Enum([...REPORT_REASONS])),
          exemption: Nullable(Type.Enum(['strong_encryption', 'drill'])),
          facts: Type.Record(Type.String(), Type.Unknown(), { description: 'The facts it was judged on' }),
          changed_facts: Type.Array(Type.String(), { description: 'What changed since the previous judgement' }),
          policy_version_id: Uuid,
          first_report_due: Nullable(DateString),
          final_report_due: Nullable(DateString),
          judged_by: StaffRefSchema,
          judged_at: Instant,
        },
        { additionalProperties: false },
      ),
      { description: 'Oldest first: every change of the judgement, who made it and on which facts' },
    ),
  },
  { $id: 'IncidentJudgementHistory', additionalProperties: false },
)

export const HandoverListSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        { id: Uuid, from: StaffRefSchema, to: StaffRefSchema, reason: Type.String(), handed_over_by: StaffRefSchema, handed_over_at: Instant },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'IncidentHandoverList', additionalProperties: false },
)

export const AddTeamMemberSchema = TeamMemberInput

// ---- The chronological record ----

export const CreateEntrySchema = Type.Object(
  {
    type: Type.Enum(['fact', 'correction', 'statement'], {
      description: 'fact; correction (names the entry it corrects); statement to the outside (relies on confirmed facts)',
    }),
    text: Type.String({ minLength: 1, maxLength: 10000 }),
    occurred_at: Type.Optional(Type.String({ format: 'date-time', description: 'When it happened or was said; default now' })),
    confirmed: Type.Optional(Type.Boolean({ description: 'Facts and corrections: confirmed (確認済) or not (未確認). Not for statements' })),
    corrects_entry_id: Type.Optional(Type.String({ format: 'uuid', description: 'Corrections: the fact or correction it corrects' })),
    relies_on: Type.Optional(
      Type.Array(Uuid, { minItems: 1, maxItems: 50, uniqueItems: true, description: 'Statements: the confirmed, current facts it relies on' }),
    ),
    audience: Type.Optional(Type.Enum([...AUDIENCES], { description: 'Statements: to whom' })),
  },
  { $id: 'CreateIncidentEntry', additionalProperties: false },
)
export type CreateEntry = Static<typeof CreateEntrySchema>

const EntrySchema = Type.Object(
  {
    id: Uuid,
    incident_id: Uuid,
    seq: Type.Integer(),
    type: Type.Enum(['fact', 'correction', 'statement']),
    occurred_at: Instant,
    recorded_at: Instant,
    actor: StaffRefSchema,
    text: Nullable(Type.String({ description: 'null when redacted' })),
    redacted: Type.Boolean(),
    confirmed: Nullable(Type.Boolean({ description: 'null for statements' })),
    corrects_entry_id: Nullable(Uuid),
    corrected_by: Type.Array(Uuid, { description: 'Later corrections of this entry: a corrected fact is no longer current' }),
    relies_on: Type.Array(Uuid),
    audience: Nullable(Type.Enum([...AUDIENCES])),
  },
  { $id: 'IncidentEntry', additionalProperties: false },
)
export type EntryView = Static<typeof EntrySchema>
export { EntrySchema as IncidentEntrySchema }
export const EntryPageSchema = pageOf(EntrySchema, 'IncidentEntryPage')
export const EntryListQuerySchema = Type.Object({ ...PageQuery }, { additionalProperties: false })

// ---- Actions ----

export const CreateActionSchema = Type.Object(
  {
    kind: Type.Enum([...ACTION_KINDS], { description: 'containment (被害拡大防止) or recurrence prevention (再発防止)' }),
    title: Type.String({ minLength: 1, maxLength: 500 }),
    owner: Subject,
    due_on: DateString,
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { $id: 'CreateIncidentAction', additionalProperties: false },
)
export type CreateAction = Static<typeof CreateActionSchema>

export const UpdateActionSchema = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    owner: Type.Optional(Subject),
    due_on: Type.Optional(DateString),
    status: Type.Optional(Type.Enum([...ACTION_STATUSES])),
    note: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2000 }))),
  },
  { $id: 'UpdateIncidentAction', additionalProperties: false, minProperties: 1 },
)
export type UpdateAction = Static<typeof UpdateActionSchema>

export const ActionSchema = Type.Object(
  {
    id: Uuid,
    incident_id: Uuid,
    kind: Type.Enum([...ACTION_KINDS]),
    title: Type.String(),
    owner: StaffRefSchema,
    due_on: DateString,
    status: Type.Enum([...ACTION_STATUSES]),
    overdue: Type.Boolean({ description: 'Open or in progress after its due date' }),
    note: Nullable(Type.String()),
    created_by: StaffRefSchema,
    created_at: Instant,
    updated_at: Instant,
    completed_at: Nullable(Instant),
    version: Type.Integer(),
  },
  { $id: 'IncidentAction', additionalProperties: false },
)
export type ActionView = Static<typeof ActionSchema>
export const ActionListSchema = Type.Object({ items: Type.Array(ActionSchema) }, { $id: 'IncidentActionList', additionalProperties: false })

// ---- Disclosure, reports, notifications ----

export const DecideDisclosureSchema = Type.Object(
  {
    decision: Type.Enum(['publish', 'withhold']),
    exception: Type.Optional(
      Type.Enum(['publication_would_widen_damage'], {
        description: "Required to withhold: the seed's only exception (情報公開により被害の拡大が見込まれるような特殊なケース)",
      }),
    ),
    reason: Reason,
    published_on: Type.Optional(DateString),
    channel: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'e.g. the municipal website, a press release' })),
  },
  { $id: 'DecideIncidentDisclosure', additionalProperties: false },
)
export type DecideDisclosure = Static<typeof DecideDisclosureSchema>

export const FileReportSchema = Type.Object(
  {
    kind: Type.Enum(['first', 'final'], { description: 'first: 速報; final: 確報' }),
    submitted_on: DateString,
    content_summary: Type.String({ minLength: 1, maxLength: 10000 }),
    reference_number: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { $id: 'FileIncidentReport', additionalProperties: false },
)
export type FileReport = Static<typeof FileReportSchema>

export const RecordNotificationSchema = Type.Object(
  {
    notified_on: Type.Optional(DateString),
    method: Type.Optional(Type.Enum(['letter', 'email', 'phone', 'in_person', 'other'])),
    persons: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000 })),
    not_possible_reason: Type.Optional(
      Type.Enum(['notification_difficult', 'non_disclosure_information'], {
        description: '第68条第2項: notification difficult and an alternative taken (第1号), or the information is non-disclosable (第2号, 第78条第1項)',
      }),
    ),
    alternative: Type.Optional(Type.Enum(['publication', 'inquiry_desk', 'other'], { description: 'What was done instead (e.g. 公表)' })),
    alternative_detail: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  {
    $id: 'RecordIncidentNotification',
    additionalProperties: false,
    description: 'Either notified_on, method and persons; or not_possible_reason (with alternative when notification was difficult)',
  },
)
export type RecordNotification = Static<typeof RecordNotificationSchema>
