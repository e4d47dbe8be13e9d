import type { Permission, Reach } from '../kernel/access.ts'
import type { OneStatement, ServiceContext } from '../kernel/context.ts'
import type { Queryable } from '../kernel/db.ts'
import { conflict, forbidden, notFound } from '../kernel/errors.ts'
import { newId } from '../kernel/ids.ts'
import { decodeCursor, paginate } from '../kernel/pagination.ts'
import type { DomainChange } from '../kernel/outbox.ts'
import { requireIfMatch } from '../kernel/preconditions.ts'
import { fiscalYear, todayInTokyo } from '../kernel/time.ts'
import { unitForNewRecord, unitForNewRecordInStatement } from '../org-units/org-units.service.ts'
import type { CaseCategory } from '../policies/case-vocabulary.ts'
import { escalationFor } from '../policies/policies.decisions.ts'
import type { PolicyVersion } from '../policies/policies.schemas.ts'
import { policiesToday } from '../policies/policies.service.ts'
import { staffRef, SYSTEM_ACTOR } from '../staff/staff.repository.ts'
import { findTransition, transitionsFrom, type CaseStatus } from './case-status.ts'
import {
  addResponders,
  advisoryLockExternalRef,
  countResponders,
  customerOf,
  findCaseByExternalRef,
  findCaseInReach,
  insertCase,
  listCases,
  listKey,
  nextCaseNumber,
  openCaseChecked,
  setCustomer,
  updateCaseHeader,
  type CaseFilters,
  type CaseToOpen,
  type CaseHeaderChanges,
  type CaseRow,
  type CaseWithPeople,
} from './cases.repository.ts'
import type { CaseSummaryView, CaseView, CreateCase, Customer, UpdateCase, UpsertCase } from './cases.schemas.ts'
import { appendEvent, caseHasEvent } from './events.repository.ts'
import type { Message } from '../kernel/messages/index.ts'
import { noteResponderShortfall } from './case-statistics.repository.ts'

/**
 * The rules of a case, from the seeds:
 * - 一人で対応しない: a category the escalation policy names (default violence, sexual harassment)
 *   escalates the case at once, flags it, and puts it first in every list;
 * - 複数名で対応: a counter case with fewer responders than its severity needs is flagged, and so
 *   is any case that may not be handled alone with fewer than the policy's minimum (default 2);
 * - status changes follow the machine in case-status.ts and each writes an event.
 * Decisions take the policy version in force as an argument and record its id.
 */

type EscalationPolicy = PolicyVersion<'escalation'>
type NameMode = PolicyVersion<'name_display'>['body']['mode']

/**
 * The policies a case decision or presentation needs, in force today (Asia/Tokyo): read once per
 * request however many decisions and views use them.
 */
export async function casePolicies(ctx: ServiceContext): Promise<{ escalation: EscalationPolicy; nameDisplay: PolicyVersion<'name_display'> }> {
  const { escalation, name_display } = await policiesToday(ctx)
  return { escalation, nameDisplay: name_display }
}

/**
 * 複数名で対応: too few responders for the severity, or fewer than two (the policy's never-alone
 * minimum) on a case that may not be handled alone, while the case is being handled.
 */
function responderShortfall(
  row: Pick<CaseRow, 'channel' | 'severity' | 'status' | 'categories' | 'handled_alone_forbidden'>,
  responders: number,
  policy: EscalationPolicy,
) {
  if (row.status === 'resolved' || row.status === 'closed') return null
  const { min_responders: required, policy_version_id } = escalationFor(policy, row)
  return responders < required ? { required, actual: responders, policy_version_id } : null
}

/**
 * Statistics count the cases that lacked responders at any time while handled: every write that
 * can open a shortfall (a new case, a changed header, a reopening) checks it in its transaction.
 */
async function rememberShortfall(ctx: ServiceContext, row: CaseRow): Promise<void> {
  const { escalation } = await casePolicies(ctx)
  if (responderShortfall(row, await countResponders(ctx.db, row.id), escalation)) await noteResponderShortfall(ctx.db, row.id)
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A case the caller reaches with the route's permission (locked for writing), or 404. */
export async function loadCase(ctx: ServiceContext, id: string, options: { lock?: boolean; reach?: Reach } = {}) {
  const found = await findCaseInReach(ctx.db, id, options.reach ?? ctx.reach, ctx.caller, {
    lock: options.lock,
    personalReach: ctx.can('cases:read_personal'),
  })
  if (!found) throw notFound('not_found.case')
  return found
}

/** Whether the caller reaches this case with another permission (e.g. cases:manage). */
export async function reachesCase(ctx: ServiceContext, id: string, permission: Permission): Promise<boolean> {
  const reach = ctx.can(permission)
  if (!reach) return false
  return (await findCaseInReach(ctx.db, id, reach, ctx.caller)) !== undefined
}

/**
 * For other modules that link a case to their records (incidents): its id and unit when the
 * caller reaches it with cases:read; null otherwise (unknown or out of reach alike).
 */
export async function readableCase(ctx: ServiceContext, id: string): Promise<Pick<CaseRow, 'id' | 'org_unit_id'> | null> {
  const reach = ctx.can('cases:read')
  const found = reach ? await findCaseInReach(ctx.db, id, reach, ctx.caller) : undefined
  return found ? { id: found.id, org_unit_id: found.org_unit_id } : null
}

/** A page of cases in reach matching the filters, as the list shows them. */
export async function listCasesInReach(ctx: ServiceContext, filters: CaseFilters, limit: number, cursor: string | undefined) {
  const rows = await listCases(ctx.db, ctx.reach, ctx.caller, filters, limit + 1, cursor ? decodeCursor(cursor, 3) : null)
  const { page, nextCursor } = paginate(rows, limit, listKey)
  ctx.audit.details = { count: page.length, ids: page.map((r) => r.id) }
  return { items: await presentCases(ctx, page), next_cursor: nextCursor }
}

export async function presentCases(ctx: ServiceContext, rows: readonly CaseWithPeople[]): Promise<CaseSummaryView[]> {
  const { escalation, nameDisplay } = await casePolicies(ctx)
  return rows.map((row) => summaryView(row, nameDisplay.body.mode, escalation))
}

function summaryView(row: CaseWithPeople, mode: NameMode, escalation: EscalationPolicy): CaseSummaryView {
  return {
    id: row.id,
    number: row.number,
    org_unit_id: row.org_unit_id,
    channel: row.channel,
    occurred_at: row.occurred_at.toISOString(),
    location: row.location,
    categories: row.categories,
    severity: row.severity,
    status: row.status,
    summary: row.summary,
    responders: row.responder_profiles.map((r) => staffRef(r.subject, r.profile, mode)),
    external_ref: row.external_system && row.external_ref ? { system: row.external_system, ref: row.external_ref } : null,
    handled_alone_forbidden: row.handled_alone_forbidden,
    escalation_policy_version_id: row.escalation_policy_id,
    responder_shortfall: responderShortfall(row, row.responder_profiles.length, escalation),
    created_by: staffRef(row.created_by, row.creator_profile, mode),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  }
}

/** The full case: header, responders, and the customer's details where the caller may see them. */
export async function presentCase(ctx: ServiceContext, row: CaseWithPeople & { personal_visible: boolean; customer: Customer | null }): Promise<CaseView> {
  const { escalation, nameDisplay } = await casePolicies(ctx)
  return {
    ...summaryView(row, nameDisplay.body.mode, escalation),
    customer: row.personal_visible ? row.customer : null,
    // Redacted, never dropped: the data stays in the database for those who may see it.
    customer_redacted: !row.personal_visible,
    name_display_policy_version_id: nameDisplay.id,
  }
}

/** The case as it is now (after a change), with its people and the customer where visible. */
export async function reloadCase(ctx: ServiceContext, id: string) {
  const row = await findCaseInReach(ctx.db, id, 'all', ctx.caller, { personalReach: ctx.can('cases:read_personal') })
  if (!row) throw notFound('not_found.case')
  return row
}

// ---------------------------------------------------------------------------------------------
// Writing

function changeOf(kind: string, row: CaseRow, data: Record<string, unknown> = {}): DomainChange {
  return {
    kind,
    resourceType: 'case',
    resourceId: row.id,
    orgUnitId: row.org_unit_id,
    data: { number: row.number, status: row.status, version: row.version, ...data },
  }
}

/** Escalates a case at once when a category calls for it; writes the escalation event. */
async function applyEscalationRule(ctx: ServiceContext, row: CaseRow, policy: EscalationPolicy, at: Date): Promise<{ row: CaseRow; changes: DomainChange[] }> {
  const { because_of: triggering } = escalationFor(policy, row)
  if (triggering.length === 0 || row.handled_alone_forbidden) return { row, changes: [] }
  const fromStatus = row.status
  const updated = await updateCaseHeader(ctx.db, row.id, {
    handled_alone_forbidden: true,
    escalation_policy_id: policy.id,
    ...(fromStatus === 'open' ? { status: 'escalated' as const } : {}),
  })
  await appendEvent(ctx.db, {
    caseId: row.id,
    type: 'escalation',
    occurredAt: at,
    actor: SYSTEM_ACTOR,
    description: escalationDescription(triggering),
    details: { from: fromStatus, to: updated.status, categories: triggering, automatic: true },
    policyVersionId: policy.id,
  })
  return { row: updated, changes: [changeOf('case.escalated', updated, { categories: triggering, policy_version_id: policy.id })] }
}

/** What the automatic escalation event says: the categories that called for it. */
function escalationDescription(triggering: readonly string[]): string {
  return `Escalated at once: ${triggering.join(', ')} (一人で対応しない)`
}

/**
 * Who responds to a new case: staff who record a case respond to it (cases:respond), service
 * accounts and any case another system upserts do not; and those the body names.
 */
function respondersOf(ctx: ServiceContext, input: Pick<CreateCase, 'responders'> & { external_ref?: unknown }): string[] {
  const creatorResponds = input.external_ref === undefined && ctx.can('cases:respond') !== null
  return [...new Set([...(creatorResponds ? [ctx.caller.subject] : []), ...(input.responders ?? [])])]
}

async function createCase(ctx: ServiceContext, input: CreateCase | (UpsertCase & { external_ref?: { system: string; ref: string } })): Promise<CaseRow> {
  const { caller } = ctx
  const orgUnitId = await unitForNewRecord(ctx, input.org_unit_id, { pointer: 'body/org_unit_id', doing: 'doing.create_cases' })
  const { escalation } = await casePolicies(ctx)

  const number = await nextCaseNumber(ctx.db, fiscalYear(todayInTokyo()))
  let row = await insertCase(ctx.db, {
    id: newId(),
    number,
    org_unit_id: orgUnitId,
    channel: input.channel,
    occurred_at: new Date(input.occurred_at),
    location: input.location ?? null,
    categories: input.categories,
    severity: input.severity,
    status: 'open',
    summary: input.summary,
    external_system: input.external_ref?.system ?? null,
    external_ref: input.external_ref?.ref ?? null,
    handled_alone_forbidden: false,
    escalation_policy_id: null,
    created_by: caller.subject,
  })
  await addResponders(ctx.db, row.id, respondersOf(ctx, input), caller.subject)
  if (input.customer) await setCustomer(ctx.db, row.id, input.customer)

  const escalated = await applyEscalationRule(ctx, row, escalation, new Date())
  ctx.publish(changeOf('case.created', row), ...escalated.changes)
  row = escalated.row
  await rememberShortfall(ctx, row)
  ctx.audit.resourceId = row.id
  return row
}

/**
 * POST /v1/cases: records a new case and returns it as the answer shows it (its people, and the
 * customer where the caller may see them). In one statement where the route runs as one
 * (createCaseInOneStatement); in the request's transaction otherwise (an Idempotency-Key).
 */
export async function recordCase(ctx: ServiceContext, input: CreateCase): Promise<CaseWithPeople & { personal_visible: boolean; customer: Customer | null }> {
  if (ctx.oneStatement) return createCaseInOneStatement(ctx, ctx.oneStatement, input)
  const row = await createCase(ctx, input)
  return reloadCase(ctx, row.id)
}

/**
 * createCase's rules, decided before one statement writes everything (openCaseChecked): the
 * escalation rule and the responder shortfall from the input and the policies in force, the unit
 * as a condition of the statement, whose refusal is read from what it returns. A case that opens
 * with too few responders also notes the shortfall on its statistics row, which a trigger writes
 * only when the statement ends: that statement and the note then share a transaction.
 */
async function createCaseInOneStatement(ctx: ServiceContext, statement: OneStatement, input: CreateCase) {
  const { caller } = ctx
  const unit = unitForNewRecordInStatement(ctx, input.org_unit_id, { pointer: 'body/org_unit_id', doing: 'doing.create_cases' })
  const { escalation } = await casePolicies(ctx)
  const responders = respondersOf(ctx, input)
  const { because_of: triggering } = escalationFor(escalation, input)
  const escalated = triggering.length > 0
  const id = newId()
  const row = {
    id,
    org_unit_id: unit.unitId,
    channel: input.channel,
    occurred_at: new Date(input.occurred_at),
    location: input.location ?? null,
    categories: input.categories,
    severity: input.severity,
    // The rule applied as createCase does (open, then escalated: version 2), in one write.
    status: escalated ? ('escalated' as const) : ('open' as const),
    summary: input.summary,
    external_system: input.external_ref?.system ?? null,
    external_ref: input.external_ref?.ref ?? null,
    handled_alone_forbidden: escalated,
    escalation_policy_id: escalated ? escalation.id : null,
    created_by: caller.subject,
    version: escalated ? 2 : 1,
  }
  const created = { kind: 'case.created', data: { status: 'open', version: 1 } }
  const escalatedChange = { kind: 'case.escalated', data: { status: 'escalated', version: 2, categories: triggering, policy_version_id: escalation.id } }
  ctx.audit.resourceId = id
  const toOpen: CaseToOpen = {
    row,
    fiscalYear: fiscalYear(todayInTokyo()),
    responders,
    customer: input.customer ?? null,
    escalation: escalated
      ? {
          id: newId(),
          occurredAt: new Date(),
          description: escalationDescription(triggering),
          details: { from: 'open', to: 'escalated', categories: triggering, automatic: true },
          policyVersionId: escalation.id,
        }
      : null,
    changes: escalated ? [created, escalatedChange] : [created],
  }
  const opener = { caller, reach: ctx.reach, personalReach: ctx.can('cases:read_personal'), unit: unit.query }
  const auditRows = statement.auditRows(201)
  const open = (q: Queryable) => openCaseChecked(q, toOpen, opener, auditRows)
  // A refusal's own entry names no case (none was written), as in a request transaction.
  const refused = (error: unknown) => {
    ctx.audit.resourceId = null
    return error
  }
  const found = await (responderShortfall(row, responders.length, escalation)
    ? ctx.db.transaction().execute(async (trx) => {
        const opened = await open(trx)
        if (opened.id !== null) await noteResponderShortfall(trx, id)
        return opened
      })
    : open(ctx.db)
  ).catch((error: unknown) => {
    // e.g. another case of the unit holds the external reference (409): nothing was written.
    throw refused(error)
  })
  if (found.id === null) {
    throw refused(unit.refusal({ exists: found.unit_found, allowed: found.unit_allowed }) ?? new Error('the case was refused by no known rule'))
  }
  const { unit_found: _f, unit_allowed: _a, responder_names, personal_visible, ...caseRow } = found
  // The caller's names are in their token (the statement read the profiles before writing theirs).
  const own = { full_name: caller.name, family_name: caller.familyName, business_name: caller.businessName }
  const k = input.customer
  return {
    ...caseRow,
    responder_profiles: responder_names.map((r) => (r.subject === caller.subject ? { subject: r.subject, profile: own } : r)),
    creator_profile: own,
    personal_visible,
    customer: personal_visible && k ? { name: k.name ?? null, address: k.address ?? null, phone: k.phone ?? null, email: k.email ?? null } : null,
  }
}

const EDITABLE = ['channel', 'occurred_at', 'location', 'categories', 'severity', 'summary'] as const

function headerChanges(row: CaseRow, input: UpdateCase | UpsertCase): CaseHeaderChanges {
  const changes: CaseHeaderChanges = {}
  for (const field of EDITABLE) {
    const value = input[field]
    if (value === undefined) continue
    if (field === 'occurred_at') {
      const at = new Date(value as string)
      if (at.getTime() !== row.occurred_at.getTime()) changes.occurred_at = at
    } else if (field === 'categories') {
      const next = value as CaseCategory[]
      if (next.length !== row.categories.length || next.some((c) => !row.categories.includes(c))) changes.categories = next
    } else if (value !== row[field]) {
      Object.assign(changes, { [field]: value })
    }
  }
  return changes
}

/** Applies a change to a locked case: header, customer, escalation rule, change feed. */
async function applyUpdate(ctx: ServiceContext, row: CaseRow, input: UpdateCase | UpsertCase): Promise<{ row: CaseRow; changed: boolean }> {
  if (row.status === 'closed') throw conflict('cases.closed_notes_only')
  const changes = headerChanges(row, input)
  let changed = Object.keys(changes).length > 0
  if (input.customer !== undefined) {
    const before = await customerOf(ctx.db, row.id)
    if (!sameCustomer(before, input.customer)) {
      await setCustomer(ctx.db, row.id, input.customer)
      changed = true
    }
  }
  if (!changed) return { row, changed: false }
  let updated = await updateCaseHeader(ctx.db, row.id, changes)
  ctx.publish(changeOf('case.updated', updated, { fields: Object.keys(changes) }))
  if (changes.categories) {
    const escalated = await applyEscalationRule(ctx, updated, (await casePolicies(ctx)).escalation, new Date())
    updated = escalated.row
    ctx.publish(...escalated.changes)
  }
  await rememberShortfall(ctx, updated)
  return { row: updated, changed: true }
}

function sameCustomer(a: Customer | null, b: Customer | null): boolean {
  const norm = (c: Customer | null) => (c ? [c.name ?? null, c.address ?? null, c.phone ?? null, c.email ?? null] : null)
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b))
}

/** A change to a case's header or customer; `ifMatch` is the If-Match header as sent (required). */
export async function updateCase(ctx: ServiceContext, id: string, input: UpdateCase, ifMatch: string | undefined) {
  const row = await loadCase(ctx, id, { lock: true })
  requireIfMatch(ifMatch, row.version)
  const { row: updated } = await applyUpdate(ctx, row, input)
  return updated
}

/**
 * Integration clients: create or update the case their system knows by `ref`. Idempotent: the
 * same body twice changes nothing the second time. Two requests for one new ref are serialised
 * by an advisory lock on the ref, so the second updates instead of colliding.
 *
 * A reference is scoped to the org unit of its case (the unit the body names, else the caller's):
 * what another unit holds under the same reference is never looked at, so the answer is exactly
 * the one for a reference nobody holds and a caller learns nothing about other units' references.
 */
export async function upsertByExternalRef(ctx: ServiceContext, system: string, ref: string, input: UpsertCase): Promise<{ row: CaseRow; created: boolean }> {
  const orgUnitId = await unitForNewRecord(ctx, input.org_unit_id, { pointer: 'body/org_unit_id', doing: 'doing.create_cases' })
  await advisoryLockExternalRef(ctx.db, system, ref)
  const existing = await findCaseByExternalRef(ctx.db, orgUnitId, system, ref)
  if (!existing) {
    const row = await createCase(ctx, { ...input, org_unit_id: orgUnitId, external_ref: { system, ref } })
    return { row, created: true }
  }
  const { row } = await applyUpdate(ctx, existing, input)
  if (input.responders?.length) await addRespondersTo(ctx, row, input.responders)
  ctx.audit.resourceId = row.id
  return { row, created: false }
}

/** A status change (case-status.ts); `ifMatch` is checked when sent. */
export async function transitionCase(ctx: ServiceContext, id: string, to: CaseStatus, reason: string, ifMatch: string | undefined) {
  const row = await loadCase(ctx, id, { lock: true })
  const transition = findTransition(row.status, to)
  if (!transition) {
    const allowed = transitionsFrom(row.status).map((t) => t.to)
    const detail: Message = allowed.length
      ? { id: 'cases.transition_refused', params: { from: row.status, to, allowed } }
      : { id: 'cases.transition_final', params: { from: row.status, to } }
    throw conflict(detail, { allowed })
  }
  if (!(await reachesCase(ctx, id, transition.permission))) {
    throw forbidden({ id: 'cases.transition_permission', params: { from: row.status, to, permission: transition.permission } })
  }
  if (ifMatch !== undefined) requireIfMatch(ifMatch, row.version)
  if (to === 'closed' && !(await caseHasEvent(ctx.db, id, 'resolution'))) {
    throw conflict('cases.close_needs_resolution')
  }
  const updated = await updateCaseHeader(ctx.db, id, { status: to })
  await appendEvent(ctx.db, {
    caseId: id,
    type: transition.event,
    occurredAt: new Date(),
    actor: ctx.caller.subject,
    description: reason,
    details: { from: row.status, to },
  })
  ctx.publish(changeOf('case.transitioned', updated, { from: row.status, to }))
  await rememberShortfall(ctx, updated)
  return updated
}

async function addRespondersTo(ctx: ServiceContext, row: CaseRow, subjects: readonly string[]): Promise<string[]> {
  const added = await addResponders(ctx.db, row.id, subjects, ctx.caller.subject)
  if (added.length === 0) return added
  // Responders are part of the case's representation: its version (ETag) moves on.
  const updated = await updateCaseHeader(ctx.db, row.id, {})
  for (const subject of added) {
    await appendEvent(ctx.db, {
      caseId: row.id,
      type: 'responder_added',
      occurredAt: new Date(),
      actor: ctx.caller.subject,
      description: null,
      details: { subject },
    })
  }
  ctx.publish(changeOf('case.responder_added', updated, { responders_added: added }))
  return added
}

/** Adds a responder (supervisor/desk, or a responder bringing in a colleague: 複数名で対応). */
export async function addResponder(ctx: ServiceContext, id: string, subject: string) {
  const row = await loadCase(ctx, id, { lock: true })
  if (row.status === 'closed') throw conflict('cases.closed')
  await addRespondersTo(ctx, row, [subject])
  return row
}
