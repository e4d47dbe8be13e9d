import type { CaseCategory, CaseChannel, Severity } from './case-vocabulary.ts'
import type { PolicyVersion } from './policies.schemas.ts'

/**
 * Small decisions read straight off a policy version, for the domains that make them (cases).
 * Each takes the version in force at the moment that matters (`policyInForce`) as
 * an argument and answers with that version's id, which the caller records with its decision.
 */

/** 一人で対応しない: responders a case that may not be handled alone needs when the policy does not say. */
const NEVER_ALONE_DEFAULT_MIN_RESPONDERS = 2

/**
 * What the escalation policy asks of a case: immediate escalation when one of its categories is
 * listed (一人で対応しない), and the fewest responders: for its severity on a channel where
 * responders are counted (複数名で対応; elsewhere one), and never fewer than the policy's
 * never-alone minimum (default 2) on any channel and at any severity when handling it alone is
 * forbidden, by a listed category or by the case's flag set when it was escalated.
 */
export function escalationFor(
  version: PolicyVersion<'escalation'>,
  c: { categories: readonly CaseCategory[]; channel: CaseChannel; severity: Severity; handled_alone_forbidden?: boolean },
): { escalate_immediately: boolean; because_of: CaseCategory[]; min_responders: number; policy_version_id: string } {
  const because = c.categories.filter((category) => version.body.immediate_categories.includes(category))
  const counted = version.body.min_responders.channels.includes(c.channel)
  const bySeverity = counted ? version.body.min_responders.by_severity[c.severity] : 1
  const neverAlone = because.length > 0 || c.handled_alone_forbidden === true
  const aloneMinimum = neverAlone ? (version.body.never_alone_min_responders ?? NEVER_ALONE_DEFAULT_MIN_RESPONDERS) : 1
  return {
    escalate_immediately: because.length > 0,
    because_of: because,
    min_responders: Math.max(bySeverity, aloneMinimum),
    policy_version_id: version.id,
  }
}
