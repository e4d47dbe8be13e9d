import { type RawBuilder, sql } from 'kysely'
import type { AuditOutcome } from './audit.tables.ts'
import { CompiledQueries } from './compiled-queries.ts'
import type { Queryable } from './db.ts'
import { storableText } from './storable-text.ts'

/**
 * The audit append: the only way entries get into audit_events (the chain linker in
 * audit-chain.ts then links them). Entries are data until written, so the unit of work can write
 * a request's entry together with its changes in one statement.
 */

/** One audit entry as a request writes it. No personal data values: ids, kinds and counts only. */
export interface AuditEntryInput {
  subject: string | null
  roles: readonly string[]
  orgUnit: string | null
  action: string
  route: string
  resourceType: string | null
  resourceId: string | null
  outcome: AuditOutcome
  status: number
  requestId: string
  clientAddress: string | null
  details?: Record<string, unknown>
}

export async function appendAuditEntries(q: Queryable, entries: readonly AuditEntryInput[]): Promise<void> {
  if (entries.length === 0) return
  await q.insertInto('audit_events').values(entries.map(auditRow)).execute()
}

// Text PostgreSQL cannot store (NUL, lone surrogates), written escaped wherever it is in an entry:
// a request refused for such bytes is audited like any other refusal, never lost with the insert.
const storable = (_key: string, value: unknown) => (typeof value === 'string' ? storableText(value) : value)

/** An entry as the columns of its row, details as an object. */
function auditColumns(e: AuditEntryInput) {
  return {
    subject: e.subject,
    roles: e.roles,
    org_unit: e.orgUnit,
    action: e.action,
    route: e.route,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    outcome: e.outcome,
    status: e.status,
    request_id: e.requestId,
    client_address: e.clientAddress,
    details: e.details ?? {},
  }
}

/** The row as Kysely inserts it: every text storable, details as JSON text. */
export function auditRow(e: AuditEntryInput) {
  const { roles, details, ...columns } = auditColumns(e)
  const texts = Object.fromEntries(Object.entries(columns).map(([name, value]) => [name, storable(name, value)])) as typeof columns
  return { ...texts, roles: roles.map(storableText), details: JSON.stringify(details, storable) }
}

/**
 * An INSERT of entries for a data-modifying CTE, written only where `condition` holds (e.g.
 * `exists (select 1 from inserted)`): a write done in one statement carries its audit entry. The
 * entries are one value (`auditRowsJson`), so that its text is the same whatever the entries: a
 * statement compiled once (compiled-queries.ts) passes them as a parameter.
 */
export function insertAuditRowsWhere(rows: string, condition: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`insert into audit_events (subject, roles, org_unit, action, route, resource_type, resource_id, outcome, status, request_id,
                                       client_address, details)
    select subject, roles, org_unit, action, route, resource_type, resource_id, outcome, status, request_id, client_address, details
      from jsonb_populate_recordset(null::audit_events, ${rows}::jsonb)
     where ${condition}`
}

/** Entries as the JSON array `insertAuditRowsWhere` reads, every text (details' too) storable. */
export function auditRowsJson(entries: readonly AuditEntryInput[]): string {
  return JSON.stringify(entries.map(auditColumns), storable)
}

// Reads' entries, however many a group commit holds, in a statement of one text (audit-batch.ts).
const batches = new CompiledQueries('audit entries')

/** Writes entries in one statement whose text does not depend on how many there are. */
export async function appendAuditRows(q: Queryable, entries: readonly AuditEntryInput[]): Promise<void> {
  if (entries.length === 0) return
  await batches.execute(q, 'rows', { rows: auditRowsJson(entries) }, (p) => insertAuditRowsWhere(p.rows, sql`true`))
}
