import type { ColumnType, Generated } from 'kysely'

type IncidentKind = 'leak' | 'loss' | 'damage' | 'unauthorised_use'
type IncidentStatus = 'open' | 'closed'
export type TeamRole = 'legal' | 'public_relations' | 'technical' | 'records'
export type ReportReason =
  | 'sensitive_personal_information'
  | 'financial_harm_risk'
  | 'wrongful_purpose'
  | 'persons_over_threshold'
  | 'ordinance_sensitive_information'
export type Exemption = 'strong_encryption' | 'drill'
export type RecordType = 'recording' | 'case'
type EntryType = 'fact' | 'correction' | 'statement'
type Audience = 'press' | 'public' | 'persons_affected' | 'commission' | 'partner_organisation' | 'other'
type ActionKind = 'containment' | 'recurrence_prevention'
type ActionStatus = 'open' | 'in_progress' | 'done' | 'cancelled'
type ReportKind = 'first' | 'final'
export type DeadlineKind = 'first_report' | 'final_report'

type Json<T = unknown> = ColumnType<T, string, string>

/** How a deadline was counted (stored with the incident, shown as it was decided). */
export interface CountedDeadline {
  days: number
  day_one: string
  raw_due_date: string
  due_date: string
  /** Office holidays the due date moved over. */
  moved_over: string[]
  calendar_version_ids: string[]
}

export interface DeadlinesDoc {
  day_one_rule: 'awareness_date' | 'day_after_awareness'
  roll_forward_office_holidays: boolean
  /** From the plan: incident.report_due is published this many days ahead (read by the warnings statement). */
  warn_days_before: number
  first_report: CountedDeadline
  final_report: CountedDeadline
}

export interface IncidentsTable {
  id: string
  org_unit_id: string
  kind: IncidentKind
  drill: boolean
  status: Generated<IncidentStatus>
  summary: string
  discovery: string
  occurred_at: Date | null
  aware_at: Date
  data_items: string[]
  persons_affected: number | null
  persons_affected_basis: 'estimated' | 'confirmed' | null
  sensitive_personal_information: boolean
  financial_harm_risk: boolean
  wrongful_purpose_suspected: boolean
  ordinance_sensitive_categories: string[]
  strongly_encrypted: boolean
  reportable: boolean
  report_reasons: ReportReason[]
  exemption: Exemption | null
  response_policy_id: string
  first_report_due: string | null
  final_report_due: string | null
  deadlines: Json<DeadlinesDoc | null>
  owner: string
  opened_by: string
  closed_at: Date | null
  closed_by: string | null
  close_reason: string | null
  open_actions_reason: string | null
  created_at: Generated<Date>
  updated_at: Generated<Date>
  version: Generated<number>
}

interface IncidentTeamTable {
  id: string
  incident_id: string
  subject: string
  role: TeamRole
  added_by: string
  added_at: Generated<Date>
  removed_by: string | null
  removed_at: Date | null
}

interface IncidentRecordsTable {
  incident_id: string
  record_type: RecordType
  record_id: string
  org_unit_id: string
  hold_id: string | null
  linked_by: string
  linked_at: Generated<Date>
}

export interface IncidentJudgementsTable {
  id: string
  incident_id: string
  seq: number
  reportable: boolean
  reasons: ReportReason[]
  exemption: Exemption | null
  facts: Json<Record<string, unknown>>
  changed_facts: string[]
  policy_version_id: string
  first_report_due: string | null
  final_report_due: string | null
  judged_by: string
  judged_at: Generated<Date>
}

export interface IncidentHandoversTable {
  id: string
  incident_id: string
  from_owner: string
  to_owner: string
  reason: string
  handed_over_by: string
  handed_over_at: Generated<Date>
}

export interface IncidentEntriesTable {
  id: string
  incident_id: string
  seq: number
  type: EntryType
  occurred_at: Date
  recorded_at: Generated<Date>
  actor: string
  text: string
  confirmed: boolean | null
  corrects_entry_id: string | null
  relies_on: string[]
  audience: Audience | null
}

export interface IncidentActionsTable {
  id: string
  incident_id: string
  kind: ActionKind
  title: string
  owner: string
  due_on: string
  status: Generated<ActionStatus>
  note: string | null
  created_by: string
  created_at: Generated<Date>
  updated_at: Generated<Date>
  completed_at: Date | null
  version: Generated<number>
}

export interface IncidentDisclosuresTable {
  id: string
  incident_id: string
  decision: 'publish' | 'withhold'
  exception: 'publication_would_widen_damage' | null
  reason: string
  published_on: string | null
  channel: string | null
  decided_by: string
  decided_at: Generated<Date>
}

export interface IncidentReportsTable {
  id: string
  incident_id: string
  kind: ReportKind
  submitted_on: string
  content_summary: string
  reference_number: string | null
  recorded_by: string
  recorded_at: Generated<Date>
}

export interface IncidentNotificationsTable {
  id: string
  incident_id: string
  notified_on: string | null
  method: 'letter' | 'email' | 'phone' | 'in_person' | 'other' | null
  persons: number | null
  not_possible_reason: 'notification_difficult' | 'non_disclosure_information' | null
  alternative: 'publication' | 'inquiry_desk' | 'other' | null
  alternative_detail: string | null
  note: string | null
  recorded_by: string
  recorded_at: Generated<Date>
}

interface IncidentDeadlineWarningsTable {
  incident_id: string
  deadline: DeadlineKind
  due_date: string
  warning: 'due' | 'overdue'
  warned_at: Generated<Date>
}

export interface IncidentTables {
  incidents: IncidentsTable
  incident_team: IncidentTeamTable
  incident_records: IncidentRecordsTable
  incident_judgements: IncidentJudgementsTable
  incident_handovers: IncidentHandoversTable
  incident_entries: IncidentEntriesTable
  incident_actions: IncidentActionsTable
  incident_disclosures: IncidentDisclosuresTable
  incident_reports: IncidentReportsTable
  incident_notifications: IncidentNotificationsTable
  incident_deadline_warnings: IncidentDeadlineWarningsTable
}
