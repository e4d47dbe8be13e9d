import type { FieldError } from '../kernel/errors.ts'
import { addDays, todayInTokyo } from '../kernel/time.ts'
import { CLASSIFICATIONS, DISCLOSURE_KINDS, type PolicyBodies, type PolicyType } from './policies.schemas.ts'

/**
 * What a new policy version must satisfy beyond its JSON schema. Each rule answers with the
 * failing fields as pointers into the request (`body/effective_from`, `body/body/rules/2/start`),
 * so an administrator sees every mistake at once.
 */

/** A closure longer than this is refused: a typo in a year would close the office for decades. */
const MAX_CLOSURE_DAYS = 366

/** Rules on the effective date: history is never rewritten (today or later, Asia/Tokyo). */
export function effectiveDateErrors(effectiveFrom: string, today: string = todayInTokyo()): FieldError[] {
  if (effectiveFrom < today) {
    return [{ pointer: 'body/effective_from', message: { id: 'policies.effective_in_past', params: { today } } }]
  }
  return []
}

/** Rules on the body of a version of `type` taking effect on `effectiveFrom`. */
export function policyBodyErrors<T extends PolicyType>(type: T, body: PolicyBodies[T], effectiveFrom: string): FieldError[] {
  switch (type) {
    case 'retention':
      return retentionErrors(body as PolicyBodies['retention'])
    case 'calendar':
      return calendarErrors(body as PolicyBodies['calendar'], effectiveFrom)
    case 'escalation':
      return escalationErrors(body as PolicyBodies['escalation'])
    case 'incident_response':
      return incidentResponseErrors(body as PolicyBodies['incident_response'])
    case 'disclosure':
      return disclosureErrors(body as PolicyBodies['disclosure'])
    default:
      return []
  }
}

const BODY = 'body/body'

/** 保存期間表: every record finds exactly one rule, and periods and start dates fit together. */
function retentionErrors(body: PolicyBodies['retention']): FieldError[] {
  const errors: FieldError[] = []
  const seen = new Map<string, number>()
  body.rules.forEach((rule, i) => {
    const key = `${rule.record_category}\u0000${rule.classification}`
    const earlier = seen.get(key)
    if (earlier !== undefined) {
      errors.push({
        pointer: `${BODY}/rules/${i}`,
        message: { id: 'policies.rule_repeated', params: { earlier, category: rule.record_category, classification: rule.classification } },
      })
    } else seen.set(key, i)
    if (rule.period.unit === 'days' && rule.start !== 'creation_date') {
      // 1年未満: counted from the day the document was created or obtained.
      errors.push({ pointer: `${BODY}/rules/${i}/start`, message: 'policies.short_period_start' })
    }
    if (rule.period.unit === 'days' && rule.action === 'transfer') {
      // Documents of historical value (歴史公文書等) are kept at least a year (行政文書の管理に関するガイドライン).
      errors.push({
        pointer: `${BODY}/rules/${i}/action`,
        message: 'policies.short_period_transfer',
      })
    }
  })
  for (const classification of CLASSIFICATIONS) {
    if (!body.rules.some((r) => r.record_category === '*' && r.classification === classification)) {
      errors.push({ pointer: `${BODY}/rules`, message: { id: 'policies.no_default_rule', params: { classification } } })
    }
  }
  return errors
}

/** Closures: real periods, and none reaching back before the version takes effect. */
function calendarErrors(body: PolicyBodies['calendar'], effectiveFrom: string): FieldError[] {
  const errors: FieldError[] = []
  body.closures.forEach((closure, i) => {
    if (closure.to < closure.from) {
      errors.push({ pointer: `${BODY}/closures/${i}/to`, message: { id: 'policies.closure_to_before_from', params: { from: closure.from } } })
    } else if (closure.to > addDays(closure.from, MAX_CLOSURE_DAYS - 1)) {
      errors.push({ pointer: `${BODY}/closures/${i}/to`, message: { id: 'policies.closure_too_long', params: { days: MAX_CLOSURE_DAYS } } })
    }
    // The version in force on a day decides that day. A closure that starts before this version
    // takes effect would only close its later part, silently: say so instead. (Closures wholly
    // before it are history carried along and decide nothing.)
    if (closure.from < effectiveFrom && closure.to >= effectiveFrom) {
      errors.push({
        pointer: `${BODY}/closures/${i}/from`,
        message: { id: 'policies.closure_before_effective', params: { date: effectiveFrom } },
      })
    }
  })
  return errors
}

/** 複数名で対応: a more severe case never needs fewer responders than a milder one. */
function escalationErrors(body: PolicyBodies['escalation']): FieldError[] {
  const errors: FieldError[] = []
  const order = ['low', 'medium', 'high', 'critical'] as const
  const by = body.min_responders.by_severity
  for (let i = 1; i < order.length; i++) {
    const [milder, severity] = [order[i - 1]!, order[i]!]
    if (by[severity] < by[milder]) {
      errors.push({
        pointer: `${BODY}/min_responders/by_severity/${severity}`,
        message: { id: 'policies.responders_order', params: { milder, count: by[milder] } },
      })
    }
  }
  return errors
}

/** The response plan: deadlines that fit together, one label per ordinance category. */
function incidentResponseErrors(body: PolicyBodies['incident_response']): FieldError[] {
  const errors: FieldError[] = []
  const r = body.reporting
  if (r.final_report_days < r.first_report_days) {
    errors.push({ pointer: `${BODY}/reporting/final_report_days`, message: { id: 'policies.final_before_first', params: { days: r.first_report_days } } })
  }
  if (r.final_report_days_wrongful_purpose < r.final_report_days) {
    errors.push({
      pointer: `${BODY}/reporting/final_report_days_wrongful_purpose`,
      message: { id: 'policies.wrongful_shorter', params: { days: r.final_report_days } },
    })
  }
  const seen = new Map<string, number>()
  body.ordinance_sensitive_categories.forEach((category, i) => {
    const earlier = seen.get(category.code)
    if (earlier !== undefined) {
      errors.push({ pointer: `${BODY}/ordinance_sensitive_categories/${i}/code`, message: { id: 'policies.category_repeated', params: { earlier } } })
    } else seen.set(category.code, i)
  })
  return errors
}

/**
 * 開示請求: a warning comes before the deadline, inside the period. For personal information the
 * law's 30 days are a ceiling that an ordinance may shorten, and an extension may not exceed the
 * law's 30 days (個人情報保護法第83条, 第108条; 個人情報保護委員会 Q&A 行政機関等編 5-6-1).
 */
function disclosureErrors(body: PolicyBodies['disclosure']): FieldError[] {
  const errors: FieldError[] = []
  for (const kind of DISCLOSURE_KINDS) {
    const rules = body.kinds[kind]
    const at = `${BODY}/kinds/${kind}`
    if (rules.warning_days >= rules.decision_period_days) {
      errors.push({ pointer: `${at}/warning_days`, message: { id: 'policies.warning_after_deadline', params: { days: rules.decision_period_days } } })
    }
    if (kind === 'personal_information') {
      if (rules.decision_period_days > 30) errors.push({ pointer: `${at}/decision_period_days`, message: 'policies.period_over_law' })
      if (rules.max_extension_days > 30) errors.push({ pointer: `${at}/max_extension_days`, message: 'policies.extension_over_law' })
    }
  }
  return errors
}
