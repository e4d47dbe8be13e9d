import type { ColumnType, Generated } from 'kysely'
import type { EventType } from './event-types.ts'

export interface CaseEventsTable {
  id: string
  case_id: string
  seq: number
  type: EventType
  occurred_at: Date
  recorded_at: Generated<Date>
  actor: string
  description: string | null
  quote: string | null
  details: ColumnType<Record<string, unknown>, string | undefined, never>
  corrects_event_id: string | null
  policy_version_id: string | null
}

export interface EventTables {
  case_events: CaseEventsTable
}
