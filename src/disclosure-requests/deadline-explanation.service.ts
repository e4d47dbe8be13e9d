import type { OfficeHoliday } from '../calendar/calendar.rules.js'
import type { ServiceContext } from '../kernel/context.js'
import { addDays, todayInTokyo } from '../kernel/time.js'
import type { PolicyVersion } from '../policies/policies.schemas.js'
import { findPolicyVersion } from '../policies/policies.repository.js'
import { excludedDays } from './disclosure-deadline.js'
import { computeDeadline } from './disclosure-deadline.service.js'
import type { DeadlineExplanationView } from './disclosure-requests.schemas.js'
import { loadRequest, presentRequest } from './disclosure-requests.service.js'

const LAW = {
  personal_information: '個人情報保護法第83条',
  information_disclosure: '情報公開法第10条 (or the ordinance it is modelled on)',
} as const

function holidayWords(h: OfficeHoliday): string {
  return h.reasons
    .map((r) => (r.kind === 'weekend' ? r.day : r.kind === 'national_holiday' ? r.name : r.kind === 'year_end' ? '年末年始 (12/29–1/3)' : r.reason))
    .join(', ')
}

/**
 * GET /v1/disclosure-requests/{id}/deadline: how the decision deadline was counted, the way the
 * calendar's deadline route explains a due date: the rule and the policy version, the correction
 * days excluded, the extension, the office holidays moved over, and where the request stands.
 */
export async function explainDeadline(ctx: ServiceContext, id: string): Promise<DeadlineExplanationView> {
  const request = await loadRequest(ctx, id)
  const policy = (await findPolicyVersion(ctx.db, request.disclosure_policy_id)) as PolicyVersion<'disclosure'>
  const computed = await computeDeadline(
    ctx.db,
    { kind: request.kind, received_date: request.received_date, corrections: request.corrections, extension_days: request.extension_days },
    policy,
  )
  const { rules, length, original, final } = computed
  const view = await presentRequest(ctx, request)
  const today = todayInTokyo()
  const lines: string[] = []
  lines.push(
    `Received ${request.received_date} (${request.kind}); days count from ${addDays(request.received_date, 1)}, the day after receipt ` +
      '(初日不算入, 民法第140条).',
  )
  lines.push(
    `Disclosure policy version ${policy.id} (in force from ${policy.effective_from}, the version in force on the received date): ` +
      `${rules.decision_period_days} days for ${request.kind} requests (${LAW[request.kind]}), extendable once by at most ${rules.max_extension_days}.`,
  )
  for (const c of request.corrections) {
    const days = excludedDays(c)
    lines.push(
      days === null
        ? `Correction round ${c.round}, asked for on ${c.requested_on}, is outstanding: the clock stands still and the deadline is unknown ` +
            'until the corrected request arrives (当該補正に要した日数は算入しない).'
        : `Correction round ${c.round}: asked for on ${c.requested_on}, the corrected request arrived ${c.corrected_on}: ${days} day${days === 1 ? '' : 's'} ` +
            `(${addDays(c.requested_on, 1)} through ${c.corrected_on}) not counted (当該補正に要した日数は算入しない).`,
    )
  }
  if (original) {
    lines.push(
      `Original deadline: ${request.received_date} + ${rules.decision_period_days} days` +
        `${length.excluded_days > 0 ? ` + ${length.excluded_days} correction days` : ''} = ${original.raw_due_date}` +
        `${original.due_date !== original.raw_due_date ? `, moved off office holidays to ${original.due_date}` : ''}.`,
    )
  }
  if (view.extension) {
    lines.push(
      `Extended by ${view.extension.days} days, decided ${view.extension.decided_on}, the requester notified ${view.extension.notified_on} ` +
        `(情報公開法第10条第2項, 個人情報保護法第83条第2項): the period ends ${request.received_date} + ${length.total_days} days = ${final?.raw_due_date}.`,
    )
  }
  if (final) {
    const who =
      computed.holidays === 'disclosure_policy'
        ? `the disclosure policy says a deadline on an office holiday ${rules.roll_forward_off_holidays ? 'moves' : 'stays'}`
        : `the calendar policy ${final.roll_forward ? 'moves' : 'does not move'} the office's own decision deadlines off office holidays`
    if (final.raw_due_date_is_holiday) {
      lines.push(
        final.roll_forward
          ? `${final.raw_due_date} is an office holiday and ${who}: moved over ${final.skipped.map((h) => `${h.date} (${holidayWords(h)})`).join(', ')} ` +
              `to ${final.due_date} (行政機関の休日に関する法律第2条).`
          : `${final.raw_due_date} is an office holiday, but ${who}: the deadline stays on it.`,
      )
    }
    lines.push(`Deadline ${final.due_date}; deadline_approaching is published from ${computed.warnFrom} (${rules.warning_days} days before).`)
  }
  let state: DeadlineExplanationView['state']
  if (request.status === 'withdrawn') state = 'closed'
  else if (request.decided_on) state = final && request.decided_on > final.due_date ? 'decided_late' : 'decided_in_time'
  else if (!final) state = 'suspended'
  else state = today > final.due_date ? 'overdue' : 'running'
  const stateWords = {
    closed: `Withdrawn on ${request.withdrawn_on}: no decision follows.`,
    decided_late: `Decided on ${request.decided_on}, after the deadline.`,
    decided_in_time: `Decided on ${request.decided_on}, within the deadline.`,
    suspended: 'Waiting for the corrected request: no deadline runs.',
    overdue: `Undecided and past the deadline (${final?.due_date}).`,
    running: `Undecided; ${final ? `the deadline is ${final.due_date}` : ''}.`,
  } as const
  lines.push(stateWords[state])
  ctx.audit.details = { due_date: final?.due_date ?? null, state }
  return {
    request_id: request.id,
    kind: request.kind,
    status: request.status,
    received_date: request.received_date,
    counted_from: addDays(request.received_date, 1),
    policy_version: { id: policy.id, effective_from: policy.effective_from },
    rule: {
      decision_period_days: rules.decision_period_days,
      max_extension_days: rules.max_extension_days,
      warning_days: rules.warning_days,
      holidays: computed.holidays,
    },
    corrections: view.corrections,
    excluded_days: length.excluded_days,
    suspended: length.suspended,
    original_due_date: original?.due_date ?? null,
    extension: view.extension,
    period_days: final ? length.total_days : null,
    raw_due_date: final?.raw_due_date ?? null,
    raw_due_date_is_holiday: final?.raw_due_date_is_holiday ?? null,
    roll_forward: final?.roll_forward ?? null,
    due_date: final?.due_date ?? null,
    skipped: final?.skipped ?? [],
    calendar_version_ids: final?.calendar_version_ids ?? [],
    warn_from: computed.warnFrom,
    decided_on: request.decided_on,
    state,
    explanation: lines,
  }
}
