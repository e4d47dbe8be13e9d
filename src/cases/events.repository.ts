import { type Selectable, type SqlBool, sql } from 'kysely'
import { jsonArrayFrom } from 'kysely/helpers/postgres'
import type { Reach } from '../kernel/access.ts'
import type { Caller } from '../kernel/auth.ts'
import type { Queryable } from '../kernel/db.ts'
import { CompiledQueries } from '../kernel/compiled-queries.ts'
import { insertAuditRowsWhere } from '../kernel/audit.ts'
import { insertChangesFrom } from '../kernel/outbox.ts'
import { newId } from '../kernel/ids.ts'
import { type Profile, rememberWriterCtes, staffProfileOf, writerValues } from '../staff/staff.repository.ts'
import { caseInReach, caseInReachQuery, reachCallerOf, reachCallerShape, reachCallerValues } from './cases.repository.ts'
import type { EventType } from './event-types.ts'
import type { CaseEventsTable } from './events.tables.ts'

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
/** An event with its actor's names, fetched with its case. */
type EventWithActor = EventRow & { actor_profile: Profile | null }

// The timeline and the append, built and compiled once per shape (compiled-queries.ts).
const timelines = new CompiledQueries('case timeline')
const appends = new CompiledQueries('event append')

/**
 * A case in reach with all its events in occurred order and their actors' names: the timeline in
 * one statement (one round trip) instead of the case, then the events, then the names.
 */
export async function findCaseWithTimeline(q: Queryable, id: string, reach: Reach, caller: Caller, personalReach: Reach | null) {
  const shape = `${reach}/${personalReach}/${reachCallerShape(caller)}`
  const result = await timelines.execute(q, shape, { id, ...reachCallerValues(caller) }, (p) =>
    caseInReachQuery(q, p.id, reach, reachCallerOf(p, caller), { personalReach }).select((eb) =>
      jsonArrayFrom(
        eb
          .selectFrom('case_events')
          .selectAll('case_events')
          .select((e) => staffProfileOf(e, 'case_events.actor').as('actor_profile'))
          .whereRef('case_events.case_id', '=', 'cases.id')
          .orderBy('case_events.occurred_at')
          .orderBy('case_events.seq'),
      ).as('events'),
    ),
  )
  const found = result.rows[0]
  if (!found) return undefined
  // Instants arrive as JSON text inside the array (Kysely's type says Date): made Dates here.
  const events: EventWithActor[] = found.events.map((e) => ({ ...e, occurred_at: new Date(e.occurred_at), recorded_at: new Date(e.recorded_at) }))
  return { ...found, events }
}

/** What the one statement of an append found on the case, and the event when it was written. */
export interface CheckedAppend {
  org_unit_id: string
  status: string
  personal_visible: boolean
  manageable: boolean
  fact_checked: boolean
  correction_found: boolean
  /** Null when a rule refused the event (the flags above say which). */
  seq: number | null
  recorded_at: Date | null
}

/**
 * An event appended in one statement, in autocommit: the case in reach (locked for the statement),
 * the rules as conditions (a closed case takes only notes by a manager; fault is acknowledged by a
 * manager after a fact check; a correction names an event of the case), the event, the writer's
 * staff profile, the request's audit entry and the change-feed row. Undefined when the case is not
 * in reach; `seq` null when a rule refused (nothing was written, the caller says why).
 *
 * The row lock serialises writers of one case, but the next seq is read with the statement's
 * snapshot, which may predate a writer the lock waited for: the unique (case_id, seq) then refuses
 * the insert and the caller runs the statement again (`isSeqCollision`).
 *
 * Compiled once per shape (the three reaches, whether it corrects an event): the event, the caller
 * and the audit entry (`auditRows`, OneStatement) are parameters.
 */
export async function appendEventChecked(
  q: Queryable,
  event: NewEvent & { id: string },
  access: { caller: Caller; reach: Reach; personalReach: Reach | null; manageReach: Reach | null },
  auditRows: string,
): Promise<CheckedAppend | undefined> {
  const { caller, reach, personalReach, manageReach } = access
  const correction = event.correctsEventId != null
  const shape = `${reach}/${personalReach}/${manageReach}/${reachCallerShape(caller)}/${correction}`
  const values = {
    ...reachCallerValues(caller),
    ...writerValues(caller),
    id: event.id,
    caseId: event.caseId,
    type: event.type,
    occurredAt: event.occurredAt,
    actor: event.actor,
    description: event.description,
    quote: event.quote ?? null,
    details: JSON.stringify(event.details ?? {}),
    correctsEventId: event.correctsEventId ?? null,
    policyVersionId: event.policyVersionId ?? null,
    auditRows,
  }
  const result = await appends.execute(q, shape, values, (p) => {
    const who = reachCallerOf(p, caller)
    const never = sql<SqlBool>`false`
    const found = q
      .selectFrom('cases')
      .select((eb) => [
        'cases.id',
        'cases.org_unit_id',
        'cases.status',
        sql<boolean>`${personalReach ? caseInReach(q, personalReach, who)(eb) : never}`.as('personal_visible'),
        sql<boolean>`${manageReach ? caseInReach(q, manageReach, who)(eb) : never}`.as('manageable'),
        eb
          .exists(
            eb
              .selectFrom('case_events')
              .select(sql`1`.as('one'))
              .whereRef('case_events.case_id', '=', 'cases.id')
              .where('case_events.type', '=', sql.lit<EventType>('fact_check')),
          )
          .as('fact_checked'),
        sql<boolean>`${
          correction
            ? eb.exists(
                eb
                  .selectFrom('case_events')
                  .select(sql`1`.as('one'))
                  .whereRef('case_events.case_id', '=', 'cases.id')
                  .where('case_events.id', '=', p.correctsEventId!),
              )
            : sql<boolean>`true`
        }`.as('correction_found'),
      ])
      .where('cases.id', '=', p.caseId)
      .where(caseInReach(q, reach, who))
      .forUpdate('cases')
    const wrote = sql`exists (select 1 from ins)`
    return sql<CheckedAppend>`
    with c as (${found}),
    ins as (
      insert into case_events (id, case_id, seq, type, occurred_at, actor, description, quote, details, corrects_event_id, policy_version_id)
      select ${p.id}::uuid, c.id, (select coalesce(max(e.seq), 0) + 1 from case_events e where e.case_id = c.id), ${p.type},
             ${p.occurredAt}::timestamptz, ${p.actor}, ${p.description}, ${p.quote}, ${p.details}::jsonb,
             ${p.correctsEventId}::uuid, ${p.policyVersionId}::uuid
        from c
       where (c.status <> 'closed' or (${p.type} = 'note' and c.manageable))
         and (${p.type} <> 'fault_acknowledged' or (c.manageable and c.fact_checked))
         and c.correction_found
      returning case_id, seq, recorded_at),
    ${rememberWriterCtes(p, wrote)},
    audited as (${insertAuditRowsWhere(p.auditRows, wrote)}),
    published as (${insertChangesFrom(
      sql`select 'event.appended', 'case', ins.case_id::text, c.org_unit_id,
                 jsonb_build_object('event_id', ${p.id}::text, 'event_type', ${p.type}::text, 'seq', ins.seq)
            from ins, c`,
    )})
    select c.org_unit_id, c.status, c.personal_visible, c.manageable, c.fact_checked, c.correction_found, ins.seq, ins.recorded_at
      from c left join ins on true`
  })
  return result.rows[0]
}

/** The insert lost a race for the case's next seq (see appendEventChecked): run it again. */
export function isSeqCollision(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string }
  return e?.code === '23505' && e.constraint === 'case_events_seq'
}
