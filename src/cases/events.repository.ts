import { sql, type Selectable } from 'kysely'
import type { Queryable } from '../kernel/db.js'
import { newId } from '../kernel/ids.js'
import type { EventType } from './event-types.js'
import type { CaseEventsTable } from './events.tables.js'

export type EventRow = Selectable<CaseEventsTable>

export interface NewEvent {
  caseId: string
  type: EventType
  occurredAt: Date
  actor: string
  description: string | null
  quote?: string | null
  details?: Record<string, unknown>
  correctsEventId?: string | null
  policyVersionId?: string | null
}

/**
 * Appends an event to a case's record. The caller holds the case's row lock (every write to
 * a case takes it first), so the next sequence number is computed without a race.
 */
export async function appendEvent(q: Queryable, event: NewEvent): Promise<EventRow> {
  return q
    .insertInto('case_events')
    .values({
      id: newId(),
      case_id: event.caseId,
      seq: sql<number>`(select coalesce(max(seq), 0) + 1 from case_events where case_id = ${event.caseId})`,
      type: event.type,
      occurred_at: event.occurredAt,
      actor: event.actor,
      description: event.description,
      quote: event.quote ?? null,
      details: JSON.stringify(event.details ?? {}),
      corrects_event_id: event.correctsEventId ?? null,
      policy_version_id: event.policyVersionId ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function caseHasEvent(q: Queryable, caseId: string, type: EventType): Promise<boolean> {
  const row = await q.selectFrom('case_events').select('id').where('case_id', '=', caseId).where('type', '=', type).limit(1).executeTakeFirst()
  return row !== undefined
}

export async function findEventOfCase(q: Queryable, caseId: string, eventId: string): Promise<EventRow | undefined> {
  return q.selectFrom('case_events').selectAll().where('case_id', '=', caseId).where('id', '=', eventId).executeTakeFirst()
}

/** Events in the order they were written (seq), after a given seq. */
export async function listEvents(q: Queryable, caseId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
  return q.selectFrom('case_events').selectAll().where('case_id', '=', caseId).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute()
}

/** Every event of a case in the order things happened (時系列), ties in the order written. */
export async function timelineEvents(q: Queryable, caseId: string): Promise<EventRow[]> {
  return q.selectFrom('case_events').selectAll().where('case_id', '=', caseId).orderBy('occurred_at').orderBy('seq').execute()
}
