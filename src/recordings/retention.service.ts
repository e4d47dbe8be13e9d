import type { ServiceContext } from '../kernel/context.ts'
import { addDays, todayInTokyo, tokyoDate } from '../kernel/time.ts'
import type { RetentionRule } from '../policies/policies.schemas.ts'
import { findPolicyVersion } from '../policies/policies.repository.ts'
import { holdState, presentHolds } from './holds.service.ts'
import { findClassification, holdsOf } from './recordings.repository.ts'
import type { RetentionExplanationView } from './recordings.schemas.ts'
import { isTerminal, loadRecording, presentRecordings } from './recordings.service.ts'
import { effectiveEnd, holdKeeps, retentionEnd } from './retention.ts'
import { type Message, render } from '../kernel/messages/index.ts'

const ACTION_WORDS = { dispose: 'retention.action_dispose', transfer: 'retention.action_transfer', review: 'retention.action_review' } as const

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

  const say = (message: Message) => render(message, ctx.language)
  const lines: string[] = []
  const basis = row.source === 'resident_provided' ? 'registered_at' : 'started_at'
  lines.push(say({ id: basis === 'started_at' ? 'retention.created_on' : 'retention.obtained_on', params: { date: row.document_date } }))
  lines.push(
    say({
      id: classification.provisional ? 'retention.classified_presumed' : 'retention.classified',
      params: {
        classification: row.classification,
        document: { text: row.administrative_document ? 'retention.administrative_document' : 'retention.not_administrative_document' },
        personal: { text: row.personal_information ? 'retention.personal_information' : 'retention.no_personal_information' },
        category: row.record_category,
      },
    }),
  )
  lines.push(
    say({
      id: 'retention.rule',
      params: {
        version: row.retention_policy_id,
        from: policy?.effective_from ?? '?',
        match:
          classification.rule_match === 'exact'
            ? { text: { id: 'retention.rule_category', params: { category: rule.record_category } } }
            : { text: 'retention.rule_default' },
        classification: rule.classification,
        period: { text: { id: rule.period.unit === 'years' ? 'retention.period_years' : 'retention.period_days', params: { value: rule.period.value } } },
        start: { text: rule.start === 'next_fiscal_year' ? 'retention.start_next_fiscal_year' : 'retention.start_creation_date' },
        action: { text: ACTION_WORDS[rule.action] },
      },
    }),
  )
  lines.push(
    say(
      rule.start === 'next_fiscal_year'
        ? {
            id: 'retention.start_fiscal',
            params: { start: row.retention_start, year: Number(row.retention_start.slice(0, 4)) - 1, date: row.document_date },
          }
        : { id: 'retention.start_itself', params: { start: row.retention_start } },
    ),
  )
  const scheduleEnd = retentionEnd(row.retention_start, rule.period)
  lines.push(say({ id: 'retention.kept_through', params: { end: scheduleEnd } }))
  if (row.review_until !== null) {
    // No automatic purge before a person could look (見直し期間).
    lines.push(say({ id: 'retention.review_period', params: { until: row.review_until, registered: tokyoDate(row.created_at) } }))
  }
  for (const h of keeping) {
    const decided = h.type === 'appeal' || h.type === 'disclosure_request'
    lines.push(
      say(
        h.until === null
          ? {
              id: h.type === 'incident' ? 'retention.hold_incident' : decided ? 'retention.hold_until_decision' : 'retention.hold_until_released',
              params: { type: h.type, reference: h.reference },
            }
          : h.decision_date
            ? { id: 'retention.hold_through_decision', params: { type: h.type, reference: h.reference, until: h.until, decided: h.decision_date } }
            : { id: 'retention.hold_through', params: { type: h.type, reference: h.reference, until: h.until } },
      ),
    )
  }

  let next: RetentionExplanationView['next']
  if (isTerminal(row.status)) {
    next = { step: 'none', on: null, detail: say({ id: 'retention.next_none', params: { status: row.status, disposition: String(row.disposition_id) } }) }
  } else if (row.pending_disposition_id) {
    next = { step: 'awaiting_approval', on: null, detail: say({ id: 'retention.next_awaiting', params: { disposition: row.pending_disposition_id } }) }
  } else if (end === null) {
    next = { step: 'held', on: null, detail: say('retention.next_held') }
  } else {
    const on = addDays(end, 1)
    const automatic = !row.administrative_document && row.retention_action === 'dispose'
    const step = automatic ? 'purge' : row.retention_action === 'dispose' ? 'disposal_due' : row.retention_action === 'transfer' ? 'transfer_due' : 'review_due'
    const since = on <= today
    next = {
      step,
      on,
      detail: automatic
        ? say({ id: since ? 'retention.next_purge_since' : 'retention.next_purge_on', params: { date: on } })
        : say({ id: since ? 'retention.next_due_since' : 'retention.next_due_on', params: { date: on, action: { text: ACTION_WORDS[row.retention_action] } } }),
    }
  }
  lines.push(say(end === null ? 'retention.end_open' : { id: 'retention.end', params: { end } }))
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
