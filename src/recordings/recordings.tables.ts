import type { ColumnType, Generated } from 'kysely'
import type { Classification } from '../policies/policies.schemas.ts'

type MediaKind = 'audio' | 'video'
type RecordingSource = 'staff_device' | 'fixed_camera' | 'phone_system' | 'resident_provided'
type RecordedBy = 'organisation' | 'resident'
type NoticeMethod = 'verbal' | 'sign' | 'automated_message' | 'written' | 'screen_display'
export type RecordingStatus = 'active' | 'due' | 'disposed' | 'transferred' | 'purged'
type RetentionAction = 'dispose' | 'transfer' | 'review'
export type HoldType = 'audit' | 'litigation' | 'appeal' | 'disclosure_request' | 'other' | 'incident'
export type DispositionAction = 'dispose' | 'transfer' | 'purge'
export type DispositionStatus = 'proposed' | 'executed' | 'cancelled'

type Json<T = unknown> = ColumnType<T, string, never>

export interface RecordingsTable {
  id: string
  case_id: string | null
  org_unit_id: string
  media_kind: MediaKind
  source: RecordingSource
  recorded_by: RecordedBy
  recorder: string | null
  started_at: Date
  ended_at: Date
  document_date: string
  storage_uri: string | null
  sha256: string
  size_bytes: number
  media_type: string
  title: string | null
  location: string | null
  description: string | null
  participants: string[] | null
  caller_number: string | null
  notice_given: boolean
  notice_method: NoticeMethod | null
  notice_at: Date | null
  resident_permission: boolean | null
  on_premises: boolean | null
  notice_missing: boolean
  flags: string[]
  recording_policy_id: string
  classification_id: string
  record_category: string
  administrative_document: boolean
  personal_information: boolean
  classification: Classification
  retention_policy_id: string
  retention_start: string
  retention_end: string
  retention_action: RetentionAction
  hold_open: Generated<boolean>
  held_until: string | null
  /** The last day of the review period of an unclassified recording; null once a records manager classified it. */
  review_until: string | null
  effective_end: ColumnType<string, never, never>
  status: Generated<RecordingStatus>
  due_since: string | null
  pending_disposition_id: string | null
  disposition_id: string | null
  registered_by: string
  created_at: Generated<Date>
  updated_at: Generated<Date>
  version: Generated<number>
}

export interface RecordingClassificationsTable {
  id: string
  recording_id: string
  administrative_document: boolean
  personal_information: boolean
  classification: Classification
  record_category: string
  reason: string
  provisional: boolean
  classified_by: string
  classified_at: Generated<Date>
  retention_policy_id: string
  retention_rule: Json<Record<string, unknown>>
  rule_match: 'exact' | 'wildcard'
  document_date: string
  retention_start: string
  retention_end: string
  retention_action: RetentionAction
}

export interface RecordingHoldsTable {
  id: string
  recording_id: string
  type: HoldType
  reference: string
  note: string | null
  placed_by: string
  placed_at: Generated<Date>
  decision_date: string | null
  decision_recorded_by: string | null
  decision_recorded_at: Date | null
  until: string | null
  released_at: Date | null
  released_by: string | null
  release_reason: string | null
}

export interface DispositionsTable {
  id: string
  recording_id: string
  action: DispositionAction
  status: DispositionStatus
  reason: string
  proposed_by: string
  proposed_at: Generated<Date>
  decided_by: string | null
  decided_at: Date | null
  decision_reason: string | null
  org_unit_id: string
  case_id: string | null
  media_kind: MediaKind
  media_type: string
  sha256: string
  size_bytes: number
  started_at: Date
  record_category: string
  classification: Classification
  retention_policy_id: string
  retention_rule: Json<Record<string, unknown>>
  retention_start: string
  retention_end: string
  effective_end: string
}

type RedactionTreatment = 'muted' | 'bleeped' | 'blurred' | 'cut'

interface Redaction {
  start_seconds: number
  end_seconds: number
  treatment: RedactionTreatment
  ground: string
  note?: string
}

export interface RecordingDerivativesTable {
  id: string
  recording_id: string
  storage_uri: string | null
  sha256: string
  size_bytes: number
  media_type: string
  original_sha256: string
  redactions: Json<Redaction[]>
  made_by: string
  checked_by: string
  note: string | null
  status: Generated<'active' | 'disposed'>
  kept_until: string | null
  keep_reason: string | null
  keep_decided_by: string | null
  keep_decided_at: Date | null
  disposed_at: Date | null
  disposition_id: string | null
  registered_by: string
  created_at: Generated<Date>
}

export interface RecordingTables {
  recordings: RecordingsTable
  recording_derivatives: RecordingDerivativesTable
  recording_classifications: RecordingClassificationsTable
  recording_holds: RecordingHoldsTable
  dispositions: DispositionsTable
}
