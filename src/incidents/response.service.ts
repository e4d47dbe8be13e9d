import type { ServiceContext } from '../kernel/context.ts'
import { conflict, type FieldError, invalidValues, notFound } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import { requireIfMatch } from '../kernel/preconditions.ts'
import { isInTheFuture, todayInTokyo, tokyoDate } from '../kernel/time.ts'
import { loadHeader, lockForHandling } from './incidents.service.ts'
import {
  actionsOf,
  appendEntry,
  entriesOf,
  findAction,
  insertAction,
  insertDisclosure,
  insertNotification,
  insertReport,
  type IncidentRow,
  listEntries,
  updateAction,
  updateIncident,
} from './incidents.repository.ts'
import type { ActionView, CreateAction, CreateEntry, DecideDisclosure, EntryView, FileReport, RecordNotification, UpdateAction } from './incidents.schemas.ts'
import { incidentChange, presentActions, presentEntries } from './incidents.views.ts'
import type { Message } from '../kernel/messages/index.ts'

/**
 * The response to an incident, after the seed:
 * - 事実確認と情報の一元管理: one chronological record of facts, each confirmed or not, corrected
 *   by later entries (nothing changes or disappears), and statements to the outside that rely on
 *   confirmed, current facts only (憶測や類推による判断や不確かな情報に基づく発言は混乱を招く);
 * - 被害拡大防止・再発防止: actions with an owner, a due date and a status;
 * - 透明性・開示: publish, or withhold only where publication would widen the damage;
 * - the reports to the Commission (速報, 確報) and the notification of the persons affected.
 */

function fail(errors: FieldError[]): never {
  throw invalidValues(errors)
}

/** A date someone reports for the incident: not before the day the office became aware, not after today. */
function checkDate(row: IncidentRow, date: string, pointer: string): FieldError[] {
  const aware = tokyoDate(row.aware_at)
  if (date < aware) return [{ pointer, message: { id: 'incidents.before_aware', params: { date: aware } } }]
  if (date > todayInTokyo()) return [{ pointer, message: 'field.after_today_plain' }]
  return []
}

// ---------------------------------------------------------------------------------------------
// The chronological record

function entryShapeErrors(input: CreateEntry): FieldError[] {
  const errors: FieldError[] = []
  const only = (field: keyof CreateEntry, types: Message) => {
    if (input[field] !== undefined) errors.push({ pointer: `body/${field}`, message: { id: 'field.only_for', params: { types: { text: types } } } })
  }
  const needs = (field: keyof CreateEntry) => {
    if (input[field] === undefined)
      errors.push({ pointer: `body/${field}`, message: { id: 'field.required_for', params: { type: { text: `entry.${input.type}` as const } } } })
  }
  if (input.type === 'statement') {
    needs('relies_on')
    needs('audience')
    only('confirmed', 'entries.facts_and_corrections')
    only('corrects_entry_id', 'entries.corrections')
  } else {
    needs('confirmed')
    only('relies_on', 'entries.statements')
    only('audience', 'entries.statements')
    if (input.type === 'correction') needs('corrects_entry_id')
    else only('corrects_entry_id', 'entries.corrections')
  }
  return errors
}

/**
 * Appends a fact, a correction or a statement. A correction names a fact or correction of this
 * incident; a statement names the facts it relies on, each a fact (or correction) that is
 * confirmed and not itself corrected since: 409 otherwise.
 */
export async function addEntry(ctx: ServiceContext, id: string, input: CreateEntry): Promise<EntryView> {
  const row = await lockForHandling(ctx, id)
  const occurredAt = input.occurred_at ? new Date(input.occurred_at) : new Date()
  const errors = entryShapeErrors(input)
  if (isInTheFuture(occurredAt)) errors.push({ pointer: 'body/occurred_at', message: 'field.in_future' })
  if (errors.length > 0) fail(errors)

  if (input.corrects_entry_id) {
    const [target] = await entriesOf(ctx.db, id, [input.corrects_entry_id])
    if (!target) fail([{ pointer: 'body/corrects_entry_id', message: 'incidents.no_such_entry' }])
    if (target.type === 'statement') fail([{ pointer: 'body/corrects_entry_id', message: 'incidents.statement_not_corrected' }])
  }
  if (input.relies_on) {
    const found = new Map((await entriesOf(ctx.db, id, input.relies_on)).map((e) => [e.id, e]))
    const missing = input.relies_on.flatMap((e, i) => (found.has(e) ? [] : [{ pointer: `body/relies_on/${i}`, message: 'incidents.no_such_entry' as const }]))
    if (missing.length > 0) fail(missing)
    const refused = [...found.values()].filter((e) => e.type === 'statement' || e.confirmed !== true || e.corrected_by.length > 0)
    if (refused.length > 0) {
      throw conflict(
        {
          id: 'incidents.statement_relies',
          params: {
            entries: {
              texts: refused.map(
                (e): Message => ({
                  id: e.type === 'statement' ? 'incidents.entry_statement' : e.confirmed !== true ? 'incidents.entry_unconfirmed' : 'incidents.entry_corrected',
                  params: { seq: e.seq },
                }),
              ),
            },
          },
        },
        {
          refused: refused.map((e) => ({
            id: e.id,
            seq: e.seq,
            reason: e.type === 'statement' ? 'statement' : e.confirmed !== true ? 'unconfirmed' : 'corrected',
          })),
        },
      )
    }
  }

  const entry = await appendEntry(ctx.db, {
    incident_id: id,
    type: input.type,
    occurred_at: occurredAt,
    actor: ctx.caller.subject,
    text: input.text,
    confirmed: input.type === 'statement' ? null : (input.confirmed ?? false),
    corrects_entry_id: input.corrects_entry_id ?? null,
    relies_on: input.relies_on ?? [],
    audience: input.audience ?? null,
  })
  ctx.publish(incidentChange('incident.entry_appended', row, { entry_id: entry.id, entry_type: entry.type, seq: entry.seq, confirmed: entry.confirmed }))
  ctx.audit.details = { entry_id: entry.id, entry_type: entry.type, confirmed: entry.confirmed }
  const [view] = await presentEntries(ctx, [entry], true)
  return view!
}

/** A page of the incident's record in the order it was written. */
export async function entriesPage(ctx: ServiceContext, id: string, limit: number, cursor: string | undefined) {
  const row = await loadHeader(ctx, id)
  const after = cursor ? Number(decodeCursor(cursor, 1)[0]) : 0
  const rows = await listEntries(ctx.db, row.id, Number.isInteger(after) ? after : 0, limit + 1)
  const { page, nextCursor } = paginate(rows, limit, (e) => [e.seq])
  ctx.audit.details = { count: page.length }
  return { items: await presentEntries(ctx, page, row.personal_visible), next_cursor: nextCursor }
}

// ---------------------------------------------------------------------------------------------
// Actions (被害拡大防止・再発防止)

export async function addAction(ctx: ServiceContext, id: string, input: CreateAction): Promise<ActionView> {
  const row = await lockForHandling(ctx, id)
  const action = await insertAction(ctx.db, {
    id: newId(),
    incident_id: id,
    kind: input.kind,
    title: input.title,
    owner: input.owner,
    due_on: input.due_on,
    note: input.note ?? null,
    created_by: ctx.caller.subject,
    completed_at: null,
  })
  // Open actions are part of the incident's view: its version moves on.
  const updated = await updateIncident(ctx.db, row.id, {})
  ctx.publish(incidentChange('incident.action_added', updated, { action_id: action.id, action_kind: action.kind, due_on: action.due_on }))
  ctx.audit.details = { action_id: action.id, action_kind: action.kind }
  const [view] = await presentActions(ctx, [action])
  return view!
}

const FINISHED = ['done', 'cancelled']

/** Changes an action (If-Match with the action's ETag when sent): its status, owner, due date, title or note. */
export async function changeAction(ctx: ServiceContext, id: string, actionId: string, input: UpdateAction, ifMatch: string | undefined): Promise<ActionView> {
  await lockForHandling(ctx, id)
  const action = await findAction(ctx.db, id, actionId)
  if (!action) throw notFound('not_found.action')
  if (ifMatch !== undefined) requireIfMatch(ifMatch, action.version)
  const status = input.status ?? action.status
  const finishedNow = FINISHED.includes(status) && !FINISHED.includes(action.status)
  const updated = await updateAction(ctx.db, actionId, {
    ...(input.title !== undefined ? { title: input.title } : {}),
    ...(input.owner !== undefined ? { owner: input.owner } : {}),
    ...(input.due_on !== undefined ? { due_on: input.due_on } : {}),
    ...(input.note !== undefined ? { note: input.note } : {}),
    status,
    completed_at: FINISHED.includes(status) ? (finishedNow ? new Date() : action.completed_at) : null,
  })
  const incident = await updateIncident(ctx.db, id, {})
  ctx.publish(incidentChange('incident.action_changed', incident, { action_id: actionId, action_status: updated.status }))
  ctx.audit.details = { action_id: actionId, from: action.status, to: updated.status }
  const [view] = await presentActions(ctx, [updated])
  return view!
}

export async function actionList(ctx: ServiceContext, id: string) {
  const row = await loadHeader(ctx, id)
  const rows = await actionsOf(ctx.db, row.id)
  ctx.audit.details = { count: rows.length }
  return { items: await presentActions(ctx, rows) }
}

// ---------------------------------------------------------------------------------------------
// Disclosure (透明性・開示), reports, notifications

/**
 * The disclosure decision, a record of its own (a later decision supersedes it, both stay):
 * publish, or withhold, which needs the seed's one exception: publication would widen the damage
 * (情報公開により被害の拡大が見込まれるような特殊なケース).
 */
export async function decideDisclosure(ctx: ServiceContext, id: string, input: DecideDisclosure): Promise<void> {
  const row = await lockForHandling(ctx, id)
  const errors: FieldError[] = []
  if (input.decision === 'withhold' && !input.exception) {
    errors.push({ pointer: 'body/exception', message: 'incidents.withhold_needs_exception' })
  }
  if (input.decision === 'publish' && input.exception) errors.push({ pointer: 'body/exception', message: 'incidents.only_withholding' })
  if (input.decision === 'withhold' && input.published_on) errors.push({ pointer: 'body/published_on', message: 'incidents.only_publishing' })
  if (input.published_on) errors.push(...checkDate(row, input.published_on, 'body/published_on'))
  if (errors.length > 0) fail(errors)
  await insertDisclosure(ctx.db, {
    incident_id: id,
    decision: input.decision,
    exception: input.exception ?? null,
    reason: input.reason,
    published_on: input.published_on ?? null,
    channel: input.channel ?? null,
    decided_by: ctx.caller.subject,
  })
  const updated = await updateIncident(ctx.db, id, {})
  ctx.publish(incidentChange('incident.disclosure_decided', updated, { decision: input.decision }))
  ctx.audit.details = { decision: input.decision, exception: input.exception ?? null }
}

/** A report to the Commission: one first report (速報) and one final report (確報); a second of a kind is 409. */
export async function fileReport(ctx: ServiceContext, id: string, input: FileReport): Promise<void> {
  const row = await lockForHandling(ctx, id)
  const errors = checkDate(row, input.submitted_on, 'body/submitted_on')
  if (errors.length > 0) fail(errors)
  const recorded = await insertReport(ctx.db, {
    incident_id: id,
    kind: input.kind,
    submitted_on: input.submitted_on,
    content_summary: input.content_summary,
    reference_number: input.reference_number ?? null,
    recorded_by: ctx.caller.subject,
  })
  if (!recorded) throw conflict(input.kind === 'first' ? 'incidents.first_report_recorded' : 'incidents.final_report_recorded')
  const due = input.kind === 'first' ? row.first_report_due : row.final_report_due
  const updated = await updateIncident(ctx.db, id, {})
  ctx.publish(incidentChange('incident.report_filed', updated, { report_kind: input.kind, submitted_on: input.submitted_on, due_date: due }))
  ctx.audit.details = { report_kind: input.kind, submitted_on: input.submitted_on, due_date: due, late: due !== null && input.submitted_on > due }
}

/**
 * The notification of the persons affected (本人通知, 第68条第2項): when, how and how many; or
 * why it was not possible (第1号: difficult, with the alternative taken, e.g. publication; 第2号:
 * the information is non-disclosable under 第78条第1項).
 */
export async function recordNotification(ctx: ServiceContext, id: string, input: RecordNotification): Promise<void> {
  const row = await lockForHandling(ctx, id)
  const errors: FieldError[] = []
  if (input.not_possible_reason === undefined) {
    for (const field of ['notified_on', 'method', 'persons'] as const) {
      if (input[field] === undefined) errors.push({ pointer: `body/${field}`, message: 'incidents.required_unless_not_possible' })
    }
    for (const field of ['alternative', 'alternative_detail'] as const) {
      if (input[field] !== undefined) errors.push({ pointer: `body/${field}`, message: 'incidents.only_not_possible' })
    }
    if (input.notified_on) errors.push(...checkDate(row, input.notified_on, 'body/notified_on'))
  } else {
    for (const field of ['notified_on', 'method', 'persons'] as const) {
      if (input[field] !== undefined) errors.push({ pointer: `body/${field}`, message: 'incidents.not_for_not_possible' })
    }
    if (input.not_possible_reason === 'notification_difficult' && input.alternative === undefined) {
      errors.push({ pointer: 'body/alternative', message: 'incidents.alternative_required' })
    }
  }
  if (errors.length > 0) fail(errors)
  await insertNotification(ctx.db, {
    incident_id: id,
    notified_on: input.notified_on ?? null,
    method: input.method ?? null,
    persons: input.persons ?? null,
    not_possible_reason: input.not_possible_reason ?? null,
    alternative: input.alternative ?? null,
    alternative_detail: input.alternative_detail ?? null,
    note: input.note ?? null,
    recorded_by: ctx.caller.subject,
  })
  const updated = await updateIncident(ctx.db, id, {})
  ctx.publish(
    incidentChange('incident.notification_recorded', updated, { persons: input.persons ?? null, not_possible_reason: input.not_possible_reason ?? null }),
  )
  ctx.audit.details = { persons: input.persons ?? null, not_possible_reason: input.not_possible_reason ?? null, alternative: input.alternative ?? null }
}
