import type { ServiceContext } from '../kernel/context.ts'
import { conflictOnUnique, forbidden, unprocessable } from '../kernel/errors.ts'
import { createOrgUnit, findOrgUnit, listOrgUnits, unitWithCreationReach } from './org-units.repository.ts'
import type { CreateOrgUnit, OrgUnit } from './org-units.schemas.ts'
import type { Message } from '../kernel/messages/index.ts'

/** Org units (所属): the tree that reach ("own unit and below") is measured on. */

export async function orgUnitTree(ctx: ServiceContext): Promise<OrgUnit[]> {
  const items = await listOrgUnits(ctx.db)
  ctx.audit.details = { count: items.length }
  return items
}

/** A new unit under an existing one (administrators). */
export async function addOrgUnit(ctx: ServiceContext, input: CreateOrgUnit): Promise<OrgUnit> {
  const created = await createOrgUnit(ctx.db, { parentId: input.parent_id, code: input.code, name: input.name, createdBy: ctx.caller.subject }).catch(
    conflictOnUnique('body/code', { id: 'org_units.code_taken', params: { code: input.code } }),
  )
  if (!created) throw unprocessable('org_units.parent_missing', [{ pointer: 'body/parent_id', message: 'org_units.no_such_unit' }])
  ctx.audit.resourceId = created.id
  // A unit belongs to itself, so integration clients of the parent unit see it appear.
  ctx.publish({
    kind: 'org_unit.created',
    resourceType: 'org_unit',
    resourceId: created.id,
    orgUnitId: created.id,
    data: { parent_id: input.parent_id, code: input.code },
  })
  return created
}

/** 422 naming the field when a unit given in a body does not exist. */
export async function requireOrgUnit(ctx: ServiceContext, unitId: string, pointer: string): Promise<void> {
  if (!(await findOrgUnit(ctx.db, unitId))) throw unprocessable('org_units.unit_missing', [{ pointer, message: 'org_units.no_such_unit' }])
}

/**
 * The org unit a new record (a case, a recording without a case) belongs to: the one given, or
 * the caller's own; it must exist and lie within the caller's reach for creating: own = the
 * caller's unit only, unit = it and the units below it, all = any.
 */
export async function unitForNewRecord(ctx: ServiceContext, wanted: string | undefined, what: { pointer: string; doing: Message }): Promise<string> {
  // The same rule, in the same query, as a write done in one statement decides it with.
  const unit = unitForNewRecordInStatement(ctx, wanted, what)
  const found = await unit.query().executeTakeFirst()
  const refused = unit.refusal({ exists: found !== undefined, allowed: found?.allowed === true })
  if (refused) throw refused
  return unit.unitId
}

function unitAsked({ caller }: ServiceContext, wanted: string | undefined, pointer: string): string {
  const unitId = wanted ?? caller.orgUnit
  if (!unitId) throw unprocessable('org_units.token_names_none', [{ pointer, message: 'field.required' }])
  return unitId
}

function unitRefusal(ctx: ServiceContext, found: { exists: boolean; allowed: boolean }, { pointer, doing }: { pointer: string; doing: Message }) {
  if (!found.exists) return unprocessable('org_units.unit_missing', [{ pointer, message: 'org_units.no_such_unit' }])
  if (found.allowed) return null
  return forbidden(ctx.reach === 'own' ? { id: 'org_units.only_own_unit', params: { doing: { text: doing } } } : 'org_units.outside_reach')
}

/**
 * unitForNewRecord for a write done in one statement: the unit, a query for the statement that
 * yields its row (none when it does not exist) with whether the caller may create there, and the
 * problem to answer from what that query found (null: the unit is fine).
 */
export function unitForNewRecordInStatement(ctx: ServiceContext, wanted: string | undefined, what: { pointer: string; doing: Message }) {
  const unitId = unitAsked(ctx, wanted, what.pointer)
  return {
    unitId,
    /** The unit's query; a statement compiled once passes stand-ins for the unit and the caller's unit (compiled-queries.ts). */
    query: (unit: string = unitId, callerUnit: string | null = ctx.caller.orgUnit) => unitWithCreationReach(ctx.db, unit, ctx.reach, callerUnit),
    refusal: (found: { exists: boolean; allowed: boolean }) => unitRefusal(ctx, found, what),
  }
}
