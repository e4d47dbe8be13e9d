import { addDays } from '../kernel/time.ts'
import type { PolicyBodies } from '../policies/policies.schemas.ts'
import type { Exemption, ReportReason } from './incidents.tables.ts'

/**
 * The reporting duty for leaks (漏えい等) of 行政機関等, pure: 個人情報保護法第68条第1項 and
 * 個人情報保護委員会規則第43条 make an incident reportable to the Commission (and the persons
 * affected notifiable, 第68条第2項) when any of these holds:
 *   1. sensitive personal information (要配慮個人情報) is involved;
 *   2. financial harm may result from misuse (不正に利用されることにより財産的被害が生じるおそれ);
 *   3. a wrongful purpose is suspected (不正の目的をもって行われたおそれ);
 *   4. more persons than the threshold are affected (100 for 行政機関等: 100 is not, 101 is);
 *   5. information the ordinance marks sensitive (条例要配慮個人情報) is involved.
 * Data protected by strong encryption or equivalent measures (高度な暗号化その他の個人の権利利益を
 * 保護するために必要な措置) is exempt. A drill (訓練) is never reportable. The answer names every
 * ground met, exempt or not, so a reader sees why.
 */

export type IncidentResponsePlan = PolicyBodies['incident_response']

export interface ReportingFacts {
  sensitive_personal_information: boolean
  financial_harm_risk: boolean
  wrongful_purpose_suspected: boolean
  ordinance_sensitive_categories: readonly string[]
  strongly_encrypted: boolean
  persons_affected: number | null
}

export interface Judgement {
  reportable: boolean
  reasons: ReportReason[]
  exemption: Exemption | null
}

export function judge(facts: ReportingFacts, plan: Pick<IncidentResponsePlan, 'persons_threshold'>, drill: boolean): Judgement {
  const reasons: ReportReason[] = []
  if (facts.sensitive_personal_information) reasons.push('sensitive_personal_information')
  if (facts.financial_harm_risk) reasons.push('financial_harm_risk')
  if (facts.wrongful_purpose_suspected) reasons.push('wrongful_purpose')
  // 「百人を超える」: more than the threshold, so exactly the threshold is not enough.
  if (facts.persons_affected !== null && facts.persons_affected > plan.persons_threshold) reasons.push('persons_over_threshold')
  if (facts.ordinance_sensitive_categories.length > 0) reasons.push('ordinance_sensitive_information')
  const exemption: Exemption | null = drill ? 'drill' : reasons.length > 0 && facts.strongly_encrypted ? 'strong_encryption' : null
  return { reportable: reasons.length > 0 && exemption === null, reasons, exemption }
}

/** The period for the final report (確報): longer where a wrongful purpose is suspected. */
export function finalReportDays(plan: IncidentResponsePlan, wrongfulPurposeSuspected: boolean): number {
  return wrongfulPurposeSuspected ? plan.reporting.final_report_days_wrongful_purpose : plan.reporting.final_report_days
}

/**
 * Day 1 of a reporting period under the plan: the day of becoming aware (知った日), as the
 * Commission's guidelines count it, or the day after (民法第140条, 初日不算入).
 */
export function dayOne(awareDate: string, plan: IncidentResponsePlan): string {
  return plan.reporting.day_one === 'awareness_date' ? awareDate : addDays(awareDate, 1)
}

/** The warnings due on `today` for a deadline not yet met: `due` from warn_days_before ahead, `overdue` after it. */
export function warningOn(dueDate: string, today: string, warnDaysBefore: number): 'due' | 'overdue' | null {
  if (today > dueDate) return 'overdue'
  return today >= addDays(dueDate, -warnDaysBefore) ? 'due' : null
}
