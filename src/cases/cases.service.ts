import type { FastifyRequest } from 'fastify'
import { sql } from 'kysely'
import { publishChanges, type DomainChange } from '../kernel/outbox.js'
import type { Reach } from '../kernel/access.js'
import type { RequestAccess } from '../kernel/access.plugin.js'
import type { Trx } from '../kernel/db.js'
import { conflict, forbidden, notFound, unprocessable } from '../kernel/errors.js'
import { newId } from '../kernel/ids.js'
import { requireIfMatch } from '../kernel/preconditions.js'
import { fiscalYear, todayInTokyo } from '../kernel/time.js'
import { appendEvent, caseHasEvent } from './events.repository.js'
import { findOrgUnit, isWithinUnit } from '../org-units/org-units.repository.js'
import { escalationFor } from '../policies/policies.decisions.js'
import type { PolicyVersion } from '../policies/policies.schemas.js'
import { policiesInForce } from '../policies/policies.repository.js'
import { rememberStaff, staffRef, SYSTEM_ACTOR } from '../staff/staff.repository.js'
import { findTransition, transitionsFrom, type CaseStatus } from './case-status.js'
import {
  addResponders,
  customerOf,
  findCaseByExternalRef,
  findCaseInReach,
  insertCase,
  nextCaseNumber,
  setCustomer,
  updateCaseHeader,
  type CaseHeaderChanges,
  type CaseRow,
  type CaseWithPeople,
} from './cases.repository.js'
import type { CaseSummaryView, CaseView, CreateCase, Customer, UpdateCase, UpsertCase } from './cases.schemas.js'
import type { CaseCategory } from '../policies/case-vocabulary.js'

/**
 * The rules of a case, from the seeds:
 * - 一人で対応しない: a category the escalation policy names (default violence, sexual harassment)
 *   escalates the case at once, flags it, and puts it first in every list;
 * - 複数名で対応: a counter case with fewer responders than its severity needs is flagged;
 * - status changes follow the machine in case-status.ts and each writes an event.
 * Decisions take the policy version in force as an argument and record its id.
 */

type EscalationPolicy = PolicyVersion<'escalation'>
type NameMode = PolicyVersion<'name_display'>['body']['mode']

type CasePolicies = { escalation: EscalationPolicy; nameDisplay: PolicyVersion<'name_display'> }
const policiesOfRequest = new WeakMap<FastifyRequest, Promise<CasePolicies>>()

/**
 * The policies a case decision or presentation needs, in force today (Asia/Tokyo): one query,
 * once per request however many decisions and views use them.
 */
export function casePolicies(request: FastifyRequest): Promise<CasePolicies> {
  let policies = policiesOfRequest.get(request)
  if (!policies) {
    policies = policiesInForce(request.trx, todayInTokyo(), ['escalation', 'name_display']).then(({ escalation, name_display }) => ({
      escalation,
      nameDisplay: name_display,
    }))
    policiesOfRequest.set(request, policies)
  }
  return policies
}

/** 複数名で対応: too few responders for the severity, while the case is being handled. */
export function responderShortfall(row: Pick<CaseRow, 'channel' | 'severity' | 'status' | 'categories'>, responders: number, policy: EscalationPolicy) {
  if (row.status === 'resolved' || row.status === 'closed') return null
  const { min_responders: required, policy_version_id } = escalationFor(policy, row)
  return responders < required ? { required, actual: responders, policy_version_id } : null
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A case the caller reaches with the route's permission (locked for writing), or 404. */
export async function loadCase(request: FastifyRequest, id: string, options: { lock?: boolean; reach?: Reach } = {}) {
  const { access } = request
  const found = await findCaseInReach(request.trx, id, options.reach ?? access.reach, access.caller, {
    lock: options.lock,
    personalReach: access.can('cases:read_personal'),
  })
  if (!found) throw notFound('case')
  return found
}

/** Whether the caller reaches this case with another permission (e.g. cases:manage). */
export async function reachesCase(request: FastifyRequest, id: string, permission: Parameters<RequestAccess['can']>[0]): Promise<boolean> {
  const reach = request.access.can(permission)
  if (!reach) return false
  return (await findCaseInReach(request.trx, id, reach, request.access.caller)) !== undefined
}

export async function presentCases(request: FastifyRequest, rows: readonly CaseWithPeople[]): Promise<CaseSummaryView[]> {
  const { escalation, nameDisplay } = await casePolicies(request)
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
export async function presentCase(request: FastifyRequest, row: CaseWithPeople & { personal_visible: boolean; customer: Customer | null }): Promise<CaseView> {
  const { escalation, nameDisplay } = await casePolicies(request)
  return {
    ...summaryView(row, nameDisplay.body.mode, escalation),
    customer: row.personal_visible ? row.customer : null,
    // Redacted, never dropped: the data stays in the database for those who may see it.
    customer_redacted: !row.personal_visible,
    name_display_policy_version_id: nameDisplay.id,
  }
}

/** The case as it is now (after a change), with its people and the customer where visible. */
export async function reloadCase(request: FastifyRequest, id: string) {
  const row = await findCaseInReach(request.trx, id, 'all', request.access.caller, { personalReach: request.access.can('cases:read_personal') })
  if (!row) throw notFound('case')
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

/** Where a new case goes: the given unit or the caller's, within the caller's reach for creating. */
async function unitForNewCase(request: FastifyRequest, wanted: string | undefined, pointer: string): Promise<string> {
  const { caller, reach } = request.access
  const unitId = wanted ?? caller.orgUnit
  if (!unitId) throw unprocessable('your token names no org unit; give org_unit_id', [{ pointer, message: 'is required' }])
  if (!(await findOrgUnit(request.trx, unitId))) throw unprocessable('the org unit does not exist', [{ pointer, message: 'no such org unit' }])
  const allowed =
    reach === 'all' || (caller.orgUnit !== null && (reach === 'own' ? unitId === caller.orgUnit : await isWithinUnit(request.trx, unitId, caller.orgUnit)))
  if (!allowed) throw forbidden(reach === 'own' ? 'you may create cases only in your own org unit' : 'that org unit is outside your reach')
  return unitId
}

/** Escalates a case at once when a category calls for it; writes the escalation event. */
async function applyEscalationRule(trx: Trx, row: CaseRow, policy: EscalationPolicy, at: Date): Promise<{ row: CaseRow; changes: DomainChange[] }> {
  const { because_of: triggering } = escalationFor(policy, row)
  if (triggering.length === 0 || row.handled_alone_forbidden) return { row, changes: [] }
  const fromStatus = row.status
  const updated = await updateCaseHeader(trx, row.id, {
    handled_alone_forbidden: true,
    escalation_policy_id: policy.id,
    ...(fromStatus === 'open' ? { status: 'escalated' as const } : {}),
  })
  await appendEvent(trx, {
    caseId: row.id,
    type: 'escalation',
    occurredAt: at,
    actor: SYSTEM_ACTOR,
    description: `Escalated at once: ${triggering.join(', ')} (一人で対応しない)`,
    details: { from: fromStatus, to: updated.status, categories: triggering, automatic: true },
    policyVersionId: policy.id,
  })
  return { row: updated, changes: [changeOf('case.escalated', updated, { categories: triggering, policy_version_id: policy.id })] }
}

export async function createCase(
  request: FastifyRequest,
  input: CreateCase | (UpsertCase & { external_ref?: { system: string; ref: string } }),
): Promise<CaseRow> {
  const { trx } = request
  const { caller, permission } = request.access
  const orgUnitId = await unitForNewCase(request, input.org_unit_id, 'body/org_unit_id')
  await rememberStaff(trx, caller)
  const { escalation } = await casePolicies(request)

  const number = await nextCaseNumber(trx, fiscalYear(todayInTokyo()))
  let row = await insertCase(trx, {
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
  // Staff who record a case respond to it; service accounts (integration) do not.
  const creatorResponds = permission !== 'cases:upsert_external' && !caller.roles.every((r) => r === 'integration')
  await addResponders(trx, row.id, [...new Set([...(creatorResponds ? [caller.subject] : []), ...(input.responders ?? [])])], caller.subject)
  if (input.customer) await setCustomer(trx, row.id, input.customer)

  const changes: DomainChange[] = [changeOf('case.created', row)]
  const escalated = await applyEscalationRule(trx, row, escalation, new Date())
  row = escalated.row
  await publishChanges(trx, [...changes, ...escalated.changes])
  request.audit.resourceId = row.id
  return row
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
async function applyUpdate(request: FastifyRequest, row: CaseRow, input: UpdateCase | UpsertCase): Promise<{ row: CaseRow; changed: boolean }> {
  const { trx } = request
  if (row.status === 'closed') throw conflict('the case is closed; it accepts only notes by a supervisor or the desk')
  await rememberStaff(trx, request.access.caller)
  const changes = headerChanges(row, input)
  let changed = Object.keys(changes).length > 0
  if (input.customer !== undefined) {
    const before = await customerOf(trx, row.id)
    if (!sameCustomer(before, input.customer)) {
      await setCustomer(trx, row.id, input.customer)
      changed = true
    }
  }
  if (!changed) return { row, changed: false }
  let updated = await updateCaseHeader(trx, row.id, changes)
  const feed: DomainChange[] = [changeOf('case.updated', updated, { fields: Object.keys(changes) })]
  if (changes.categories) {
    const escalated = await applyEscalationRule(trx, updated, (await casePolicies(request)).escalation, new Date())
    updated = escalated.row
    feed.push(...escalated.changes)
  }
  await publishChanges(trx, feed)
  return { row: updated, changed: true }
}

function sameCustomer(a: Customer | null, b: Customer | null): boolean {
  const norm = (c: Customer | null) => (c ? [c.name ?? null, c.address ?? null, c.phone ?? null, c.email ?? null] : null)
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b))
}

export async function updateCase(request: FastifyRequest, id: string, input: UpdateCase) {
  const row = await loadCase(request, id, { lock: true })
  requireIfMatch(request, row.version)
  const { row: updated } = await applyUpdate(request, row, input)
  return updated
}

/**
 * Integration clients: create or update the case their system knows by `ref`. Idempotent: the
 * same body twice changes nothing the second time. Two requests for one new ref are serialised
 * by an advisory lock on the ref, so the second updates instead of colliding.
 */
export async function upsertByExternalRef(
  request: FastifyRequest,
  system: string,
  ref: string,
  input: UpsertCase,
): Promise<{ row: CaseRow; created: boolean }> {
  const { trx } = request
  await sql`select pg_advisory_xact_lock(hashtextextended(${`case-ref:${system}/${ref}`}, 0))`.execute(trx)
  const existing = await findCaseByExternalRef(trx, system, ref)
  if (!existing) {
    const row = await createCase(request, { ...input, external_ref: { system, ref } })
    return { row, created: true }
  }
  const inReach = await findCaseInReach(trx, existing.id, request.access.reach, request.access.caller)
  if (!inReach) throw conflict('this external reference belongs to a case outside your org unit')
  if (input.org_unit_id !== undefined && input.org_unit_id !== existing.org_unit_id) {
    throw unprocessable('a case cannot move to another org unit by upsert', [{ pointer: 'body/org_unit_id', message: 'differs from the case' }])
  }
  const { row } = await applyUpdate(request, existing, input)
  if (input.responders?.length) await addRespondersTo(request, row, input.responders)
  request.audit.resourceId = row.id
  return { row, created: false }
}

export async function transitionCase(request: FastifyRequest, id: string, to: CaseStatus, reason: string) {
  const { trx } = request
  const row = await loadCase(request, id, { lock: true })
  const transition = findTransition(row.status, to)
  if (!transition) {
    const allowed = transitionsFrom(row.status).map((t) => t.to)
    throw conflict(`a case that is ${row.status} cannot become ${to}${allowed.length ? `; it can become: ${allowed.join(', ')}` : '; it is final'}`, {
      allowed,
    })
  }
  if (!(await reachesCase(request, id, transition.permission))) {
    throw forbidden(`${row.status} → ${to} needs the ${transition.permission} permission for this case`)
  }
  if (request.headers['if-match'] !== undefined) requireIfMatch(request, row.version)
  if (to === 'closed' && !(await caseHasEvent(trx, id, 'resolution'))) {
    throw conflict('a case is closed only after a resolution event records how it was resolved')
  }
  await rememberStaff(trx, request.access.caller)
  const updated = await updateCaseHeader(trx, id, { status: to })
  await appendEvent(trx, {
    caseId: id,
    type: transition.event,
    occurredAt: new Date(),
    actor: request.access.caller.subject,
    description: reason,
    details: { from: row.status, to },
  })
  await publishChanges(trx, [changeOf('case.transitioned', updated, { from: row.status, to })])
  return updated
}

async function addRespondersTo(request: FastifyRequest, row: CaseRow, subjects: readonly string[]): Promise<string[]> {
  const { trx } = request
  const added = await addResponders(trx, row.id, subjects, request.access.caller.subject)
  if (added.length === 0) return added
  // Responders are part of the case's representation: its version (ETag) moves on.
  const updated = await updateCaseHeader(trx, row.id, {})
  for (const subject of added) {
    await appendEvent(trx, {
      caseId: row.id,
      type: 'responder_added',
      occurredAt: new Date(),
      actor: request.access.caller.subject,
      description: null,
      details: { subject },
    })
  }
  await publishChanges(trx, [changeOf('case.responder_added', updated, { responders_added: added })])
  return added
}

/** Adds a responder (supervisor/desk, or a responder bringing in a colleague: 複数名で対応). */
export async function addResponder(request: FastifyRequest, id: string, subject: string) {
  const row = await loadCase(request, id, { lock: true })
  if (row.status === 'closed') throw conflict('the case is closed')
  await rememberStaff(request.trx, request.access.caller)
  await addRespondersTo(request, row, [subject])
  return row
}
