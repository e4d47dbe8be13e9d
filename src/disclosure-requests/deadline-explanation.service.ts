import type { OfficeHoliday } from '../calendar/calendar.rules.ts'
import type { ServiceContext } from '../kernel/context.ts'
import { addDays, todayInTokyo } from '../kernel/time.ts'
import type { PolicyVersion } from '../policies/policies.schemas.ts'
import { findPolicyVersion } from '../policies/policies.repository.ts'
import { excludedDays } from './disclosure-deadline.ts'
import { computeDeadline } from './disclosure-deadline.service.ts'
import type { DeadlineExplanationView } from './disclosure-requests.schemas.ts'
import { loadRequest, presentRequest } from './disclosure-requests.service.ts'
import { type Message, render } from '../kernel/messages/index.ts'

const LAW = {
  personal_information: 'deadline.law_personal_information',
  information_disclosure: 'deadline.law_information_disclosure',
} as const

function holidayWords(h: OfficeHoliday): Message {
  return {
    id: 'deadline.holiday',
    params: {
      date: h.date,
      reasons: {
        texts: h.reasons.map(
          (r): Message =>
            r.kind === 'year_end'
              ? 'deadline.year_end'
              : { id: 'deadline.reason', params: { reason: r.kind === 'weekend' ? r.day : r.kind === 'national_holiday' ? r.name : r.reason } },
        ),
      },
    },
  }
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
  const say = (message: Message) => render(message, ctx.language)
  const lines: string[] = []
  lines.push(say({ id: 'deadline.received', params: { date: request.received_date, kind: request.kind, from: addDays(request.received_date, 1) } }))
  lines.push(
    say({
      id: 'deadline.policy',
      params: {
        version: policy.id,
        from: policy.effective_from,
        days: rules.decision_period_days,
        kind: request.kind,
        law: { text: LAW[request.kind] },
        extension: rules.max_extension_days,
      },
    }),
  )
  for (const c of request.corrections) {
    const days = excludedDays(c)
    lines.push(
      say(
        days === null
          ? { id: 'deadline.correction_outstanding', params: { round: c.round, asked: c.requested_on } }
          : {
              id: 'deadline.correction',
              params: { round: c.round, asked: c.requested_on, arrived: String(c.corrected_on), count: days, from: addDays(c.requested_on, 1) },
            },
      ),
    )
  }
  if (original) {
    const excluded: Message = length.excluded_days > 0 ? { id: 'deadline.plus_correction_days', params: { days: length.excluded_days } } : 'deadline.nothing'
    const moved: Message = original.due_date !== original.raw_due_date ? { id: 'deadline.moved_to', params: { date: original.due_date } } : 'deadline.nothing'
    lines.push(
      say({
        id: 'deadline.original',
        params: {
          received: request.received_date,
          days: rules.decision_period_days,
          excluded: { text: excluded },
          raw: original.raw_due_date,
          moved: { text: moved },
        },
      }),
    )
  }
  if (view.extension) {
    lines.push(
      say({
        id: 'deadline.extended',
        params: {
          days: view.extension.days,
          decided: view.extension.decided_on,
          notified: view.extension.notified_on,
          received: request.received_date,
          total: length.total_days,
          raw: String(final?.raw_due_date),
        },
      }),
    )
  }
  if (final) {
    const who: Message =
      computed.holidays === 'disclosure_policy'
        ? rules.roll_forward_off_holidays
          ? 'deadline.policy_moves'
          : 'deadline.policy_stays'
        : final.roll_forward
          ? 'deadline.calendar_moves'
          : 'deadline.calendar_stays'
    if (final.raw_due_date_is_holiday) {
      lines.push(
        say(
          final.roll_forward
            ? {
                id: 'deadline.holiday_moved',
                params: { raw: final.raw_due_date, who: { text: who }, skipped: { texts: final.skipped.map(holidayWords) }, due: final.due_date },
              }
            : { id: 'deadline.holiday_stays', params: { raw: final.raw_due_date, who: { text: who } } },
        ),
      )
    }
    lines.push(say({ id: 'deadline.final', params: { due: final.due_date, warn: String(computed.warnFrom), days: rules.warning_days } }))
  }
  let state: DeadlineExplanationView['state']
  if (request.status === 'withdrawn') state = 'closed'
  else if (request.decided_on) state = final && request.decided_on > final.due_date ? 'decided_late' : 'decided_in_time'
  else if (!final) state = 'suspended'
  else state = today > final.due_date ? 'overdue' : 'running'
  const stateWords: Record<DeadlineExplanationView['state'], Message> = {
    closed: { id: 'deadline.state_closed', params: { date: String(request.withdrawn_on) } },
    decided_late: { id: 'deadline.state_decided_late', params: { date: String(request.decided_on) } },
    decided_in_time: { id: 'deadline.state_decided_in_time', params: { date: String(request.decided_on) } },
    suspended: 'deadline.state_suspended',
    overdue: { id: 'deadline.state_overdue', params: { due: String(final?.due_date) } },
    running: { id: 'deadline.state_running', params: { due: String(final?.due_date) } },
  }
  lines.push(say(stateWords[state]))
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
