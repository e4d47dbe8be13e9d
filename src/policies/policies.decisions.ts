import type { CaseCategory, CaseChannel, Severity } from './case-vocabulary.js'
import type { PolicyVersion } from './policies.schemas.js'

/**
 * Small decisions read straight off a policy version, for the domains that make them (cases).
 * Each takes the version in force at the moment that matters (`policyInForce`) as
 * an argument and answers with that version's id, which the caller records with its decision.
 */

/**
 * What the escalation policy asks of a case: immediate escalation when one of its categories is
 * listed (一人で対応しない), and the fewest responders for its severity on a channel where
 * responders are counted (複数名で対応; elsewhere one).
 */
export function escalationFor(
  version: PolicyVersion<'escalation'>,
  c: { categories: readonly CaseCategory[]; channel: CaseChannel; severity: Severity },
): { escalate_immediately: boolean; because_of: CaseCategory[]; min_responders: number; policy_version_id: string } {
  const because = c.categories.filter((category) => version.body.immediate_categories.includes(category))
  const counted = version.body.min_responders.channels.includes(c.channel)
  return {
    escalate_immediately: because.length > 0,
    because_of: because,
    min_responders: counted ? version.body.min_responders.by_severity[c.severity] : 1,
    policy_version_id: version.id,
  }
}
