import { CalendarError, type Deadline } from '../calendar/calendar.rules.ts'
import { officeDueDate } from '../calendar/calendar.service.ts'
import type { Queryable } from '../kernel/db.ts'
import { HttpProblem } from '../kernel/errors.ts'
import { addDays } from '../kernel/time.ts'
import type { DisclosureKind, PolicyVersion } from '../policies/policies.schemas.ts'
import { type CorrectionRound, type KindRules, type PeriodLength, periodLength } from './disclosure-deadline.ts'

/**
 * The deadline of a request as the office calendar has it: the period's length (disclosure-
 * deadline.ts), then the calendar's due date for the office's own decision, moved off an office
 * holiday as the disclosure policy says for the kind, or, where it says nothing, as the calendar
 * policy says for the office's own decisions (office_decisions_roll_forward).
 */

export interface DeadlineFacts {
  kind: DisclosureKind
  received_date: string
  corrections: readonly CorrectionRound[]
  extension_days: number | null
}

export interface ComputedDeadline {
  policy: PolicyVersion<'disclosure'>
  rules: KindRules
  /** Who decided whether a due date on an office holiday moves. */
  holidays: 'disclosure_policy' | 'calendar_policy'
  length: PeriodLength
  /** Without the extension; null while suspended. */
  original: Deadline | null
  /** With the extension (the original when there is none); null while suspended. */
  final: Deadline | null
  warnFrom: string | null
}

export async function computeDeadline(q: Queryable, facts: DeadlineFacts, policy: PolicyVersion<'disclosure'>): Promise<ComputedDeadline> {
  const rules = policy.body.kinds[facts.kind]
  const holidays = rules.roll_forward_off_holidays === undefined ? 'calendar_policy' : 'disclosure_policy'
  const length = periodLength(rules, facts.corrections, facts.extension_days)
  if (length.suspended) return { policy, rules, holidays, length, original: null, final: null, warnFrom: null }
  try {
    const due = (days: number) => officeDueDate(q, facts.received_date, days, 'office_decision', rules.roll_forward_off_holidays)
    const original = await due(length.original_days)
    const final = facts.extension_days ? await due(length.total_days) : original
    return { policy, rules, holidays, length, original, final, warnFrom: addDays(final.due_date, -rules.warning_days) }
  } catch (error) {
    if (error instanceof CalendarError)
      throw new HttpProblem(422, 'unprocessable', { id: 'disclosure.deadline_uncountable', params: { why: { text: error.detail } } })
    throw error
  }
}

/** The deadline columns a request keeps (the due list and the deadline job read them). */
export function deadlineColumns(computed: ComputedDeadline) {
  return { due_date: computed.final?.due_date ?? null, warn_from: computed.warnFrom, disclosure_policy_id: computed.policy.id }
}
