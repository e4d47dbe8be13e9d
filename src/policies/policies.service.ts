import type { ServiceContext } from '../kernel/context.ts'
import type { SharedValue } from '../kernel/shared-values.ts'
import { badRequest, conflict, notFound, unprocessable } from '../kernel/errors.ts'
import { addDays, todayInTokyo } from '../kernel/time.ts'
import {
  allPolicyVersions,
  findPolicyVersion,
  insertPolicyVersion,
  listPolicyVersions,
  nextEffectiveDates,
  policiesInForce,
  policyInForce,
  versionExistsOn,
} from './policies.repository.ts'
import { effectiveDateErrors, policyBodyErrors } from './policies.rules.ts'
import { POLICY_EPOCH, POLICY_TYPES, type PolicyBodies, type PolicyType, type PolicyVersion, type PolicyVersionView } from './policies.schemas.ts'

/**
 * Policies with effective dates (施行日): which version was (or will be) in force on a date, and
 * new versions, which take effect today or later, never before. Other modules decide with the
 * versions in force through `policiesToday` and `policyOn`, and record the version's id.
 */

export type PoliciesInForce = { [K in PolicyType]: PolicyVersion<K> }

/**
 * Every version of every type, kept by each instance (a handful of rows that change a few times a
 * year) and dropped when a version is added: migration 0017 announces inserts on this channel.
 * Which version is in force on a date is then decided in memory, so no request reads policies.
 */
export const POLICY_VERSIONS: SharedValue<Map<PolicyType, PolicyVersion[]>> = {
  channel: 'policy_versions',
  load: allPolicyVersions,
}

/** The version of a type in force on `on` among a type's versions (oldest first). */
function inForceAmong<T extends PolicyType>(versions: Map<PolicyType, PolicyVersion[]>, type: T, on: string): PolicyVersion<T> {
  const found = versions.get(type)?.findLast((v) => v.effective_from <= on)
  if (!found) throw new Error(`no ${type} policy in force on ${on}`)
  return found as PolicyVersion<T>
}

/** Every type's version in force on a date, from the instance's copy. */
async function policiesOn(ctx: ServiceContext, on: string): Promise<PoliciesInForce> {
  const versions = await ctx.shared(POLICY_VERSIONS)
  return Object.fromEntries(POLICY_TYPES.map((type) => [type, inForceAmong(versions, type, on)])) as PoliciesInForce
}

/** Every type's version in force today (Asia/Tokyo), from the instance's copy: no query. */
export function policiesToday(ctx: ServiceContext): Promise<PoliciesInForce> {
  return policiesOn(ctx, todayInTokyo())
}

/** The version of a type in force on a date, from the instance's copy: no query. */
export async function policyOn<T extends PolicyType>(ctx: ServiceContext, type: T, date: string): Promise<PolicyVersion<T>> {
  return inForceAmong(await ctx.shared(POLICY_VERSIONS), type, date)
}

/** The date a read asks about: ?at= or today in Tokyo; nothing was in force before the epoch. */
export function dateAsked(at: string | undefined, pointer = 'querystring/at'): string {
  if (at === undefined) return todayInTokyo()
  if (at < POLICY_EPOCH)
    throw badRequest({ id: 'policies.before_epoch', params: { at, epoch: POLICY_EPOCH } }, [
      { pointer, message: { id: 'policies.epoch_or_later', params: { epoch: POLICY_EPOCH } } },
    ])
  return at
}

/** A version with the last day it is in force, given the next version's effective date. */
function view<T extends PolicyType>(version: PolicyVersion<T>, nextFrom: string | undefined): PolicyVersionView<T> {
  return { ...version, effective_until: nextFrom === undefined ? null : addDays(nextFrom, -1) } as PolicyVersionView<T>
}

/** Each type's version in force on `at`. */
export async function policiesInForceOn(ctx: ServiceContext, at: string) {
  const [versions, next] = await Promise.all([policiesInForce(ctx.db, at), nextEffectiveDates(ctx.db, at)])
  ctx.audit.details = { at }
  return {
    at,
    policies: {
      recording: view(versions.recording, next.recording),
      name_display: view(versions.name_display, next.name_display),
      escalation: view(versions.escalation, next.escalation),
      retention: view(versions.retention, next.retention),
      calendar: view(versions.calendar, next.calendar),
      incident_response: view(versions.incident_response, next.incident_response),
      disclosure: view(versions.disclosure, next.disclosure),
    },
  }
}

/** One type's version in force on `at`. */
export async function policyInForceOn<T extends PolicyType>(ctx: ServiceContext, type: T, at: string): Promise<PolicyVersionView<T>> {
  const [version, next] = await Promise.all([policyInForce(ctx.db, type, at), nextEffectiveDates(ctx.db, at, [type])])
  ctx.audit.resourceId = version.id
  ctx.audit.details = { type, at }
  return view(version, next[type])
}

/** A type's versions, oldest first, with the one in force today. */
export async function policyHistory<T extends PolicyType>(ctx: ServiceContext, type: T) {
  const today = todayInTokyo()
  const versions = await listPolicyVersions(ctx.db, type)
  const items = versions.map((v, i) => view(v, versions[i + 1]?.effective_from))
  // The default version takes effect on the epoch, so one is always in force today.
  const inForce = items.filter((v) => v.effective_from <= today).at(-1)!
  ctx.audit.details = { type, count: items.length }
  return { type, today, in_force_id: inForce.id, items }
}

/** One version by id, 404 when it is not of that type. */
export async function policyVersion(ctx: ServiceContext, type: PolicyType, id: string): Promise<PolicyVersionView> {
  const version = await findPolicyVersion(ctx.db, id)
  if (!version || version.type !== type) throw notFound({ id: 'not_found.policy_version', params: { type, id } })
  const next = await nextEffectiveDates(ctx.db, version.effective_from, [type])
  ctx.audit.details = { type }
  return view(version, next[type])
}

/**
 * A new version (administrators): it takes effect today or later, satisfies its type's rules
 * (policies.rules.ts, every failing field named at once), and no other version of the type takes
 * effect on the same date (409; the unique constraint settles concurrent requests the same way).
 */
export async function createPolicyVersion<T extends PolicyType>(
  ctx: ServiceContext,
  type: T,
  input: { effective_from: string; body: PolicyBodies[T]; note: string },
): Promise<PolicyVersionView<T>> {
  const errors = [...effectiveDateErrors(input.effective_from), ...policyBodyErrors(type, input.body, input.effective_from)]
  if (errors.length > 0) {
    throw unprocessable(
      { id: 'problem.invalid_values_in', params: { count: errors.length, where: { text: 'where.body' }, fields: { fields: errors.slice(0, 3) } } },
      errors,
    )
  }
  if (await versionExistsOn(ctx.db, type, input.effective_from)) {
    throw conflict({ id: 'policies.version_on_date', params: { type, date: input.effective_from } })
  }
  // This instance keeps no copy until the transaction has ended; other instances hear the NOTIFY.
  ctx.writes(POLICY_VERSIONS)
  const version = await insertPolicyVersion(ctx.db, {
    type,
    effectiveFrom: input.effective_from,
    body: input.body,
    note: input.note,
    createdBy: ctx.caller.subject,
  })
  const next = await nextEffectiveDates(ctx.db, version.effective_from, [type])
  ctx.publish({
    kind: 'policy.version_created',
    resourceType: 'policy',
    resourceId: version.id,
    orgUnitId: null,
    data: { type, effective_from: version.effective_from },
  })
  ctx.audit.resourceId = version.id
  ctx.audit.details = { type, effective_from: version.effective_from }
  return view(version, next[type])
}
