import { sql, type Expression, type ExpressionBuilder, type Insertable, type Selectable, type SqlBool, type Updateable } from 'kysely'
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres'
import type { Reach } from '../kernel/access.ts'
import type { Caller } from '../kernel/auth.ts'
import type { Database, Db, Queryable } from '../kernel/db.ts'
import { newId } from '../kernel/ids.ts'
import { insertChangesFrom } from '../kernel/outbox.ts'
import type { CursorValue } from '../kernel/pagination.ts'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import type {
  IncidentActionsTable,
  IncidentDisclosuresTable,
  IncidentEntriesTable,
  IncidentHandoversTable,
  IncidentJudgementsTable,
  IncidentNotificationsTable,
  IncidentReportsTable,
  IncidentsTable,
  RecordType,
  TeamRole,
} from './incidents.tables.ts'

export type IncidentRow = Selectable<IncidentsTable>
export type JudgementRow = Selectable<IncidentJudgementsTable>
export type HandoverRow = Selectable<IncidentHandoversTable>
export type EntryRow = Selectable<IncidentEntriesTable> & { corrected_by: string[] }
export type ActionRow = Selectable<IncidentActionsTable>

type IncidentsEb = ExpressionBuilder<Database, 'incidents'>

/**
 * How far a caller reaches incidents with a grant. `own` depends on what the grant is for:
 * involved = incidents they opened, own (窓口) or are on the team of (reading); team = own or on
 * the team (handling); owner = own (handing over). unit adds incidents that link a record of the
 * caller's unit or a unit below it (supervisors); all = every incident. Team membership is
 * checked here, in the query, like a case's responders: an incident out of reach is not found.
 */
export interface IncidentAccess {
  reach: Reach
  caller: Caller
  own: 'involved' | 'team' | 'owner'
}

function ownCondition(eb: IncidentsEb, { caller, own }: IncidentAccess): Expression<SqlBool> {
  const owner = eb('incidents.owner', '=', caller.subject)
  if (own === 'owner') return owner
  const team = eb.exists(
    eb
      .selectFrom('incident_team')
      .select(sql`1`.as('one'))
      .whereRef('incident_team.incident_id', '=', 'incidents.id')
      .where('incident_team.subject', '=', caller.subject)
      .where('incident_team.removed_at', 'is', null),
  )
  if (own === 'team') return eb.or([owner, team])
  return eb.or([eb('incidents.opened_by', '=', caller.subject), owner, team])
}

function incidentInReach(q: Queryable, access: IncidentAccess) {
  return (eb: IncidentsEb): Expression<SqlBool> => {
    switch (access.reach) {
      case 'all':
        return sql<SqlBool>`true`
      case 'unit': {
        const unit = access.caller.orgUnit
        if (!unit) return ownCondition(eb, access)
        const touchesUnit = eb.exists(
          eb
            .selectFrom('incident_records')
            .select(sql`1`.as('one'))
            .whereRef('incident_records.incident_id', '=', 'incidents.id')
            .where('incident_records.org_unit_id', 'in', unitSubtree(q, unit)),
        )
        return eb.or([ownCondition(eb, access), touchesUnit])
      }
      case 'own':
        return ownCondition(eb, access)
    }
  }
}

interface TeamJson {
  id: string
  subject: string
  role: TeamRole
  added_by: string
  added_at: string
}
interface RecordJson {
  record_type: RecordType
  record_id: string
  org_unit_id: string
  hold_id: string | null
  linked_by: string
  linked_at: string
}
type Jsonified<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] }
type DisclosureJson = Jsonified<Selectable<IncidentDisclosuresTable>>
export type ReportJson = Jsonified<Selectable<IncidentReportsTable>>
type NotificationJson = Jsonified<Selectable<IncidentNotificationsTable>>

/** An incident with what its view shows, fetched in one query. */
export type IncidentViewRow = IncidentRow & {
  personal_visible: boolean
  judged_at: Date
  team: TeamJson[]
  records: RecordJson[]
  disclosure: DisclosureJson | null
  reports: ReportJson[]
  notifications: NotificationJson[]
  open_actions: number
}

function selectView(q: Queryable, personal: IncidentAccess | null) {
  return q
    .selectFrom('incidents')
    .selectAll('incidents')
    .select((eb) => [
      sql<boolean>`${personal ? incidentInReach(q, personal)(eb) : sql`false`}`.as('personal_visible'),
      eb
        .selectFrom('incident_judgements')
        .select(sql<Date>`max(incident_judgements.judged_at)`.as('t'))
        .whereRef('incident_judgements.incident_id', '=', 'incidents.id')
        .as('judged_at'),
      jsonArrayFrom(
        eb
          .selectFrom('incident_team')
          .select(['incident_team.id', 'incident_team.subject', 'incident_team.role', 'incident_team.added_by', 'incident_team.added_at'])
          .whereRef('incident_team.incident_id', '=', 'incidents.id')
          .where('incident_team.removed_at', 'is', null)
          .orderBy('incident_team.added_at')
          .orderBy('incident_team.id'),
      ).as('team'),
      jsonArrayFrom(
        eb
          .selectFrom('incident_records')
          .select([
            'incident_records.record_type',
            'incident_records.record_id',
            'incident_records.org_unit_id',
            'incident_records.hold_id',
            'incident_records.linked_by',
            'incident_records.linked_at',
          ])
          .whereRef('incident_records.incident_id', '=', 'incidents.id')
          .orderBy('incident_records.linked_at')
          .orderBy('incident_records.record_id'),
      ).as('records'),
      jsonObjectFrom(
        eb
          .selectFrom('incident_disclosures')
          .selectAll('incident_disclosures')
          .whereRef('incident_disclosures.incident_id', '=', 'incidents.id')
          .orderBy('incident_disclosures.decided_at', 'desc')
          .orderBy('incident_disclosures.id', 'desc')
          .limit(1),
      ).as('disclosure'),
      jsonArrayFrom(
        eb
          .selectFrom('incident_reports')
          .selectAll('incident_reports')
          .whereRef('incident_reports.incident_id', '=', 'incidents.id')
          .orderBy('incident_reports.kind', 'desc'),
      ).as('reports'),
      jsonArrayFrom(
        eb
          .selectFrom('incident_notifications')
          .selectAll('incident_notifications')
          .whereRef('incident_notifications.incident_id', '=', 'incidents.id')
          .orderBy('incident_notifications.recorded_at')
          .orderBy('incident_notifications.id'),
      ).as('notifications'),
      eb
        .selectFrom('incident_actions')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('incident_actions.incident_id', '=', 'incidents.id')
        .where('incident_actions.status', 'in', ['open', 'in_progress'])
        .as('open_actions'),
    ])
}

/** An incident in reach with everything its view shows, or undefined; personal text is visible where `personal` reaches it. */
export async function findIncidentView(
  q: Queryable,
  id: string,
  access: IncidentAccess,
  personal: IncidentAccess | null,
): Promise<IncidentViewRow | undefined> {
  const row = await selectView(q, personal).where('incidents.id', '=', id).where(incidentInReach(q, access)).executeTakeFirst()
  return row as IncidentViewRow | undefined
}

/**
 * An incident in reach, locked for the rest of the transaction: every write to an incident
 * (and to its team, records, entries, actions, reports) takes this lock first, so they are
 * serialised per incident (versions, sequence numbers and the feed's order stay consistent).
 */
export async function lockIncident(q: Queryable, id: string, access: IncidentAccess): Promise<IncidentRow | undefined> {
  return q.selectFrom('incidents').selectAll().where('id', '=', id).where(incidentInReach(q, access)).forUpdate().executeTakeFirst()
}

/** An incident in reach without its view, and whether its personal text is visible to the caller (for its entries). */
export async function findIncidentHeader(
  q: Queryable,
  id: string,
  access: IncidentAccess,
  personal: IncidentAccess | null,
): Promise<(IncidentRow & { personal_visible: boolean }) | undefined> {
  return q
    .selectFrom('incidents')
    .selectAll('incidents')
    .select((eb) => sql<boolean>`${personal ? incidentInReach(q, personal)(eb) : sql`false`}`.as('personal_visible'))
    .where('incidents.id', '=', id)
    .where(incidentInReach(q, access))
    .executeTakeFirst()
}

/** Whether the caller reaches the incident with another grant (e.g. handing over). */
export async function incidentReachable(q: Queryable, id: string, access: IncidentAccess): Promise<boolean> {
  const row = await q.selectFrom('incidents').select('id').where('id', '=', id).where(incidentInReach(q, access)).executeTakeFirst()
  return row !== undefined
}

export interface IncidentFilters {
  drill: boolean
  status?: IncidentRow['status']
  kind?: IncidentRow['kind']
  reportable?: boolean
  owner?: string
  recordId?: string
  awareFrom?: Date
  awareTo?: Date
}

/** Key of the list order: (aware_at, id), both descending. */
export function incidentListKey(row: IncidentRow): CursorValue[] {
  return [row.aware_at.toISOString(), row.id]
}

/** A page of incidents in reach, most recently discovered first; drills and real incidents apart. */
export async function listIncidentViews(
  q: Queryable,
  access: IncidentAccess,
  personal: IncidentAccess | null,
  filters: IncidentFilters,
  limit: number,
  after: CursorValue[] | null,
): Promise<IncidentViewRow[]> {
  let query = selectView(q, personal).where(incidentInReach(q, access)).where('incidents.drill', '=', filters.drill)
  if (filters.status) query = query.where('incidents.status', '=', filters.status)
  if (filters.kind) query = query.where('incidents.kind', '=', filters.kind)
  if (filters.reportable !== undefined) query = query.where('incidents.reportable', '=', filters.reportable)
  if (filters.owner) query = query.where('incidents.owner', '=', filters.owner)
  if (filters.recordId) {
    const recordId = filters.recordId
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('incident_records')
          .select(sql`1`.as('one'))
          .whereRef('incident_records.incident_id', '=', 'incidents.id')
          .where('incident_records.record_id', '=', recordId),
      ),
    )
  }
  if (filters.awareFrom) query = query.where('incidents.aware_at', '>=', filters.awareFrom)
  if (filters.awareTo) query = query.where('incidents.aware_at', '<', filters.awareTo)
  if (after) {
    const [awareAt, id] = after as [string, string]
    query = query.where(sql<SqlBool>`(incidents.aware_at, incidents.id) < (${awareAt}::timestamptz, ${id}::uuid)`)
  }
  const rows = await query.orderBy('incidents.aware_at', 'desc').orderBy('incidents.id', 'desc').limit(limit).execute()
  return rows as IncidentViewRow[]
}

export async function insertIncident(q: Queryable, row: Insertable<IncidentsTable>): Promise<IncidentRow> {
  return q.insertInto('incidents').values(row).returningAll().executeTakeFirstOrThrow()
}

/** Applies changes and moves the version (the ETag) on. */
export async function updateIncident(q: Queryable, id: string, changes: Updateable<IncidentsTable>): Promise<IncidentRow> {
  return q
    .updateTable('incidents')
    .set({ ...changes, version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

// ---------------------------------------------------------------------------------------------
// Judgements and handovers (append-only)

export async function insertJudgement(q: Queryable, row: Omit<Insertable<IncidentJudgementsTable>, 'id' | 'seq'>): Promise<JudgementRow> {
  return q
    .insertInto('incident_judgements')
    .values({
      ...row,
      id: newId(),
      seq: sql<number>`(select coalesce(max(seq), 0) + 1 from incident_judgements where incident_id = ${row.incident_id})`,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function judgementHistory(q: Queryable, incidentId: string): Promise<JudgementRow[]> {
  return q.selectFrom('incident_judgements').selectAll().where('incident_id', '=', incidentId).orderBy('seq').execute()
}

export async function insertHandover(q: Queryable, row: Omit<Insertable<IncidentHandoversTable>, 'id'>): Promise<HandoverRow> {
  return q
    .insertInto('incident_handovers')
    .values({ ...row, id: newId() })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function handoverHistory(q: Queryable, incidentId: string): Promise<HandoverRow[]> {
  return q.selectFrom('incident_handovers').selectAll().where('incident_id', '=', incidentId).orderBy('handed_over_at').orderBy('id').execute()
}

// ---------------------------------------------------------------------------------------------
// Team and records

/** Adds members; returns the (subject, role) pairs that were not yet on the team. */
export async function addTeamMembers(
  q: Queryable,
  incidentId: string,
  members: ReadonlyArray<{ subject: string; role: TeamRole }>,
  addedBy: string,
): Promise<Array<{ id: string; subject: string; role: TeamRole }>> {
  if (members.length === 0) return []
  return q
    .insertInto('incident_team')
    .values(members.map((m) => ({ id: newId(), incident_id: incidentId, subject: m.subject, role: m.role, added_by: addedBy })))
    .onConflict((oc) => oc.columns(['incident_id', 'subject', 'role']).where('removed_at', 'is', null).doNothing())
    .returning(['id', 'subject', 'role'])
    .execute()
}

/** Takes a member off the team (the row stays, with who removed them and when); undefined when not a current member. */
export async function removeTeamMember(q: Queryable, incidentId: string, memberId: string, removedBy: string) {
  return q
    .updateTable('incident_team')
    .set({ removed_at: sql`now()`, removed_by: removedBy })
    .where('id', '=', memberId)
    .where('incident_id', '=', incidentId)
    .where('removed_at', 'is', null)
    .returning(['id', 'subject', 'role'])
    .executeTakeFirst()
}

/** Links a record; false when it was already linked. */
export async function linkRecord(
  q: Queryable,
  link: { incidentId: string; type: RecordType; recordId: string; orgUnitId: string; linkedBy: string },
): Promise<boolean> {
  const row = await q
    .insertInto('incident_records')
    .values({ incident_id: link.incidentId, record_type: link.type, record_id: link.recordId, org_unit_id: link.orgUnitId, linked_by: link.linkedBy })
    .onConflict((oc) => oc.doNothing())
    .returning('record_id')
    .executeTakeFirst()
  return row !== undefined
}

export async function setLinkHold(q: Queryable, incidentId: string, recordingId: string, holdId: string): Promise<void> {
  await q
    .updateTable('incident_records')
    .set({ hold_id: holdId })
    .where('incident_id', '=', incidentId)
    .where('record_type', '=', 'recording')
    .where('record_id', '=', recordingId)
    .execute()
}

// ---------------------------------------------------------------------------------------------
// The chronological record

function selectEntries(q: Queryable) {
  return q
    .selectFrom('incident_entries')
    .selectAll('incident_entries')
    .select(
      sql<string[]>`coalesce((select array_agg(c.id order by c.seq) from incident_entries c where c.corrects_entry_id = incident_entries.id), '{}')`.as(
        'corrected_by',
      ),
    )
}

/** Appends an entry; the caller holds the incident's lock, so the next seq is computed without a race. */
export async function appendEntry(q: Queryable, row: Omit<Insertable<IncidentEntriesTable>, 'id' | 'seq'>): Promise<EntryRow> {
  const inserted = await q
    .insertInto('incident_entries')
    .values({
      ...row,
      id: newId(),
      seq: sql<number>`(select coalesce(max(seq), 0) + 1 from incident_entries where incident_id = ${row.incident_id})`,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return { ...inserted, corrected_by: [] }
}

/** Entries of an incident by id (those of other incidents are not found). */
export async function entriesOf(q: Queryable, incidentId: string, ids: readonly string[]): Promise<EntryRow[]> {
  if (ids.length === 0) return []
  return selectEntries(q)
    .where('incident_entries.incident_id', '=', incidentId)
    .where('incident_entries.id', 'in', [...ids])
    .execute()
}

export async function listEntries(q: Queryable, incidentId: string, afterSeq: number, limit: number): Promise<EntryRow[]> {
  return selectEntries(q)
    .where('incident_entries.incident_id', '=', incidentId)
    .where('incident_entries.seq', '>', afterSeq)
    .orderBy('incident_entries.seq')
    .limit(limit)
    .execute()
}

// ---------------------------------------------------------------------------------------------
// Actions, disclosure, reports, notifications

export async function insertAction(q: Queryable, row: Insertable<IncidentActionsTable>): Promise<ActionRow> {
  return q.insertInto('incident_actions').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function findAction(q: Queryable, incidentId: string, actionId: string): Promise<ActionRow | undefined> {
  return q.selectFrom('incident_actions').selectAll().where('incident_id', '=', incidentId).where('id', '=', actionId).executeTakeFirst()
}

export async function updateAction(q: Queryable, id: string, changes: Updateable<IncidentActionsTable>): Promise<ActionRow> {
  return q
    .updateTable('incident_actions')
    .set({ ...changes, version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function actionsOf(q: Queryable, incidentId: string, options: { openOnly?: boolean } = {}): Promise<ActionRow[]> {
  let query = q.selectFrom('incident_actions').selectAll().where('incident_id', '=', incidentId)
  if (options.openOnly) query = query.where('status', 'in', ['open', 'in_progress'])
  return query.orderBy('created_at').orderBy('id').execute()
}

export async function insertDisclosure(q: Queryable, row: Omit<Insertable<IncidentDisclosuresTable>, 'id'>): Promise<void> {
  await q
    .insertInto('incident_disclosures')
    .values({ ...row, id: newId() })
    .execute()
}

/** Records a report; false when one of that kind is already on record. */
export async function insertReport(q: Queryable, row: Omit<Insertable<IncidentReportsTable>, 'id'>): Promise<boolean> {
  const inserted = await q
    .insertInto('incident_reports')
    .values({ ...row, id: newId() })
    .onConflict((oc) => oc.constraint('incident_reports_one_per_kind').doNothing())
    .returning('id')
    .executeTakeFirst()
  return inserted !== undefined
}

export async function insertNotification(q: Queryable, row: Omit<Insertable<IncidentNotificationsTable>, 'id'>): Promise<void> {
  await q
    .insertInto('incident_notifications')
    .values({ ...row, id: newId() })
    .execute()
}

// ---------------------------------------------------------------------------------------------
// Deadline warnings

/**
 * Publishes the deadline warnings due on `today`, each once, in one statement: for every
 * reportable incident that is no drill, each report deadline not yet met (a final report meets
 * the first-report deadline too) gets `incident.report_due` from `warn_days_before` days ahead of
 * its due date and `incident.report_overdue` after it. A warning is a row of
 * incident_deadline_warnings (incident, deadline, due date, warning) inserted with ON CONFLICT DO
 * NOTHING, and only the rows this statement inserted publish their change: instances that look
 * at once each publish what they inserted, so every warning goes out exactly once. A due date
 * that moves (a judgement changed) warns again for its new date.
 */
export async function publishDeadlineWarnings(db: Db, today: string): Promise<number> {
  const result = await sql<{ n: number }>`
    with due as (
      select i.id as incident_id, d.deadline, d.due_date, w.warning
      from incidents i
      cross join lateral (values ('first_report', i.first_report_due), ('final_report', i.final_report_due)) as d(deadline, due_date)
      cross join lateral (select case when ${today}::date > d.due_date then 'overdue' else 'due' end as warning) as w
      where i.reportable and not i.drill and d.due_date is not null
        and ${today}::date >= d.due_date - coalesce((i.deadlines ->> 'warn_days_before')::int, 0)
        and not exists (
          select 1 from incident_reports r
          where r.incident_id = i.id and (r.kind = 'final' or (d.deadline = 'first_report' and r.kind = 'first')))
        -- Already published: skip it here (the unique key still settles instances racing for it).
        and not exists (
          select 1 from incident_deadline_warnings p
          where p.incident_id = i.id and p.deadline = d.deadline and p.due_date = d.due_date and p.warning = w.warning)
    ), claimed as (
      insert into incident_deadline_warnings (incident_id, deadline, due_date, warning)
      -- In key order, so instances inserting the same rows at once queue rather than deadlock.
      select incident_id, deadline, due_date, warning from due order by incident_id, deadline, due_date, warning
      on conflict do nothing
      returning incident_id, deadline, due_date, warning
    ), feed as (
      ${insertChangesFrom(sql`
        select case c.warning when 'due' then 'incident.report_due' else 'incident.report_overdue' end,
          'incident', c.incident_id::text, i.org_unit_id,
          jsonb_build_object('deadline', c.deadline, 'due_date', c.due_date, 'version', i.version)
        from claimed c join incidents i on i.id = c.incident_id`)}
    )
    select count(*)::int as n from claimed`.execute(db)
  return Number(result.rows[0]?.n ?? 0)
}
