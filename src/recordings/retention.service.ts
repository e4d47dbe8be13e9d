import type { ServiceContext } from '../kernel/context.js'
import { addDays, todayInTokyo, tokyoDate } from '../kernel/time.js'
import type { RetentionRule } from '../policies/policies.schemas.js'
import { findPolicyVersion } from '../policies/policies.repository.js'
import { holdState, presentHolds } from './holds.service.js'
import { findClassification, holdsOf } from './recordings.repository.js'
import type { RetentionExplanationView } from './recordings.schemas.js'
import { isTerminal, loadRecording, presentRecordings } from './recordings.service.js'
import { effectiveEnd, holdKeeps, retentionEnd } from './retention.js'

const ACTION_WORDS = { dispose: 'disposal (廃棄)', transfer: 'transfer to the archives (移管)', review: 'review by a records manager' } as const

/**
 * GET /v1/recordings/{id}/retention: why a recording is kept as long as it is: the date it
 * counts from, the classification and the schedule's rule (and the version in force when it
 * was classified), 起算日 and end, the holds that keep it, and what happens next and when.
 */
export async function explainRetention(ctx: ServiceContext, id: string): Promise<RetentionExplanationView> {
  const row = await loadRecording(ctx, id)
  const today = todayInTokyo()
  const classification = await findClassification(ctx.db, row.classification_id)
  const policy = await findPolicyVersion(ctx.db, row.retention_policy_id)
  const rule = classification.retention_rule as RetentionRule
  const holds = await holdsOf(ctx.db, row.id)
  const keeping = holds.filter((h) => holdKeeps(holdState(h), today))
  const end = effectiveEnd(row.retention_end, holds.map(holdState))
  const [view] = await presentRecordings(ctx, [row])

  const lines: string[] = []
  const basis = row.source === 'resident_provided' ? 'registered_at' : 'started_at'
  lines.push(
    basis === 'started_at'
      ? `作成日 ${row.document_date}: the Tokyo date the recording started.`
      : `取得日 ${row.document_date}: the date the resident's recording was registered (obtained).`,
  )
  lines.push(
    `Classified ${row.classification} (${row.administrative_document ? '行政文書' : 'not an administrative document'}, ` +
      `${row.personal_information ? '個人情報' : 'no personal information'}), record category ${row.record_category}` +
      `${classification.provisional ? ' — presumed at registration, not yet decided by a records manager' : ''}.`,
  )
  lines.push(
    `Rule of retention schedule version ${row.retention_policy_id} (in force from ${policy?.effective_from ?? '?'}): ` +
      `${classification.rule_match === 'exact' ? `category ${rule.record_category}` : "the '*' rule"} × ${rule.classification} → ` +
      `${rule.period.value} ${rule.period.unit}, from ${rule.start === 'next_fiscal_year' ? 'April 1 of the next fiscal year' : 'the creation date'}, ` +
      `then ${ACTION_WORDS[rule.action]}.`,
  )
  lines.push(
    rule.start === 'next_fiscal_year'
      ? `起算日 ${row.retention_start}: April 1 after fiscal year ${Number(row.retention_start.slice(0, 4)) - 1}, the year of ${row.document_date} (施行令第8条).`
      : `起算日 ${row.retention_start}: the creation date itself.`,
  )
  const scheduleEnd = retentionEnd(row.retention_start, rule.period)
  lines.push(`Kept through ${scheduleEnd} under the schedule.`)
  if (row.review_until !== null) {
    // No automatic purge before a person could look (見直し期間).
    lines.push(
      `Not yet classified by a records manager: kept at least through ${row.review_until}, the review period after its registration on ` +
        `${tokyoDate(row.created_at)} (retention schedule review_period_days), so that nothing is purged before a person could look at it.`,
    )
  }
  for (const h of keeping) {
    lines.push(
      h.until === null
        ? `Hold ${h.type} (${h.reference}) keeps it until ` +
            `${h.type === 'appeal' || h.type === 'disclosure_request' ? 'one year after the day after its decision, once recorded' : 'released'} ` +
            `(${h.type === 'incident' ? 'the leak incident is closed first' : '施行令第9条'}).`
        : `Hold ${h.type} (${h.reference}) keeps it through ${h.until}` +
            `${h.decision_date ? `: one year from the day after the decision of ${h.decision_date}` : ''} (施行令第9条).`,
    )
  }

  let next: RetentionExplanationView['next']
  if (isTerminal(row.status)) {
    next = { step: 'none', on: null, detail: `The recording was ${row.status}; its disposition record ${row.disposition_id} remains.` }
  } else if (row.pending_disposition_id) {
    next = { step: 'awaiting_approval', on: null, detail: `Disposition ${row.pending_disposition_id} awaits approval by a second records manager.` }
  } else if (end === null) {
    next = { step: 'held', on: null, detail: 'A hold without an end keeps it: nothing happens until the hold is released or its decision recorded.' }
  } else {
    const on = addDays(end, 1)
    const automatic = !row.administrative_document && row.retention_action === 'dispose'
    const step = automatic ? 'purge' : row.retention_action === 'dispose' ? 'disposal_due' : row.retention_action === 'transfer' ? 'transfer_due' : 'review_due'
    const when = on <= today ? `since ${on}` : `on ${on}`
    next = {
      step,
      on,
      detail: automatic
        ? `Personal information that is no administrative document: purged automatically by the retention sweep ${when} ` +
          '(media address and personal fields removed) unless a hold is placed.'
        : `Due ${when} for ${ACTION_WORDS[row.retention_action]}: one records manager proposes, another approves.`,
    }
  }
  lines.push(end === null ? 'Effective end: open while the hold lasts.' : `Effective end ${end}: the later of the schedule and every hold.`)
  lines.push(next.detail)

  const holdViews = await presentHolds(ctx, keeping)
  return {
    recording_id: row.id,
    status: row.status,
    classification: view!.classification,
    document_date: row.document_date,
    document_date_basis: basis,
    policy_version: { id: row.retention_policy_id, effective_from: policy?.effective_from ?? classification.retention_start },
    rule,
    rule_match: classification.rule_match,
    start: row.retention_start,
    schedule_end: scheduleEnd,
    review_until: row.review_until,
    action: row.retention_action,
    holds: holdViews,
    effective_end: end,
    next,
    explanation: lines,
  }
}
