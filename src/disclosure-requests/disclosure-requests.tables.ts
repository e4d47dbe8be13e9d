import type { ColumnType, Generated } from 'kysely'
import type { DisclosureKind } from '../policies/policies.schemas.ts'
import type { DecisionItem, DisclosureDecision, DisclosureStatus } from './disclosure-status.ts'

type Json<T = unknown> = ColumnType<T, string, string>

export interface DisclosureRequestsTable {
  id: string
  kind: DisclosureKind
  received_date: string
  subject_matter: string
  org_unit_id: string
  status: Generated<DisclosureStatus>
  disclosure_policy_id: string
  due_date: string | null
  warn_from: string | null
  extension_days: number | null
  extension_reason: string | null
  extension_decided_on: string | null
  extension_notified_on: string | null
  decision: DisclosureDecision | null
  decided_on: string | null
  decision_reason: string | null
  decision_items: Json<DecisionItem[]> | null
  disclosed_on: string | null
  withdrawn_on: string | null
  appeal_filed_on: string | null
  appeal_outcome: 'dismissed' | 'rejected' | 'granted' | 'partially_granted' | null
  appeal_decided_on: string | null
  created_by: string
  created_at: Generated<Date>
  updated_at: Generated<Date>
  version: Generated<number>
}

export type IdentityMethod = 'my_number_card' | 'driving_licence' | 'passport' | 'residence_card' | 'health_insurance_card' | 'other'

interface DisclosureRequestersTable {
  request_id: string
  name: string
  address: string | null
  contact: string | null
  identity_method: IdentityMethod | null
  identity_note: string | null
  updated_at: Generated<Date>
}

interface DisclosureCorrectionsTable {
  request_id: string
  round: number
  requested_on: string
  reason: string
  requested_by: string
  corrected_on: string | null
  received_by: string | null
}

export type RecordType = 'recording' | 'case'

interface DisclosureRequestRecordsTable {
  id: string
  request_id: string
  record_type: RecordType
  record_id: string
  hold_id: string | null
  appeal_hold_id: string | null
  note: string | null
  added_by: string
  added_at: Generated<Date>
  removed_at: Date | null
  removed_by: string | null
  removal_reason: string | null
}

interface DisclosureRequestStepsTable {
  id: string
  request_id: string
  seq: number
  action: string
  from_status: DisclosureStatus | null
  to_status: DisclosureStatus
  on_date: string | null
  reason: string | null
  details: Json<Record<string, unknown>>
  actor: string
  recorded_at: Generated<Date>
}

interface DisclosureHandoversTable {
  id: string
  request_id: string
  record_type: RecordType
  record_id: string
  derivative_id: string | null
  method: 'media_grant' | 'medium'
  medium: string | null
  grant_jti: string | null
  grant_expires_at: Date | null
  handed_over_on: string
  recorded_by: string
  recorded_at: Generated<Date>
}

interface DisclosureDeadlineNoticesTable {
  request_id: string
  due_date: string
  notice: 'approaching' | 'missed'
  noticed_at: Generated<Date>
}

export interface DisclosureRequestTables {
  disclosure_requests: DisclosureRequestsTable
  disclosure_requesters: DisclosureRequestersTable
  disclosure_corrections: DisclosureCorrectionsTable
  disclosure_request_records: DisclosureRequestRecordsTable
  disclosure_request_steps: DisclosureRequestStepsTable
  disclosure_handovers: DisclosureHandoversTable
  disclosure_deadline_notices: DisclosureDeadlineNoticesTable
}
