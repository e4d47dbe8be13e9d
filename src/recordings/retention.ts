import { addDays, nextFiscalYearStart } from '../kernel/time.ts'
import type { Classification, RetentionRule } from '../policies/policies.schemas.ts'
import type { HoldType } from './recordings.tables.ts'

/**
 * Retention arithmetic (保存期間), pure: dates are Asia/Tokyo calendar dates 'YYYY-MM-DD', and
 * every end is the LAST day a record is kept (it may be disposed of from the day after).
 *
 * - 起算日 (施行令第8条): with start `next_fiscal_year`, April 1 of the fiscal year after the one
 *   the record was made or obtained in; with `creation_date`, that date itself.
 * - A period of N years from its 起算日 S ends the day before S's anniversary N years on
 *   (民法第143条第2項), so April 1 Y + N years ends March 31 Y+N. When the anniversary does not
 *   exist (S is Feb 29 and Y+N is not a leap year), it ends on the last day of that month.
 * - A period of N days (1年未満) counts its 起算日 as day 1 and ends on day N: S + N − 1.
 */

/** The schedule's key for a pair of flags. */
export function classificationKey(administrativeDocument: boolean, personalInformation: boolean): Classification {
  if (administrativeDocument && personalInformation) return 'both'
  if (administrativeDocument) return 'administrative_document'
  if (personalInformation) return 'personal_information'
  return 'neither'
}

export interface MatchedRule {
  rule: RetentionRule
  /** exact: the rule names the record category; wildcard: the schedule's '*' rule for it. */
  match: 'exact' | 'wildcard'
}

/** The rule of the schedule (保存期間表) for a category and classification: exact category first, then '*'. */
export function findRule(rules: readonly RetentionRule[], recordCategory: string, classification: Classification): MatchedRule | null {
  const exact = rules.find((r) => r.record_category === recordCategory && r.classification === classification)
  if (exact) return { rule: exact, match: 'exact' }
  const wildcard = rules.find((r) => r.record_category === '*' && r.classification === classification)
  return wildcard ? { rule: wildcard, match: 'wildcard' } : null
}

/** The last day of a period of `years` years whose first day is `start` (民法第143条). */
export function yearsPeriodEnd(start: string, years: number): string {
  const [y, m, d] = start.split('-').map(Number) as [number, number, number]
  const anniversary = new Date(Date.UTC(y + years, m - 1, d))
  if (anniversary.getUTCMonth() !== m - 1) {
    // No such day in that month (Feb 29 → a common year): the period ends with the month.
    return new Date(Date.UTC(y + years, m, 0)).toISOString().slice(0, 10)
  }
  return addDays(anniversary.toISOString().slice(0, 10), -1)
}

/** 起算日 under the rule, for a record made or obtained on `documentDate`. */
export function retentionStart(documentDate: string, rule: Pick<RetentionRule, 'start'>): string {
  return rule.start === 'next_fiscal_year' ? nextFiscalYearStart(documentDate) : documentDate
}

/** The last day of the rule's period from its 起算日. */
export function retentionEnd(start: string, period: RetentionRule['period']): string {
  return period.unit === 'years' ? yearsPeriodEnd(start, period.value) : addDays(start, period.value - 1)
}

export interface Schedule {
  start: string
  end: string
  action: RetentionRule['action']
}

export function schedule(documentDate: string, rule: RetentionRule): Schedule {
  const start = retentionStart(documentDate, rule)
  return { start, end: retentionEnd(start, rule.period), action: rule.action }
}

/**
 * The last day an appeal (不服申立て) or disclosure-request (開示請求) hold keeps a record:
 * 「決定の日の翌日から起算して一年間」 (施行令第9条第1項第3号・第4号). The year starts the day
 * after the decision and ends the day before that day's anniversary: a decision of 2025-06-10
 * keeps the record through 2026-06-10.
 */
export function holdEndAfterDecision(decisionDate: string): string {
  return yearsPeriodEnd(addDays(decisionDate, 1), 1)
}

/** Holds that end a year after the day after a decision, once the decision date is known. */
export const DECISION_HOLDS: readonly HoldType[] = ['appeal', 'disclosure_request']

/**
 * What retention asks of a live recording on `today`, the one source of the status rule: keep it
 * while its effective end has not passed or a hold without an end keeps it; once it has passed,
 * personal information that is no administrative document and whose rule says dispose is purged
 * by the retention sweep (保有の制限), and everything else becomes due for a two-person
 * disposition. `settledStatus` (recordings.service.ts), the sweep's two statements and their
 * partial indexes (migration 0007) say the same: test/recordings/status-rule.test.ts holds them
 * equal over every combination of the columns involved.
 */
export function retentionStep(
  row: { hold_open: boolean; effective_end: string; administrative_document: boolean; retention_action: RetentionRule['action'] },
  today: string,
): 'keep' | 'due' | 'purge' {
  if (row.hold_open || row.effective_end >= today) return 'keep'
  return !row.administrative_document && row.retention_action === 'dispose' ? 'purge' : 'due'
}

export interface HoldState {
  type: HoldType
  until: string | null
  released: boolean
}

/**
 * Whether a hold keeps the record on `today`: unreleased and either without an end (audit,
 * litigation, an appeal or disclosure request still awaiting its decision, an 'other' hold
 * without a date) or ending today or later.
 */
export function holdKeeps(hold: HoldState, today: string): boolean {
  return !hold.released && (hold.until === null || hold.until >= today)
}

/**
 * The effective end of retention: the later of the schedule's end and every unreleased hold's
 * end; null while a hold without an end keeps the record.
 */
export function effectiveEnd(scheduleEnd: string, holds: readonly HoldState[]): string | null {
  let end = scheduleEnd
  for (const hold of holds) {
    if (hold.released) continue
    if (hold.until === null) return null
    if (hold.until > end) end = hold.until
  }
  return end
}
