import type { PolicyBodies } from '../policies/policies.schemas.ts'

/**
 * The decision deadline of a disclosure request (開示決定等の期限), as arithmetic on Tokyo dates
 * ('YYYY-MM-DD'). The calendar (calendar.service.ts, officeDueDate) then decides whether the
 * last day moves off an office holiday.
 *
 * - The period counts from the day after receipt (初日不算入, 民法第140条): N days from the
 *   received date R end on R + N, N being the disclosure policy's decision period for the kind,
 *   in the version in force on R (national law 30: 情報公開法第10条第1項, 個人情報保護法第83条第1項).
 * - Days spent on a correction (補正) do not count (同項ただし書: 当該補正に要した日数は、当該期間に
 *   算入しない). A round excludes the days from the day after the office asked for the correction
 *   up to and including the day the corrected request arrived: corrected_on − requested_on days.
 *   Rounds add up. While a round is open the clock stands still and the deadline is unknown.
 * - An extension (情報公開法第10条第2項, 個人情報保護法第83条第2項) adds its days, at most the
 *   policy's maximum, to the period; the office-holiday rule applies to the end of the extended
 *   period, not to the original end.
 */

export type KindRules = PolicyBodies['disclosure']['kinds']['personal_information']

export interface CorrectionRound {
  round: number
  requested_on: string
  corrected_on: string | null
}

const DAY_MS = 86_400_000

/** Calendar days from `from` to `to` (to − from). */
function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS)
}

/** Days of a correction round that do not count; null while it is open. */
export function excludedDays(round: CorrectionRound): number | null {
  return round.corrected_on === null ? null : daysBetween(round.requested_on, round.corrected_on)
}

export interface PeriodLength {
  /** A correction is outstanding: the clock stands still. */
  suspended: boolean
  /** Days excluded by finished correction rounds. */
  excluded_days: number
  /** Days from the received date to the original end: the decision period plus excluded days. */
  original_days: number
  /** With the extension, if any. */
  total_days: number
}

/** How many days after the received date the period ends, before the office-holiday rule. */
export function periodLength(rules: KindRules, corrections: readonly CorrectionRound[], extensionDays: number | null): PeriodLength {
  let excluded = 0
  let suspended = false
  for (const round of corrections) {
    const days = excludedDays(round)
    if (days === null) suspended = true
    else excluded += days
  }
  const original = rules.decision_period_days + excluded
  return { suspended, excluded_days: excluded, original_days: original, total_days: original + (extensionDays ?? 0) }
}
