import type { OneStatement, ServiceContext } from '../kernel/context.ts'
import { conflict, forbidden, notFound, unprocessable } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import { isInTheFuture } from '../kernel/time.ts'
import { type StaffRef, staffRef, staffRefs } from '../staff/staff.repository.ts'
import { casePolicies, loadCase, presentCases, reachesCase } from './cases.service.ts'
import { LADDER_TYPES, WARNING_TYPES } from './event-types.ts'
import {
  appendEvent,
  appendEventChecked,
  caseHasEvent,
  type EventRow,
  findEventOfCase,
  isSeqCollision,
  listEvents,
  findCaseWithTimeline,
} from './events.repository.ts'
import type { CaseEventView, CreateEvent, TimelineView } from './events.schemas.ts'
import { csvField, japanTime } from '../kernel/csv.ts'

/**
 * Records an event on a case, with the seeds' rules:
 * - an apology limited to the discomfort (limited_apology) may be recorded by any responder;
 * - fault is acknowledged (fault_acknowledged) only by a supervisor or the desk, and only after
 *   a fact_check event exists (非を認めて謝罪するのは、事実確認をして社内で判断をしたとき);
 * - a closed case takes no events but notes by a supervisor or the desk;
 * - a correction names an event of the same case; the original stays as it was.
 */
export async function recordEvent(ctx: ServiceContext, caseId: string, input: CreateEvent): Promise<CaseEventView> {
  if (ctx.oneStatement) return recordEventInOneStatement(ctx, ctx.oneStatement, caseId, input)
  const row = await loadCase(ctx, caseId, { lock: true })
  const occurredAt = new Date(input.occurred_at)
  checkEventInput(input, occurredAt)
  if (row.status === 'closed') {
    if (input.type !== 'note') throw CLOSED()
    if (!(await reachesCase(ctx, caseId, 'cases:manage'))) throw CLOSED_TO_NOTES()
  }
  if (input.type === 'fault_acknowledged') {
    if (!(await reachesCase(ctx, caseId, 'cases:manage'))) throw FAULT_BY_MANAGERS()
    if (!(await caseHasEvent(ctx.db, caseId, 'fact_check'))) throw FAULT_AFTER_FACT_CHECK()
  }
  if (input.corrects_event_id && !(await findEventOfCase(ctx.db, caseId, input.corrects_event_id))) throw NOT_AN_EVENT_OF_THE_CASE()

  const event = await appendEvent(ctx.db, {
    caseId,
    type: input.type,
    occurredAt,
    actor: ctx.caller.subject,
    description: input.description,
    quote: input.quote ?? null,
    details: input.details ?? {},
    correctsEventId: input.corrects_event_id ?? null,
  })
  ctx.publish({
    kind: 'event.appended',
    resourceType: 'case',
    resourceId: caseId,
    orgUnitId: row.org_unit_id,
    data: { event_id: event.id, event_type: event.type, seq: event.seq },
  })
  ctx.audit.details = { event_id: event.id, event_type: event.type }
  const [view] = await presentEvents(ctx, [event], row.personal_visible)
  return view!
}

const CLOSED = () => conflict('cases.closed_notes_only')
const CLOSED_TO_NOTES = () => conflict('events.closed_notes_by_managers')
const FAULT_BY_MANAGERS = () => forbidden('events.fault_by_managers')
const FAULT_AFTER_FACT_CHECK = () => conflict('events.fault_needs_fact_check')
const NOT_AN_EVENT_OF_THE_CASE = () => unprocessable('events.corrected_not_on_case', [{ pointer: 'body/corrects_event_id', message: 'events.no_such_event' }])

/** The rules that need nothing from the database. */
function checkEventInput(input: CreateEvent, occurredAt: Date): void {
  if (isInTheFuture(occurredAt)) {
    throw unprocessable('events.in_future', [{ pointer: 'body/occurred_at', message: 'field.in_future' }])
  }
  if ((input.type === 'correction') !== (input.corrects_event_id !== undefined)) {
    throw unprocessable('events.correction_names_event', [
      { pointer: 'body/corrects_event_id', message: input.type === 'correction' ? 'events.required_for_correction' : 'events.only_for_corrections' },
    ])
  }
}

// Runs of the statement when the next seq was taken meanwhile (events.repository.ts): each round
// of writers queued on one case lets at least the first through, so this covers 50 at once.
const SEQ_ATTEMPTS = 50

/**
 * The same rules, decided by one statement in autocommit (no transaction): the statement checks
 * reach and the rules, writes the event, the staff profile, the audit entry and the change-feed
 * row, or nothing; which rule refused is read from what it returns, in the order above.
 */
async function recordEventInOneStatement(ctx: ServiceContext, statement: OneStatement, caseId: string, input: CreateEvent): Promise<CaseEventView> {
  const occurredAt = new Date(input.occurred_at)
  try {
    checkEventInput(input, occurredAt)
  } catch (error) {
    // A case out of reach is 404 whatever the body says (no probing through 422s).
    await loadCase(ctx, caseId)
    throw error
  }
  const id = newId()
  const event = {
    id,
    caseId,
    type: input.type,
    occurredAt,
    actor: ctx.caller.subject,
    description: input.description,
    quote: input.quote ?? null,
    details: input.details ?? {},
    correctsEventId: input.corrects_event_id ?? null,
    policyVersionId: null,
  }
  ctx.audit.details = { event_id: id, event_type: input.type }
  const access = { caller: ctx.caller, reach: ctx.reach, personalReach: ctx.can('cases:read_personal'), manageReach: ctx.can('cases:manage') }
  const auditRows = statement.auditRows(201)
  for (let attempt = 1; ; attempt++) {
    let found: Awaited<ReturnType<typeof appendEventChecked>>
    try {
      found = await appendEventChecked(ctx.db, event, access, auditRows)
    } catch (error) {
      if (isSeqCollision(error) && attempt < SEQ_ATTEMPTS) continue
      throw error
    }
    if (!found) throw notFound('not_found.case')
    if (found.seq === null || found.recorded_at === null) {
      if (found.status === 'closed' && input.type !== 'note') throw CLOSED()
      if (found.status === 'closed' && !found.manageable) throw CLOSED_TO_NOTES()
      if (input.type === 'fault_acknowledged' && !found.manageable) throw FAULT_BY_MANAGERS()
      if (input.type === 'fault_acknowledged' && !found.fact_checked) throw FAULT_AFTER_FACT_CHECK()
      if (!found.correction_found) throw NOT_AN_EVENT_OF_THE_CASE()
      throw new Error('the event was refused by no known rule')
    }
    const row: EventRow = {
      id,
      case_id: caseId,
      seq: found.seq,
      type: input.type,
      occurred_at: occurredAt,
      recorded_at: found.recorded_at,
      actor: event.actor,
      description: event.description,
      quote: event.quote,
      details: event.details,
      corrects_event_id: event.correctsEventId,
      policy_version_id: null,
    }
    const [view] = await presentEvents(ctx, [row], found.personal_visible)
    return view!
  }
}

/** A page of a case's events in the order they were written (seq). */
export async function listCaseEvents(ctx: ServiceContext, caseId: string, limit: number, cursor: string | undefined) {
  const row = await loadCase(ctx, caseId)
  const after = cursor ? Number(decodeCursor(cursor, 1)[0]) : 0
  const rows = await listEvents(ctx.db, row.id, Number.isInteger(after) ? after : 0, limit + 1)
  const { page, nextCursor } = paginate(rows, limit, (e) => [e.seq])
  ctx.audit.details = { count: page.length }
  return { items: await presentEvents(ctx, page, row.personal_visible), next_cursor: nextCursor }
}

function eventView(row: EventRow, refs: Map<string, StaffRef>, personalVisible: boolean): CaseEventView {
  return {
    id: row.id,
    case_id: row.case_id,
    seq: row.seq,
    type: row.type,
    occurred_at: row.occurred_at.toISOString(),
    recorded_at: row.recorded_at.toISOString(),
    actor: refs.get(row.actor) ?? { id: row.actor, display_name: row.actor },
    description: personalVisible ? row.description : null,
    quote: personalVisible ? row.quote : null,
    details: row.details,
    corrects_event_id: row.corrects_event_id,
    policy_version_id: row.policy_version_id,
    redacted: !personalVisible && (row.description !== null || row.quote !== null),
  }
}

async function presentEvents(ctx: ServiceContext, rows: readonly EventRow[], personalVisible: boolean): Promise<CaseEventView[]> {
  const mode = (await casePolicies(ctx)).nameDisplay.body.mode
  const { caller } = ctx
  // The caller's names are in their token: only other people's are looked up.
  const others = rows.map((r) => r.actor).filter((a) => a !== caller.subject)
  const refs = others.length > 0 ? await staffRefs(ctx.db, others, mode) : new Map<string, StaffRef>()
  refs.set(caller.subject, callerRef(ctx, mode))
  return rows.map((r) => eventView(r, refs, personalVisible))
}

function callerRef({ caller }: ServiceContext, mode: Parameters<typeof staffRef>[2]): StaffRef {
  return staffRef(caller.subject, { full_name: caller.name, family_name: caller.familyName, business_name: caller.businessName }, mode)
}

/** The timeline: events in occurred order, corrections against what they correct, the ladder. */
export async function buildTimeline(ctx: ServiceContext, caseId: string): Promise<TimelineView> {
  const row = await findCaseWithTimeline(ctx.db, caseId, ctx.reach, ctx.caller, ctx.can('cases:read_personal'))
  if (!row) throw notFound('not_found.case')
  const mode = (await casePolicies(ctx)).nameDisplay.body.mode
  // The actors' names came with the events; the caller's are in their token.
  const refs = new Map(row.events.map((e) => [e.actor, staffRef(e.actor, e.actor_profile, mode)]))
  refs.set(ctx.caller.subject, callerRef(ctx, mode))
  const events = row.events.map((e) => eventView(e, refs, row.personal_visible))
  // Each correction is shown against the original event it ultimately corrects (a correction
  // of a correction goes with the same original), in the order the corrections were written.
  const byId = new Map(events.map((e) => [e.id, e]))
  const originalOf = (e: CaseEventView): CaseEventView => {
    let current = e
    while (current.corrects_event_id && byId.has(current.corrects_event_id)) current = byId.get(current.corrects_event_id)!
    return current
  }
  const corrections = new Map<string, CaseEventView[]>()
  for (const e of events) {
    if (e.type !== 'correction') continue
    const original = originalOf(e)
    corrections.set(original.id, [...(corrections.get(original.id) ?? []), e])
  }
  for (const list of corrections.values()) list.sort((a, b) => a.seq - b.seq)
  const entries = events.filter((e) => e.type !== 'correction').map((e) => ({ ...e, corrections: corrections.get(e.id) ?? [] }))

  const counts = Object.fromEntries(LADDER_TYPES.map((t) => [t, events.filter((e) => e.type === t).length])) as TimelineView['escalation_ladder']['counts']
  const firstPolice = events.find((e) => e.type === 'police_called')
  const warningsBeforePolice = firstPolice
    ? events.filter((e) => WARNING_TYPES.includes(e.type) && e.occurred_at <= firstPolice.occurred_at && e.seq !== firstPolice.seq).length
    : null

  const [summary] = await presentCases(ctx, [row])
  ctx.audit.details = { events: events.length }
  return {
    case: summary!,
    entries,
    escalation_ladder: { counts, warnings_before_police: warningsBeforePolice },
    generated_at: new Date().toISOString(),
  }
}

const CSV_COLUMNS = ['occurred_at', 'recorded_at', 'seq', 'type', 'actor', 'description', 'quote', 'corrects_seq', 'corrected_by_seq', 'target'] as const

/**
 * The timeline as CSV for a report (timelineCsv), with the people added as responders named as
 * the name policy allows, like every actor.
 */
export async function timelineCsvOf(ctx: ServiceContext, caseId: string): Promise<{ number: string; csv: string }> {
  const timeline = await buildTimeline(ctx, caseId)
  const subjects = timeline.entries
    .flatMap((e) => [e, ...e.corrections])
    .map((e) => (e.type === 'responder_added' ? detail(e, 'subject') : ''))
    .filter((subject) => subject !== '')
  const mode = (await casePolicies(ctx)).nameDisplay.body.mode
  const refs = subjects.length > 0 ? await staffRefs(ctx.db, [...new Set(subjects)], mode) : new Map<string, StaffRef>()
  return { number: timeline.case.number, csv: timelineCsv(timeline, (subject) => refs.get(subject)?.display_name ?? subject) }
}

/**
 * UTF-8 with a byte-order mark so Excel shows Japanese; times in Japan time with the offset;
 * formula-looking cells defused (kernel/csv.ts). `target` names what an event acted on: the
 * status a status change led to, the person added as responder.
 */
function timelineCsv(timeline: TimelineView, nameOf: (subject: string) => string): string {
  const bySeq = new Map<string, number>()
  const rows: CaseEventView[] = []
  for (const entry of timeline.entries) {
    const { corrections, ...event } = entry
    rows.push(event, ...corrections)
  }
  rows.sort((a, b) => (a.occurred_at === b.occurred_at ? a.seq - b.seq : a.occurred_at < b.occurred_at ? -1 : 1))
  for (const r of rows) bySeq.set(r.id, r.seq)
  const lines = [CSV_COLUMNS.join(',')]
  for (const r of rows) {
    const correctedBy = rows.filter((c) => c.corrects_event_id === r.id).map((c) => c.seq)
    lines.push(
      [
        japanTime(r.occurred_at),
        japanTime(r.recorded_at),
        String(r.seq),
        r.type,
        r.actor.display_name,
        r.description ?? '',
        r.quote ?? '',
        r.corrects_event_id ? String(bySeq.get(r.corrects_event_id) ?? '') : '',
        correctedBy.join(' '),
        targetOf(r, nameOf),
      ]
        .map((cell) => csvField(cell))
        .join(','),
    )
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`
}

function targetOf(event: CaseEventView, nameOf: (subject: string) => string): string {
  if (event.type === 'responder_added') return nameOf(detail(event, 'subject'))
  return detail(event, 'to')
}

/** A text value of an event's details ('' when absent). */
function detail(event: CaseEventView, key: string): string {
  const value = (event.details as Record<string, unknown>)[key]
  return typeof value === 'string' ? value : ''
}
