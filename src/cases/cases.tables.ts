import type { ColumnType, Generated } from 'kysely'
import type { CaseCategory, CaseChannel, Severity } from '../policies/case-vocabulary.ts'
import type { CaseStatus } from './case-status.ts'

export interface CasesTable {
  id: string
  number: string
  org_unit_id: string
  channel: CaseChannel
  occurred_at: Date
  location: string | null
  categories: CaseCategory[]
  severity: Severity
  status: Generated<CaseStatus>
  summary: string
  external_system: string | null
  external_ref: string | null
  handled_alone_forbidden: Generated<boolean>
  escalation_policy_id: string | null
  priority: ColumnType<number, never, never>
  created_by: string
  created_at: Generated<Date>
  updated_at: Generated<Date>
  version: Generated<number>
}

interface CaseCustomersTable {
  case_id: string
  name: string | null
  address: string | null
  phone: string | null
  email: string | null
  updated_at: Generated<Date>
}

interface CaseRespondersTable {
  case_id: string
  subject: string
  added_by: string
  added_at: Generated<Date>
}

interface CaseNumberCountersTable {
  fiscal_year: number
  last_number: number
}

/** One row of facts per case for statistics, kept by triggers (migrations/0016_case_statistics.sql). */
interface CaseStatisticsTable {
  case_id: string
  org_unit_id: string
  channel: CaseChannel
  categories: CaseCategory[]
  severity: Severity
  status: CaseStatus
  occurred_at: Date
  occurred_on: string
  fiscal_year: number
  handled_alone_forbidden: boolean
  responder_shortfall_seen: Generated<boolean>
  escalations: Generated<number>
  conversations_ended: Generated<number>
  stop_requests: Generated<number>
  exit_orders: Generated<number>
  final_warnings: Generated<number>
  police_calls: Generated<number>
  police_consultations: Generated<number>
  entry_bans: Generated<number>
  limited_apologies: Generated<number>
  faults_acknowledged: Generated<number>
  closed_at: Date | null
  /** Generated (migrations/0018): the Tokyo month 'YYYY-MM', the outcome, days from occurrence to closing. */
  month: ColumnType<string, never, never>
  outcome: ColumnType<string, never, never>
  days_to_close: ColumnType<number | null, never, never>
  /** Kept by a trigger on recordings (migrations/0018): the case's recordings, and those without the notice required. */
  recordings: Generated<number>
  recordings_notice_missing: Generated<number>
}

export interface CaseTables {
  cases: CasesTable
  case_customers: CaseCustomersTable
  case_responders: CaseRespondersTable
  case_number_counters: CaseNumberCountersTable
  case_statistics: CaseStatisticsTable
}
