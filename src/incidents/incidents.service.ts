import type { Updateable } from 'kysely'
import { CalendarError } from '../calendar/calendar.rules.ts'
import { officeDueDate } from '../calendar/calendar.service.ts'
import { readableCase } from '../cases/cases.service.ts'
import type { Reach } from '../kernel/access.ts'
import type { ServiceContext } from '../kernel/context.ts'
import { conflict, forbidden, invalidValues, notFound, unprocessable, type FieldError } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import { requireIfMatch } from '../kernel/preconditions.ts'
import { addDays, isInTheFuture, tokyoDate } from '../kernel/time.ts'
import { unitForNewRecord } from '../org-units/org-units.service.ts'
import { POLICY_EPOCH, type PolicyVersion } from '../policies/policies.schemas.ts'
import { policyOn } from '../policies/policies.service.ts'
import { placeHoldFor, releaseHoldsFor } from '../recordings/holds.service.ts'
import { readableRecording } from '../recordings/recordings.service.ts'
import {
  actionsOf,
  addTeamMembers,
  findIncidentHeader,
  findIncidentView,
  handoverHistory,
  type IncidentAccess,
  type IncidentFilters,
  type IncidentRow,
  incidentListKey,
  incidentReachable,
  insertHandover,
  insertIncident,
  insertJudgement,
  judgementHistory,
  linkRecord,
  listIncidentViews,
  lockIncident,
  removeTeamMember,
  setLinkHold,
  updateIncident,
} from './incidents.repository.ts'
import { dayOne, finalReportDays, judge, type Judgement, type ReportingFacts } from './incidents.rules.ts'
import type { CreateIncident, IncidentView, UpdateIncident } from './incidents.schemas.ts'
import type { CountedDeadline, DeadlinesDoc, IncidentsTable, TeamRole } from './incidents.tables.ts'
import { incidentChange, presentIncidents, refsFor } from './incidents.views.ts'
import type { Message } from '../kernel/messages/index.ts'

/**
 * Leak incidents (漏えい等), the first seed's principles as a workflow:
 * - one point of contact (窓口の一本化): exactly one owner, changed only by a recorded handover;
 * - a team with roles (チームワーク): legal, public relations, technical, records;
 * - the reporting duty (個人情報保護法第68条, 規則第43条) judged from the facts (incidents.rules.ts)
 *   under the response plan in force on the day the office became aware, re-judged whenever the
 *   facts change, every change of the judgement recorded with who, when and on which facts;
 * - deadlines counted as the plan says (day 1, office holidays) with the office calendar;
 * - the evidence kept: each linked recording gets an `incident` hold, which only a records
 *   manager releases, and only once the incident is closed; drills (訓練) hold nothing.
 * The chronological record, actions, disclosure, reports and notifications are in response.service.ts.
 */

type Plan = PolicyVersion<'incident_response'>

// ---------------------------------------------------------------------------------------------
// Reach

/** The caller's reach for a permission, with what `own` means for it. */
function accessOf(ctx: ServiceContext, own: IncidentAccess['own'], reach: Reach = ctx.reach): IncidentAccess {
  return { reach, caller: ctx.caller, own }
}

/** Who sees an incident's free text (incidents:read_personal), or null. */
function personalAccess(ctx: ServiceContext): IncidentAccess | null {
  const reach = ctx.can('incidents:read_personal')
  return reach ? accessOf(ctx, 'involved', reach) : null
}

/** The incident the caller reads (route permission incidents:read), with its view, or 404. */
async function loadView(ctx: ServiceContext, id: string, access = accessOf(ctx, 'involved')) {
  const found = await findIncidentView(ctx.db, id, access, personalAccess(ctx))
  if (!found) throw notFound('not_found.incident')
  return found
}

/** The incident's header and whether its text is visible, for its lists (entries, actions, histories). */
export async function loadHeader(ctx: ServiceContext, id: string) {
  const found = await findIncidentHeader(ctx.db, id, accessOf(ctx, 'involved'), personalAccess(ctx))
  if (!found) throw notFound('not_found.incident')
  return found
}

/**
 * An open incident the caller handles (route permission incidents:handle), locked until commit:
 * 404 when they cannot even read it, 403 when they read but do not handle it (who opened it
 * without being on the team, supervisors of the unit), 409 once it is closed.
 */
export async function lockForHandling(ctx: ServiceContext, id: string): Promise<IncidentRow> {
  const row = await lockIncident(ctx.db, id, accessOf(ctx, 'involved', ctx.can('incidents:read') ?? 'own'))
  if (!row) throw notFound('not_found.incident')
  if (ctx.reach !== 'all' && !(await incidentReachable(ctx.db, id, accessOf(ctx, 'team')))) {
    throw forbidden('incidents.handlers_only')
  }
  if (row.status === 'closed') throw conflict('incidents.closed')
  return row
}

/** The incident as it now is, after a change the caller made. */
export async function currentView(ctx: ServiceContext, id: string): Promise<IncidentView> {
  const [view] = await presentIncidents(ctx, [await loadView(ctx, id, accessOf(ctx, 'involved', 'all'))])
  return view!
}

// ---------------------------------------------------------------------------------------------
// Judgement and deadlines

function factsOf(row: Pick<IncidentsTable, keyof ReportingFacts>): ReportingFacts {
  return {
    sensitive_personal_information: row.sensitive_personal_information,
    financial_harm_risk: row.financial_harm_risk,
    wrongful_purpose_suspected: row.wrongful_purpose_suspected,
    ordinance_sensitive_categories: row.ordinance_sensitive_categories,
    strongly_encrypted: row.strongly_encrypted,
    persons_affected: row.persons_affected,
  }
}

/** Day `days` of a period whose day 1 is `first`, moved past office holidays when the plan says so. */
async function countDeadline(ctx: ServiceContext, first: string, days: number, rollForward: boolean): Promise<CountedDeadline> {
  const raw = addDays(first, days - 1)
  if (!rollForward) return { days, day_one: first, raw_due_date: raw, due_date: raw, moved_over: [], calendar_version_ids: [] }
  try {
    // The office calendar counts from the day after its start (初日不算入): start the day before day 1.
    // A report is an act toward the Commission, so an end on an office holiday moves (第2条).
    const d = await officeDueDate(ctx.db, addDays(first, -1), days, 'filing')
    return {
      days,
      day_one: first,
      raw_due_date: d.raw_due_date,
      due_date: d.due_date,
      moved_over: d.skipped.map((s) => s.date),
      calendar_version_ids: d.calendar_version_ids,
    }
  } catch (error) {
    if (!(error instanceof CalendarError)) throw error
    throw unprocessable(error.detail, [{ pointer: 'body/aware_at', message: 'incidents.deadlines_outside_calendar' }])
  }
}

interface Decision {
  judgement: Judgement
  deadlines: DeadlinesDoc | null
}

/** The judgement on the facts and, while reportable, the report deadlines (first 速報, final 確報). */
async function decide(ctx: ServiceContext, facts: ReportingFacts, awareDate: string, plan: Plan, drill: boolean): Promise<Decision> {
  const judgement = judge(facts, plan.body, drill)
  if (!judgement.reportable) return { judgement, deadlines: null }
  const r = plan.body.reporting
  const first = dayOne(awareDate, plan.body)
  return {
    judgement,
    deadlines: {
      day_one_rule: r.day_one,
      roll_forward_office_holidays: r.roll_forward_office_holidays,
      warn_days_before: r.warn_days_before,
      first_report: await countDeadline(ctx, first, r.first_report_days, r.roll_forward_office_holidays),
      final_report: await countDeadline(ctx, first, finalReportDays(plan.body, facts.wrongful_purpose_suspected), r.roll_forward_office_holidays),
    },
  }
}

function judgementColumns(plan: Plan, { judgement, deadlines }: Decision) {
  return {
    reportable: judgement.reportable,
    report_reasons: judgement.reasons,
    exemption: judgement.exemption,
    response_policy_id: plan.id,
    first_report_due: deadlines?.first_report.due_date ?? null,
    final_report_due: deadlines?.final_report.due_date ?? null,
    deadlines: JSON.stringify(deadlines),
  }
}

function sameJudgement(row: IncidentRow, plan: Plan, d: Decision): boolean {
  const c = judgementColumns(plan, d)
  return (
    c.reportable === row.reportable &&
    c.report_reasons.join() === row.report_reasons.join() &&
    c.exemption === row.exemption &&
    c.response_policy_id === row.response_policy_id &&
    c.first_report_due === row.first_report_due &&
    c.final_report_due === row.final_report_due
  )
}

/** The plan in force on the awareness date; 422 naming the ordinance categories the plan does not list. */
async function planFor(ctx: ServiceContext, awareDate: string, categories: readonly string[], pointer: string): Promise<Plan> {
  const plan = await policyOn(ctx, 'incident_response', awareDate)
  const known = new Set(plan.body.ordinance_sensitive_categories.map((c) => c.code))
  const errors = categories.flatMap((code, i) =>
    known.has(code) ? [] : [{ pointer: `${pointer}/${i}`, message: { id: 'incidents.not_a_category', params: { version: plan.id } } as Message }],
  )
  if (errors.length > 0) throw unprocessable({ id: 'incidents.unknown_categories', params: { count: errors.length } }, errors)
  return plan
}

/** Times as reported: awareness not in the future nor before the service's dates; occurrence not after awareness. */
function checkTimes(awareAt: Date, occurredAt: Date | null): void {
  const errors: FieldError[] = []
  if (isInTheFuture(awareAt)) errors.push({ pointer: 'body/aware_at', message: 'field.in_future' })
  if (tokyoDate(awareAt) < POLICY_EPOCH) errors.push({ pointer: 'body/aware_at', message: { id: 'field.before_date', params: { date: POLICY_EPOCH } } })
  if (occurredAt && isInTheFuture(occurredAt)) errors.push({ pointer: 'body/occurred_at', message: 'field.in_future' })
  if (occurredAt && occurredAt.getTime() > awareAt.getTime()) errors.push({ pointer: 'body/occurred_at', message: 'incidents.after_aware_at' })
  if (errors.length > 0) throw invalidValues(errors)
}

// ---------------------------------------------------------------------------------------------
// Opening, reading, changing

const HOLD_NOTE = 'Evidence of a leak incident (漏えい等): kept until the incident is closed and a records manager releases the hold'

/** Links records the caller reaches; each linked recording of a real incident gets an incident hold. */
async function linkRecords(ctx: ServiceContext, incident: IncidentRow, refs: CreateIncident['records'] & object, pointer: string): Promise<number> {
  let linked = 0
  for (const [i, ref] of refs.entries()) {
    const record = ref.type === 'recording' ? await readableRecording(ctx, ref.id) : await readableCase(ctx, ref.id)
    if (!record) {
      throw unprocessable(ref.type === 'case' ? 'reach.no_case' : 'reach.no_recording', [
        { pointer: `${pointer}/${i}/id`, message: ref.type === 'case' ? 'reach.no_such_case' : 'reach.no_such_recording' },
      ])
    }
    const added = await linkRecord(ctx.db, {
      incidentId: incident.id,
      type: ref.type,
      recordId: ref.id,
      orgUnitId: record.org_unit_id,
      linkedBy: ctx.caller.subject,
    })
    if (!added) continue
    linked += 1
    // A drill never holds real records: its links are there to practise with.
    if (ref.type === 'recording' && !incident.drill) {
      const holdId = await placeHoldFor(ctx, ref.id, { type: 'incident', reference: incident.id, note: HOLD_NOTE })
      if (holdId) await setLinkHold(ctx.db, incident.id, ref.id, holdId)
    }
  }
  return linked
}

/** Opens an incident: anyone who discovers a leak may (staff in their own unit). */
export async function openIncident(ctx: ServiceContext, input: CreateIncident): Promise<string> {
  const orgUnitId = await unitForNewRecord(ctx, input.org_unit_id, { pointer: 'body/org_unit_id', doing: 'doing.open_incidents' })
  const awareAt = new Date(input.aware_at)
  const occurredAt = input.occurred_at ? new Date(input.occurred_at) : null
  checkTimes(awareAt, occurredAt)
  const awareDate = tokyoDate(awareAt)
  const given = input.reporting_facts ?? {}
  const facts: ReportingFacts = {
    sensitive_personal_information: given.sensitive_personal_information ?? false,
    financial_harm_risk: given.financial_harm_risk ?? false,
    wrongful_purpose_suspected: given.wrongful_purpose_suspected ?? false,
    ordinance_sensitive_categories: given.ordinance_sensitive_categories ?? [],
    strongly_encrypted: given.strongly_encrypted ?? false,
    persons_affected: input.persons_affected ?? null,
  }
  const plan = await planFor(ctx, awareDate, facts.ordinance_sensitive_categories, 'body/reporting_facts/ordinance_sensitive_categories')
  const drill = input.drill ?? false
  const decision = await decide(ctx, facts, awareDate, plan, drill)
  const row = await insertIncident(ctx.db, {
    id: newId(),
    org_unit_id: orgUnitId,
    kind: input.kind,
    drill,
    summary: input.summary,
    discovery: input.discovery,
    occurred_at: occurredAt,
    aware_at: awareAt,
    data_items: input.data_items ?? [],
    persons_affected: facts.persons_affected,
    persons_affected_basis: input.persons_affected_basis ?? null,
    sensitive_personal_information: facts.sensitive_personal_information,
    financial_harm_risk: facts.financial_harm_risk,
    wrongful_purpose_suspected: facts.wrongful_purpose_suspected,
    ordinance_sensitive_categories: [...facts.ordinance_sensitive_categories],
    strongly_encrypted: facts.strongly_encrypted,
    ...judgementColumns(plan, decision),
    owner: input.owner ?? plan.body.point_of_contact ?? ctx.caller.subject,
    opened_by: ctx.caller.subject,
    closed_at: null,
    closed_by: null,
    close_reason: null,
    open_actions_reason: null,
  })
  await recordJudgement(ctx, row, plan, decision, facts, [])
  if (input.team?.length) await addTeamMembers(ctx.db, row.id, input.team, ctx.caller.subject)
  const linked = input.records ? await linkRecords(ctx, row, input.records, 'body/records') : 0
  ctx.publish(incidentChange('incident.opened', row, { kind: row.kind, reportable: row.reportable, reasons: row.report_reasons, records: linked }))
  ctx.audit.resourceId = row.id
  ctx.audit.details = { kind: row.kind, drill, reportable: row.reportable, reasons: row.report_reasons, records: linked, plan_version_id: plan.id }
  return row.id
}

async function recordJudgement(ctx: ServiceContext, row: IncidentRow, plan: Plan, d: Decision, facts: ReportingFacts, changed: string[]): Promise<void> {
  await insertJudgement(ctx.db, {
    incident_id: row.id,
    reportable: d.judgement.reportable,
    reasons: d.judgement.reasons,
    exemption: d.judgement.exemption,
    facts: JSON.stringify({ ...facts, aware_date: tokyoDate(row.aware_at), drill: row.drill }),
    changed_facts: changed,
    policy_version_id: plan.id,
    first_report_due: d.deadlines?.first_report.due_date ?? null,
    final_report_due: d.deadlines?.final_report.due_date ?? null,
    judged_by: ctx.caller.subject,
  })
}

export async function readIncident(ctx: ServiceContext, id: string): Promise<IncidentView> {
  const [view] = await presentIncidents(ctx, [await loadView(ctx, id)])
  return view!
}

export async function listIncidentsInReach(ctx: ServiceContext, filters: IncidentFilters, limit: number, cursor: string | undefined) {
  const rows = await listIncidentViews(ctx.db, accessOf(ctx, 'involved'), personalAccess(ctx), filters, limit + 1, cursor ? decodeCursor(cursor, 2) : null)
  const { page, nextCursor } = paginate(rows, limit, incidentListKey)
  ctx.audit.details = { count: page.length, ids: page.map((r) => r.id), drill: filters.drill }
  return { items: await presentIncidents(ctx, page), next_cursor: nextCursor }
}

const FACT_FIELDS = [
  'sensitive_personal_information',
  'financial_harm_risk',
  'wrongful_purpose_suspected',
  'ordinance_sensitive_categories',
  'strongly_encrypted',
] as const

/** A change to the descriptive fields and facts (If-Match); the judgement and deadlines follow the facts. */
export async function updateIncidentFacts(ctx: ServiceContext, id: string, input: UpdateIncident, ifMatch: string | undefined): Promise<void> {
  const row = await lockForHandling(ctx, id)
  requireIfMatch(ifMatch, row.version)
  const changes: Updateable<IncidentsTable> = {}
  const changed: string[] = []
  const set = <K extends keyof IncidentsTable>(field: K, value: IncidentRow[K]) => {
    if (JSON.stringify(value) === JSON.stringify(row[field])) return
    Object.assign(changes, { [field]: value })
    changed.push(field)
  }
  if (input.kind !== undefined) set('kind', input.kind)
  if (input.summary !== undefined) set('summary', input.summary)
  if (input.discovery !== undefined) set('discovery', input.discovery)
  if (input.data_items !== undefined) set('data_items', input.data_items)
  if (input.persons_affected !== undefined) set('persons_affected', input.persons_affected)
  if (input.persons_affected_basis !== undefined) set('persons_affected_basis', input.persons_affected_basis)
  if (input.aware_at !== undefined) set('aware_at', new Date(input.aware_at))
  if (input.occurred_at !== undefined) set('occurred_at', input.occurred_at === null ? null : new Date(input.occurred_at))
  for (const field of FACT_FIELDS) {
    const value = input.reporting_facts?.[field]
    if (value !== undefined) set(field, value as never)
  }
  if (changed.length === 0) return
  const next = { ...row, ...changes } as IncidentRow
  checkTimes(next.aware_at, next.occurred_at)

  // The judgement follows the facts, the number of persons and the awareness date.
  const facts = factsOf(next)
  const awareDate = tokyoDate(next.aware_at)
  const plan = await planFor(ctx, awareDate, facts.ordinance_sensitive_categories, 'body/reporting_facts/ordinance_sensitive_categories')
  const decision = await decide(ctx, facts, awareDate, plan, row.drill)
  const rejudged = !sameJudgement(row, plan, decision)
  const updated = await updateIncident(ctx.db, id, { ...changes, ...(rejudged ? judgementColumns(plan, decision) : {}) })
  ctx.publish(incidentChange('incident.updated', updated, { fields: changed }))
  if (rejudged) {
    const factChanges = changed.filter((f) => (FACT_FIELDS as readonly string[]).includes(f) || f === 'persons_affected' || f === 'aware_at')
    await recordJudgement(ctx, updated, plan, decision, facts, factChanges)
    ctx.publish(
      incidentChange('incident.judgement_changed', updated, {
        reportable: updated.reportable,
        reasons: updated.report_reasons,
        first_report_due: updated.first_report_due,
        final_report_due: updated.final_report_due,
      }),
    )
  }
  ctx.audit.details = { fields: changed, rejudged, reportable: updated.reportable, reasons: updated.report_reasons }
}

/** Every judgement of the incident, oldest first, with who made it and on which facts. */
export async function judgementsOf(ctx: ServiceContext, id: string) {
  const row = await loadHeader(ctx, id)
  const history = await judgementHistory(ctx.db, row.id)
  const ref = await refsFor(
    ctx,
    history.map((j) => j.judged_by),
  )
  ctx.audit.details = { count: history.length }
  return {
    items: history.map((j) => ({
      seq: j.seq,
      reportable: j.reportable,
      reasons: j.reasons,
      exemption: j.exemption,
      facts: j.facts as Record<string, unknown>,
      changed_facts: j.changed_facts,
      policy_version_id: j.policy_version_id,
      first_report_due: j.first_report_due,
      final_report_due: j.final_report_due,
      judged_by: ref(j.judged_by),
      judged_at: j.judged_at.toISOString(),
    })),
  }
}

// ---------------------------------------------------------------------------------------------
// One owner, a team, the records

/** Hands the incident to a new owner (窓口): the owner, the desk or a records manager; recorded and audited. */
export async function handOver(ctx: ServiceContext, id: string, to: string, reason: string): Promise<void> {
  const row = await lockForHandling(ctx, id)
  const reach = ctx.can('incidents:hand_over')
  if (!reach || !(await incidentReachable(ctx.db, id, accessOf(ctx, 'owner', reach)))) {
    throw forbidden('incidents.handover_by')
  }
  if (to === row.owner) throw conflict({ id: 'incidents.already_owner', params: { subject: to } })
  const handover = await insertHandover(ctx.db, { incident_id: id, from_owner: row.owner, to_owner: to, reason, handed_over_by: ctx.caller.subject })
  const updated = await updateIncident(ctx.db, id, { owner: to })
  ctx.publish(incidentChange('incident.handed_over', updated, { handover_id: handover.id, from: row.owner, to }))
  ctx.audit.details = { handover_id: handover.id, from: row.owner, to }
}

export async function handoversOf(ctx: ServiceContext, id: string) {
  const row = await loadHeader(ctx, id)
  const history = await handoverHistory(ctx.db, row.id)
  const ref = await refsFor(
    ctx,
    history.flatMap((h) => [h.from_owner, h.to_owner, h.handed_over_by]),
  )
  ctx.audit.details = { count: history.length }
  return {
    items: history.map((h) => ({
      id: h.id,
      from: ref(h.from_owner),
      to: ref(h.to_owner),
      reason: h.reason,
      handed_over_by: ref(h.handed_over_by),
      handed_over_at: h.handed_over_at.toISOString(),
    })),
  }
}

export async function addMember(ctx: ServiceContext, id: string, member: { subject: string; role: TeamRole }): Promise<void> {
  await lockForHandling(ctx, id)
  const [added] = await addTeamMembers(ctx.db, id, [member], ctx.caller.subject)
  if (!added) throw conflict({ id: 'incidents.already_member', params: { subject: member.subject, role: member.role } })
  const updated = await updateIncident(ctx.db, id, {})
  ctx.publish(incidentChange('incident.team_changed', updated, { added: { member_id: added.id, subject: added.subject, role: added.role } }))
  ctx.audit.details = { member_id: added.id, subject: added.subject, role: added.role }
}

export async function removeMember(ctx: ServiceContext, id: string, memberId: string): Promise<void> {
  await lockForHandling(ctx, id)
  const removed = await removeTeamMember(ctx.db, id, memberId, ctx.caller.subject)
  if (!removed) throw notFound('not_found.team_member')
  const updated = await updateIncident(ctx.db, id, {})
  ctx.publish(incidentChange('incident.team_changed', updated, { removed: { member_id: removed.id, subject: removed.subject, role: removed.role } }))
  ctx.audit.details = { member_id: removed.id, subject: removed.subject, role: removed.role }
}

export async function addRecords(ctx: ServiceContext, id: string, records: NonNullable<CreateIncident['records']>): Promise<void> {
  const row = await lockForHandling(ctx, id)
  const linked = await linkRecords(ctx, row, records, 'body/records')
  if (linked === 0) return
  const updated = await updateIncident(ctx.db, id, {})
  ctx.publish(incidentChange('incident.records_linked', updated, { records: linked }))
  ctx.audit.details = { records: linked }
}

// ---------------------------------------------------------------------------------------------
// Closing, and the holds after it

/** Closes the incident: 409 while an action is open, unless the caller says why (open_actions_reason). */
export async function closeIncident(ctx: ServiceContext, id: string, input: { reason: string; open_actions_reason?: string }): Promise<void> {
  await lockForHandling(ctx, id)
  const openActions = await actionsOf(ctx.db, id, { openOnly: true })
  if (openActions.length > 0 && !input.open_actions_reason) {
    throw conflict(
      { id: 'incidents.actions_open', params: { count: openActions.length, titles: openActions.map((a) => a.title) } },
      { open_actions: openActions.map((a) => ({ id: a.id, title: a.title, status: a.status })) },
    )
  }
  const updated = await updateIncident(ctx.db, id, {
    status: 'closed',
    closed_at: new Date(),
    closed_by: ctx.caller.subject,
    close_reason: input.reason,
    open_actions_reason: openActions.length > 0 ? (input.open_actions_reason ?? null) : null,
  })
  ctx.publish(incidentChange('incident.closed', updated, { open_actions: openActions.length }))
  ctx.audit.details = { open_actions: openActions.length }
}

/** Releases the incident's holds (records managers), once it is closed: the evidence is no longer needed for it. */
export async function releaseIncidentHolds(ctx: ServiceContext, id: string, reason: string) {
  const row = await lockIncident(ctx.db, id, accessOf(ctx, 'involved'))
  if (!row) throw notFound('not_found.incident')
  if (row.status !== 'closed') throw conflict('incidents.open_holds')
  const released = await releaseHoldsFor(ctx, { type: 'incident', reference: id }, reason)
  if (released.length > 0) ctx.publish(incidentChange('incident.holds_released', row, { holds: released.length }))
  ctx.audit.details = { released: released.length }
  return { incident_id: id, released_hold_ids: released }
}
