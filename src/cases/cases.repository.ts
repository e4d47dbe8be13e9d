import { type Compilable, type Expression, type ExpressionBuilder, type RawBuilder, type Selectable, type SqlBool, sql } from 'kysely'
import type { Reach } from '../kernel/access.ts'
import { insertAuditRowsWhere } from '../kernel/audit.ts'
import type { Caller } from '../kernel/auth.ts'
import type { Database, Queryable } from '../kernel/db.ts'
import { insertChangesFrom } from '../kernel/outbox.ts'
import { CompiledQueries } from '../kernel/compiled-queries.ts'
import type { CursorValue } from '../kernel/pagination.ts'
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres'
import { unitSubtree } from '../org-units/org-units.repository.ts'
import { rememberWriterCtes, staffProfileOf, staffProfilesIn, SYSTEM_ACTOR, type Profile, writerValues } from '../staff/staff.repository.ts'
import type { CaseStatus } from './case-status.ts'
import type { Customer } from './cases.schemas.ts'
import type { CasesTable } from './cases.tables.ts'
import type { CaseCategory, CaseChannel, Severity } from '../policies/case-vocabulary.ts'

export type CaseRow = Selectable<CasesTable>
type CasesEb = ExpressionBuilder<Database, 'cases'>
/** What reach conditions read of the caller. */
type ReachCaller = Pick<Caller, 'subject' | 'orgUnit'>

/**
 * The cases a caller reaches with a grant: own = cases they respond to; unit = cases of their
 * org unit and the units below it; all = every case. Used in every query that touches cases,
 * so an id outside the reach is simply not found.
 */
export function caseInReach(q: Queryable, reach: Reach, caller: ReachCaller) {
  return (eb: CasesEb): Expression<SqlBool> => {
    switch (reach) {
      case 'all':
        return sql<SqlBool>`true`
      case 'unit':
        return caller.orgUnit ? eb('cases.org_unit_id', 'in', unitSubtree(q, caller.orgUnit)) : sql<SqlBool>`false`
      case 'own':
        return eb.exists(
          eb
            .selectFrom('case_responders')
            .select(sql`1`.as('one'))
            .whereRef('case_responders.case_id', '=', 'cases.id')
            .where('case_responders.subject', '=', caller.subject),
        )
    }
  }
}

/**
 * caseInReach for a case the statement is writing (its rows are not visible to the statement):
 * decided from the unit it is created in and its responders.
 */
function newCaseInReach(q: Queryable, reach: Reach | null, caller: ReachCaller, unitId: string, responders: readonly string[]): RawBuilder<boolean> {
  switch (reach) {
    case null:
      return sql<boolean>`false`
    case 'all':
      return sql<boolean>`true`
    case 'own':
      return sql<boolean>`${caller.subject}::text = any(${responders}::text[])`
    case 'unit':
      return caller.orgUnit ? sql<boolean>`${unitId}::uuid in (${unitSubtree(q, caller.orgUnit)})` : sql<boolean>`false`
  }
}

/**
 * Ids of the cases a staff member responds to, as a subquery for other domains' "own" reach
 * (recordings of cases I respond to): `.where('case_id', 'in', casesRespondedBy(q, subject))`.
 */
export function casesRespondedBy(q: Queryable, subject: string) {
  return q.selectFrom('case_responders').select('case_responders.case_id').where('case_responders.subject', '=', subject)
}

/**
 * Ids of the cases of a unit and the units below it, as a subquery for other domains' reach
 * filters (disclosure requests that cover a unit's cases).
 */
export function caseIdsInUnit(q: Queryable, unitId: string) {
  return q.selectFrom('cases').select('cases.id').where('cases.org_unit_id', 'in', unitSubtree(q, unitId))
}

/** Who responds to a case and who recorded it, with their names, fetched with the case itself. */
interface CasePeople {
  responder_profiles: Array<{ subject: string; profile: Profile | null }>
  creator_profile: Profile | null
}
export type CaseWithPeople = CaseRow & CasePeople

function withPeople(eb: CasesEb) {
  return [
    jsonArrayFrom(
      eb
        .selectFrom('case_responders')
        .select((e) => ['case_responders.subject', staffProfileOf(e, 'case_responders.subject').as('profile')])
        .whereRef('case_responders.case_id', '=', 'cases.id')
        .orderBy('case_responders.added_at')
        .orderBy('case_responders.subject'),
    ).as('responder_profiles'),
    staffProfileOf(eb, 'cases.created_by').as('creator_profile'),
  ] as const
}

/**
 * A case in reach, or undefined, with its people and — where `personalReach` covers it — the
 * customer's details, in one query. With `lock`, the row is locked for the rest of the
 * transaction: every write to a case takes this lock first, so writes to one case are
 * serialised (versions, event numbers and the change feed's order stay consistent).
 */
export async function findCaseInReach(
  q: Queryable,
  id: string,
  reach: Reach,
  caller: Caller,
  options: { lock?: boolean; personalReach?: Reach | null } = {},
): Promise<(CaseWithPeople & { personal_visible: boolean; customer: Customer | null }) | undefined> {
  const personalReach = options.personalReach ?? null
  const lock = options.lock === true
  const shape = `${reach}/${personalReach}/${reachCallerShape(caller)}/${lock}`
  const values = { id, ...reachCallerValues(caller) }
  const result = await caseReads.execute(q, shape, values, (p) => {
    const query = caseInReachQuery(q, p.id, reach, reachCallerOf(p, caller), { personalReach })
    return lock ? query.forUpdate('cases') : query
  })
  return result.rows[0]
}

// The case read, the hottest query: built and compiled once per shape (compiled-queries.ts).
const caseReads = new CompiledQueries('case in reach')

/** The caller as values of a compiled query (compiled-queries.ts), and as the shape those values leave. */
export function reachCallerValues(caller: ReachCaller) {
  return { callerSubject: caller.subject, callerOrgUnit: caller.orgUnit }
}

/** Whether the caller has an org unit: a unit reach without one is no condition but `false`. */
export function reachCallerShape(caller: ReachCaller): string {
  return caller.orgUnit ? 'unit' : 'no-unit'
}

/**
 * The caller to build reach conditions with, from the stand-ins of `reachCallerValues`. A caller
 * without a unit (a shape of its own) stays without one, so that a unit reach reads `false` as it
 * does for a query built for that caller.
 */
export function reachCallerOf(p: ReturnType<typeof reachCallerValues>, caller: ReachCaller): ReachCaller {
  return { subject: p.callerSubject, orgUnit: caller.orgUnit ? p.callerOrgUnit : null }
}

/** findCaseInReach's query, for a read that fetches more with the case in the same statement. */
export function caseInReachQuery(q: Queryable, id: string, reach: Reach, caller: ReachCaller, options: { personalReach?: Reach | null } = {}) {
  return q
    .selectFrom('cases')
    .selectAll('cases')
    .select((eb) => {
      const personal = options.personalReach ? caseInReach(q, options.personalReach, caller)(eb) : sql<boolean>`false`
      const customer = jsonObjectFrom(
        eb.selectFrom('case_customers').select(['name', 'address', 'phone', 'email']).whereRef('case_customers.case_id', '=', 'cases.id'),
      )
      return [
        sql<boolean>`${personal}`.as('personal_visible'),
        // Only for callers who may see it: redacted data never leaves the database.
        sql<Customer | null>`case when ${personal} then ${customer} end`.as('customer'),
        ...withPeople(eb),
      ]
    })
    .where('cases.id', '=', id)
    .where(caseInReach(q, reach, caller))
}

/**
 * The case `id` when the caller reaches it, as a sub-query of another domain's statement (a
 * recording registered on the case decides in SQL): columns id and org_unit_id, no row when the
 * case is unknown or out of reach alike.
 */
export function caseUnitInReach(q: Queryable, id: string, reach: Reach, caller: ReachCaller) {
  return q
    .selectFrom('cases')
    .select(['cases.id', 'cases.org_unit_id'])
    .where('cases.id', '=', id)
    .where(caseInReach(q, reach, caller))
}

/** Serialises requests about one external reference until commit (two upserts of a new ref: the second updates). */
export async function advisoryLockExternalRef(q: Queryable, system: string, ref: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`case-ref:${system}/${ref}`}, 0))`.execute(q)
}

/** The case of one org unit that another system knows by `ref` (references are scoped per unit). */
export async function findCaseByExternalRef(q: Queryable, orgUnitId: string, system: string, ref: string): Promise<CaseRow | undefined> {
  return q
    .selectFrom('cases')
    .selectAll()
    .where('org_unit_id', '=', orgUnitId)
    .where('external_system', '=', system)
    .where('external_ref', '=', ref)
    .forUpdate()
    .executeTakeFirst()
}

/** The next number in the fiscal year; the counter row stays locked until commit (no gaps). */
export async function nextCaseNumber(q: Queryable, fiscalYear: number): Promise<string> {
  const row = await q
    .insertInto('case_number_counters')
    .values({ fiscal_year: fiscalYear, last_number: 1 })
    .onConflict((oc) => oc.column('fiscal_year').doUpdateSet({ last_number: sql`case_number_counters.last_number + 1` }))
    .returning('last_number')
    .executeTakeFirstOrThrow()
  return `${fiscalYear}-${String(row.last_number).padStart(6, '0')}`
}

export interface NewCase {
  id: string
  number: string
  org_unit_id: string
  channel: CaseChannel
  occurred_at: Date
  location: string | null
  categories: CaseCategory[]
  severity: Severity
  status: CaseStatus
  summary: string
  external_system: string | null
  external_ref: string | null
  handled_alone_forbidden: boolean
  escalation_policy_id: string | null
  created_by: string
}

export async function insertCase(q: Queryable, row: NewCase): Promise<CaseRow> {
  return q.insertInto('cases').values(row).returningAll().executeTakeFirstOrThrow()
}

/** A new case as one statement writes it (openCaseChecked); its number is drawn in the statement. */
export interface CaseToOpen {
  row: Omit<NewCase, 'number'> & { version: number }
  fiscalYear: number
  responders: readonly string[]
  customer: Customer | null
  /** The escalation event written with the case when the escalation rule applies. */
  escalation: { id: string; occurredAt: Date; description: string; details: Record<string, unknown>; policyVersionId: string } | null
  /** The changes to publish, in order; each one's data gets the case's number. */
  changes: ReadonlyArray<{ kind: string; data: Record<string, unknown> }>
}

/**
 * Who opens the case: the caller, their reach for creating (the unit's condition, from `unit`:
 * its row and whether the caller may create there, no row when it does not exist) and for
 * personal details (whether the answer shows the customer).
 */
export interface CaseOpener {
  caller: Caller
  reach: Reach
  personalReach: Reach | null
  unit: (unitId: string, callerUnit: string | null) => Compilable<{ id: string; allowed: boolean }>
}

/** What the one statement of a creation found, and the case when it was written (id null otherwise). */
export type OpenedCase = { unit_found: boolean; unit_allowed: boolean; personal_visible: boolean } & (({ id: string } & CaseRow) | { id: null })

// The creation, built and compiled once per shape (compiled-queries.ts).
const openings = new CompiledQueries('case opening')

/**
 * A case created in one statement, in autocommit: the unit checked, the fiscal year's counter
 * drawn (its row stays locked until the statement ends, and rolls back with it: numbers stay
 * gap-free), the case, its responders, customer and escalation event, the writer's staff profile,
 * the request's audit entry (`auditRows`, OneStatement) and the change-feed rows. Nothing but the
 * flags when the unit refused. Its people's names come back in `responder_names` (read before the
 * statement's own writes).
 *
 * Compiled once per shape (the reaches, whether the caller has a unit, whether there is a customer
 * and an escalation event): the row, the responders and the changes (one array and one JSON
 * parameter, so their number does not change the text), the caller and the audit entry are parameters.
 *
 * The statistics row is written by a trigger when the statement ends (migration 0016), so a
 * responder shortfall cannot be noted in the same statement: the caller then wraps it in a
 * transaction with noteResponderShortfall.
 */
export async function openCaseChecked(
  q: Queryable,
  c: CaseToOpen,
  opener: CaseOpener,
  auditRows: string,
): Promise<OpenedCase & { responder_names: Array<{ subject: string; profile: Profile | null }> }> {
  const { caller, reach, personalReach } = opener
  const shape = `${reach}/${personalReach}/${reachCallerShape(caller)}/${c.customer ? 'customer' : 'no-customer'}/${c.escalation ? 'escalated' : 'open'}`
  const values = { ...reachCallerValues(caller), ...writerValues(caller) }
  const result = await openings.execute(q, shape, { ...values, ...openingValues(c), auditRows }, (p) => {
    const who = reachCallerOf(p, caller)
    const wrote = sql`exists (select 1 from ins)`
    const ctes = [
      sql`unit as (${opener.unit(p.unitId, who.orgUnit)})`,
      ...openingCtes(p, c),
      rememberWriterCtes(p, wrote),
      sql`audited as (${insertAuditRowsWhere(p.auditRows, wrote)})`,
      sql`published as (${insertChangesFrom(
        sql`select e.v->>'kind', 'case', ins.id::text, ins.org_unit_id, jsonb_build_object('number', ins.number) || (e.v->'data')
              from ins, jsonb_array_elements(${p.changes}::jsonb) with ordinality as e(v, n) order by e.n`,
      )})`,
    ]
    const personal = newCaseInReach(q, personalReach, who, p.unitId, p.responders)
    return sql<OpenedCase & { responder_names: Array<{ subject: string; profile: Profile | null }> }>`
    with ${sql.join(ctes)}
    select unit.id is not null as unit_found, coalesce(unit.allowed, false) as unit_allowed, ${personal} as personal_visible,
           ${staffProfilesIn(p.responders)} as responder_names, ins.*
      from (select 1) one left join unit on true left join ins on true`
  })
  return result.rows[0]!
}

/** A creation's values, as the compiled statement takes them: one each, the responders as one array and the changes as one JSON array. */
function openingValues(c: CaseToOpen) {
  const r = c.row
  const k = c.customer
  const e = c.escalation
  return {
    fiscalYear: c.fiscalYear,
    id: r.id,
    unitId: r.org_unit_id,
    channel: r.channel,
    occurredAt: r.occurred_at,
    location: r.location,
    categories: r.categories,
    severity: r.severity,
    status: r.status,
    summary: r.summary,
    externalSystem: r.external_system,
    externalRef: r.external_ref,
    handledAloneForbidden: r.handled_alone_forbidden,
    escalationPolicyId: r.escalation_policy_id,
    createdBy: r.created_by,
    version: r.version,
    responders: c.responders,
    customerName: k?.name ?? null,
    customerAddress: k?.address ?? null,
    customerPhone: k?.phone ?? null,
    customerEmail: k?.email ?? null,
    escalationId: e?.id ?? null,
    escalationOccurredAt: e?.occurredAt ?? null,
    escalationDescription: e?.description ?? null,
    escalationDetails: e ? JSON.stringify(e.details) : null,
    escalationPolicyVersionId: e?.policyVersionId ?? null,
    changes: JSON.stringify(c.changes),
  }
}

/** The counter, the case and what is written with it, from the stand-ins of `openingValues`; the customer and escalation only when `c` has them. */
function openingCtes(p: ReturnType<typeof openingValues>, c: CaseToOpen): RawBuilder<unknown>[] {
  const ctes = [
    // ON CONFLICT DO UPDATE takes the latest counter row, waiting for a creation holding it.
    sql`counter as (
      insert into case_number_counters (fiscal_year, last_number) select ${p.fiscalYear}::int, 1 from unit where unit.allowed
      on conflict (fiscal_year) do update set last_number = case_number_counters.last_number + 1
      returning last_number)`,
    sql`ins as (
      insert into cases (id, number, org_unit_id, channel, occurred_at, location, categories, severity, status, summary, external_system, external_ref,
                         handled_alone_forbidden, escalation_policy_id, created_by, version)
      select ${p.id}::uuid, ${p.fiscalYear}::int::text || '-' || lpad(n.last_number::text, greatest(6, length(n.last_number::text)), '0'),
             ${p.unitId}::uuid, ${p.channel}, ${p.occurredAt}::timestamptz, ${p.location}::text, ${p.categories}::text[], ${p.severity}, ${p.status},
             ${p.summary}, ${p.externalSystem}::text, ${p.externalRef}::text, ${p.handledAloneForbidden}::boolean, ${p.escalationPolicyId}::uuid,
             ${p.createdBy}, ${p.version}::int
        from counter n
      returning *)`,
    sql`responders as (
      insert into case_responders (case_id, subject, added_by) select ins.id, s.subject, ${p.createdBy} from ins, unnest(${p.responders}::text[]) s(subject))`,
  ]
  if (c.customer) {
    ctes.push(sql`customer as (
      insert into case_customers (case_id, name, address, phone, email)
      select ins.id, ${p.customerName}::text, ${p.customerAddress}::text, ${p.customerPhone}::text, ${p.customerEmail}::text from ins)`)
  }
  if (c.escalation) {
    // The case's first event: seq 1.
    ctes.push(sql`escalation as (
      insert into case_events (id, case_id, seq, type, occurred_at, actor, description, details, policy_version_id)
      select ${p.escalationId}::uuid, ins.id, 1, 'escalation', ${p.escalationOccurredAt}::timestamptz, ${sql.lit(SYSTEM_ACTOR)}, ${p.escalationDescription},
             ${p.escalationDetails}::jsonb, ${p.escalationPolicyVersionId}::uuid from ins)`)
  }
  return ctes
}

export type CaseHeaderChanges = Partial<
  Pick<
    NewCase,
    | 'channel'
    | 'occurred_at'
    | 'location'
    | 'categories'
    | 'severity'
    | 'summary'
    | 'status'
    | 'handled_alone_forbidden'
    | 'escalation_policy_id'
    | 'org_unit_id'
  >
>

/** Applies header changes and bumps the version (the ETag). */
export async function updateCaseHeader(q: Queryable, id: string, changes: CaseHeaderChanges): Promise<CaseRow> {
  return q
    .updateTable('cases')
    .set({ ...changes, version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function customerOf(q: Queryable, caseId: string): Promise<Customer | null> {
  const row = await q.selectFrom('case_customers').select(['name', 'address', 'phone', 'email']).where('case_id', '=', caseId).executeTakeFirst()
  return row ?? null
}

/** Replaces the customer's details; null removes them. */
export async function setCustomer(q: Queryable, caseId: string, customer: Customer | null): Promise<void> {
  if (customer === null) {
    await q.deleteFrom('case_customers').where('case_id', '=', caseId).execute()
    return
  }
  const values = { name: customer.name ?? null, address: customer.address ?? null, phone: customer.phone ?? null, email: customer.email ?? null }
  await q
    .insertInto('case_customers')
    .values({ case_id: caseId, ...values })
    .onConflict((oc) => oc.column('case_id').doUpdateSet({ ...values, updated_at: sql`now()` }))
    .execute()
}

/** Adds responders; returns those that were not yet on the case. */
export async function addResponders(q: Queryable, caseId: string, subjects: readonly string[], addedBy: string): Promise<string[]> {
  if (subjects.length === 0) return []
  const rows = await q
    .insertInto('case_responders')
    .values(subjects.map((subject) => ({ case_id: caseId, subject, added_by: addedBy })))
    .onConflict((oc) => oc.doNothing())
    .returning('subject')
    .execute()
  return rows.map((r) => r.subject)
}

export async function countResponders(q: Queryable, caseId: string): Promise<number> {
  const row = await q
    .selectFrom('case_responders')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('case_id', '=', caseId)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

export interface CaseFilters {
  status?: CaseStatus
  severity?: Severity
  category?: CaseCategory
  orgUnitId?: string
  responder?: string
  occurredFrom?: Date
  occurredTo?: Date
  externalRef?: string
  text?: string
}

/** Key of the list order: (priority, occurred_at, id), all descending. */
export function listKey(row: CaseRow): CursorValue[] {
  return [row.priority, row.occurred_at.toISOString(), row.id]
}

/**
 * A page of cases in reach matching the filters, open cases nobody may handle alone first,
 * then newest first. Keyset pagination on (priority, occurred_at, id).
 */
export async function listCases(
  q: Queryable,
  reach: Reach,
  caller: Caller,
  filters: CaseFilters,
  limit: number,
  after: CursorValue[] | null,
): Promise<CaseWithPeople[]> {
  // The filters present and the reach make the shape; their values and the page are parameters.
  const present = (Object.keys(filters) as Array<keyof CaseFilters>).filter((k) => Boolean(filters[k])).sort()
  const shape = `${reach}/${reachCallerShape(caller)}/${present.join(',')}/${after ? 'after' : 'first'}`
  const [priority, occurredAt, id] = (after ?? []) as [number?, string?, string?]
  const values = {
    ...reachCallerValues(caller),
    ...filters,
    text: filters.text ? textPattern(filters.text) : undefined,
    limit,
    afterPriority: priority,
    afterOccurredAt: occurredAt,
    afterId: id,
  }
  const result = await caseLists.execute(q, shape, values, (p) => {
    const given = Object.fromEntries(present.map((k) => [k, p[k]])) as CaseFilters
    const page = after ? [p.afterPriority, p.afterOccurredAt, p.afterId] : null
    return listQuery(q, reach, reachCallerOf(p, caller), given, p.limit, page as CursorValue[] | null)
  })
  return result.rows
}

const caseLists = new CompiledQueries('cases list')

/** The query behind listCases, unexecuted (the benchmark EXPLAINs it). */
export function casesListQuery(q: Queryable, reach: Reach, caller: Caller, filters: CaseFilters, limit: number, after: CursorValue[] | null) {
  return listQuery(q, reach, caller, { ...filters, text: filters.text ? textPattern(filters.text) : undefined }, limit, after)
}

/** `filters.text` is the ILIKE pattern here (textPattern). */
function listQuery(q: Queryable, reach: Reach, caller: ReachCaller, filters: CaseFilters, limit: number, after: CursorValue[] | null) {
  let query = q
    .selectFrom('cases')
    .selectAll('cases')
    .select((eb) => withPeople(eb))
    .where(caseInReach(q, reach, caller))
  if (filters.status) query = query.where('status', '=', filters.status)
  if (filters.severity) query = query.where('severity', '=', filters.severity)
  if (filters.category) query = query.where('categories', '@>', sql<CaseCategory[]>`array[${filters.category}]::text[]`)
  if (filters.orgUnitId) query = query.where('org_unit_id', 'in', unitSubtree(q, filters.orgUnitId))
  if (filters.responder) {
    const responder = filters.responder
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('case_responders')
          .select(sql`1`.as('one'))
          .whereRef('case_responders.case_id', '=', 'cases.id')
          .where('case_responders.subject', '=', responder),
      ),
    )
  }
  if (filters.occurredFrom) query = query.where('occurred_at', '>=', filters.occurredFrom)
  if (filters.occurredTo) query = query.where('occurred_at', '<', filters.occurredTo)
  if (filters.externalRef) query = query.where('external_ref', '=', filters.externalRef)
  if (filters.text) query = query.where('summary', 'ilike', filters.text)
  if (after) {
    const [priority, occurredAt, id] = after as [number, string, string]
    query = query.where(sql<SqlBool>`(priority, occurred_at, id) < (${priority}::smallint, ${occurredAt}::timestamptz, ${id}::uuid)`)
  }
  return query.orderBy('priority', 'desc').orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit)
}

function textPattern(text: string): string {
  return `%${escapeLike(text)}%`
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`)
}
