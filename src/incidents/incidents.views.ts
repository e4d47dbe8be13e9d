import type { ServiceContext } from '../kernel/context.ts'
import type { DomainChange } from '../kernel/outbox.ts'
import { todayInTokyo, tokyoDate } from '../kernel/time.ts'
import { policiesToday } from '../policies/policies.service.ts'
import { type StaffRef, staffRefs } from '../staff/staff.repository.ts'
import type { ActionRow, EntryRow, IncidentRow, IncidentViewRow, ReportJson } from './incidents.repository.ts'
import { warningOn } from './incidents.rules.ts'
import type { ActionView, EntryView, IncidentView } from './incidents.schemas.ts'
import type { CountedDeadline, DeadlineKind } from './incidents.tables.ts'

/**
 * How incidents appear: staff under the names the name-display policy allows, free text that may
 * carry personal data (what happened, how it was found, the facts, report contents) withheld from
 * callers without incidents:read_personal (auditors) and never dropped, deadlines with their
 * state today. Nested rows arrive as JSON, so their instants are normalised to ISO 8601 UTC.
 */

const iso = (value: string | Date) => new Date(value).toISOString()
type RefOf = (subject: string) => StaffRef

/** Staff refs for many subjects at once, as the name-display policy in force allows. */
export async function refsFor(ctx: ServiceContext, subjects: Iterable<string>): Promise<RefOf> {
  const refs = await staffRefs(ctx.db, subjects, (await policiesToday(ctx)).name_display.body.mode)
  return (s) => refs.get(s) ?? { id: s, display_name: s }
}

/** A change on the feed: ids, kinds, versions and dates, never the incident's text. */
export function incidentChange(kind: string, row: Pick<IncidentRow, 'id' | 'org_unit_id' | 'status' | 'drill' | 'version'>, data = {}): DomainChange {
  return {
    kind,
    resourceType: 'incident',
    resourceId: row.id,
    orgUnitId: row.org_unit_id,
    data: { status: row.status, drill: row.drill, version: row.version, ...data },
  }
}

/** The report that meets a deadline: the first report for the first, or the final report for either. */
function reportMeeting(kind: DeadlineKind, reports: readonly ReportJson[]): ReportJson | undefined {
  return (kind === 'first_report' ? reports.find((r) => r.kind === 'first') : undefined) ?? reports.find((r) => r.kind === 'final')
}

function deadlineView(kind: DeadlineKind, d: CountedDeadline, reports: readonly ReportJson[], today: string, warnDaysBefore: number) {
  const filed = reportMeeting(kind, reports)
  return {
    ...d,
    status: filed ? ('met' as const) : (warningOn(d.due_date, today, warnDaysBefore) ?? ('pending' as const)),
    filed_on: filed?.submitted_on ?? null,
  }
}

function incidentView(row: IncidentViewRow, ref: RefOf, today: string, contacts: IncidentView['contacts']): IncidentView {
  const visible = row.personal_visible
  const d = row.deadlines
  return {
    id: row.id,
    org_unit_id: row.org_unit_id,
    kind: row.kind,
    drill: row.drill,
    status: row.status,
    // Redacted, never dropped: the text stays in the database for those who may read it.
    summary: visible ? row.summary : null,
    discovery: visible ? row.discovery : null,
    personal_data_redacted: !visible,
    occurred_at: row.occurred_at?.toISOString() ?? null,
    aware_at: row.aware_at.toISOString(),
    aware_date: tokyoDate(row.aware_at),
    data_items: row.data_items,
    persons_affected: row.persons_affected,
    persons_affected_basis: row.persons_affected_basis,
    reporting_facts: {
      sensitive_personal_information: row.sensitive_personal_information,
      financial_harm_risk: row.financial_harm_risk,
      wrongful_purpose_suspected: row.wrongful_purpose_suspected,
      ordinance_sensitive_categories: row.ordinance_sensitive_categories,
      strongly_encrypted: row.strongly_encrypted,
    },
    judgement: {
      reportable: row.reportable,
      reasons: row.report_reasons,
      exemption: row.exemption,
      policy_version_id: row.response_policy_id,
      judged_at: iso(row.judged_at),
    },
    deadlines: d
      ? {
          day_one_rule: d.day_one_rule,
          roll_forward_office_holidays: d.roll_forward_office_holidays,
          first_report: deadlineView('first_report', d.first_report, row.reports, today, d.warn_days_before),
          final_report: deadlineView('final_report', d.final_report, row.reports, today, d.warn_days_before),
        }
      : null,
    owner: ref(row.owner),
    opened_by: ref(row.opened_by),
    team: row.team.map((m) => ({ id: m.id, member: ref(m.subject), role: m.role, added_by: ref(m.added_by), added_at: iso(m.added_at) })),
    records: row.records.map((l) => ({
      type: l.record_type,
      id: l.record_id,
      org_unit_id: l.org_unit_id,
      hold_id: l.hold_id,
      linked_by: ref(l.linked_by),
      linked_at: iso(l.linked_at),
    })),
    disclosure: row.disclosure
      ? {
          id: row.disclosure.id,
          decision: row.disclosure.decision,
          exception: row.disclosure.exception,
          reason: row.disclosure.reason,
          published_on: row.disclosure.published_on,
          channel: row.disclosure.channel,
          decided_by: ref(row.disclosure.decided_by),
          decided_at: iso(row.disclosure.decided_at),
        }
      : null,
    reports: row.reports.map((r) => ({
      id: r.id,
      kind: r.kind,
      submitted_on: r.submitted_on,
      content_summary: visible ? r.content_summary : null,
      reference_number: r.reference_number,
      recorded_by: ref(r.recorded_by),
      recorded_at: iso(r.recorded_at),
    })),
    notifications: row.notifications.map((n) => ({
      id: n.id,
      notified_on: n.notified_on,
      method: n.method,
      persons: n.persons,
      not_possible_reason: n.not_possible_reason,
      alternative: n.alternative,
      alternative_detail: visible ? n.alternative_detail : null,
      note: visible ? n.note : null,
      recorded_by: ref(n.recorded_by),
      recorded_at: iso(n.recorded_at),
    })),
    open_actions: row.open_actions,
    contacts,
    closed_at: row.closed_at?.toISOString() ?? null,
    closed_by: row.closed_by ? ref(row.closed_by) : null,
    close_reason: row.close_reason,
    open_actions_reason: row.open_actions_reason,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  }
}

export async function presentIncidents(ctx: ServiceContext, rows: readonly IncidentViewRow[]): Promise<IncidentView[]> {
  const subjects = rows.flatMap((r) => [
    r.owner,
    r.opened_by,
    ...(r.closed_by ? [r.closed_by] : []),
    ...r.team.flatMap((m) => [m.subject, m.added_by]),
    ...r.records.map((l) => l.linked_by),
    ...(r.disclosure ? [r.disclosure.decided_by] : []),
    ...r.reports.map((x) => x.recorded_by),
    ...r.notifications.map((n) => n.recorded_by),
  ])
  const ref = await refsFor(ctx, subjects)
  // Whom to notify: the response plan in force today (people and extensions change).
  const contacts = (await policiesToday(ctx)).incident_response.body.contacts
  const today = todayInTokyo()
  return rows.map((r) => incidentView(r, ref, today, contacts))
}

export async function presentEntries(ctx: ServiceContext, rows: readonly EntryRow[], personalVisible: boolean): Promise<EntryView[]> {
  const ref = await refsFor(
    ctx,
    rows.map((e) => e.actor),
  )
  return rows.map((e) => ({
    id: e.id,
    incident_id: e.incident_id,
    seq: e.seq,
    type: e.type,
    occurred_at: e.occurred_at.toISOString(),
    recorded_at: e.recorded_at.toISOString(),
    actor: ref(e.actor),
    text: personalVisible ? e.text : null,
    redacted: !personalVisible,
    confirmed: e.confirmed,
    corrects_entry_id: e.corrects_entry_id,
    corrected_by: e.corrected_by ?? [],
    relies_on: e.relies_on,
    audience: e.audience,
  }))
}

export async function presentActions(ctx: ServiceContext, rows: readonly ActionRow[]): Promise<ActionView[]> {
  const ref = await refsFor(
    ctx,
    rows.flatMap((a) => [a.owner, a.created_by]),
  )
  const today = todayInTokyo()
  return rows.map((a) => ({
    id: a.id,
    incident_id: a.incident_id,
    kind: a.kind,
    title: a.title,
    owner: ref(a.owner),
    due_on: a.due_on,
    status: a.status,
    overdue: (a.status === 'open' || a.status === 'in_progress') && a.due_on < today,
    note: a.note,
    created_by: ref(a.created_by),
    created_at: a.created_at.toISOString(),
    updated_at: a.updated_at.toISOString(),
    completed_at: a.completed_at?.toISOString() ?? null,
    version: a.version,
  }))
}
