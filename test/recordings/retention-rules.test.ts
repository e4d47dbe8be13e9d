import t from 'tap'
import type { RetentionRule } from '../../src/policies/policies.schemas.ts'
import { judgeRecording, settledStatus } from '../../src/recordings/recordings.service.ts'
import {
  classificationKey,
  effectiveEnd,
  findRule,
  holdEndAfterDecision,
  holdKeeps,
  retentionEnd,
  retentionStart,
  schedule,
  yearsPeriodEnd,
} from '../../src/recordings/retention.ts'

// The arithmetic of retention on its own: pure functions, no database.
const rule = (period: RetentionRule['period'], start: RetentionRule['start'] = 'next_fiscal_year'): RetentionRule => ({
  record_category: 'case_recording',
  classification: 'administrative_document',
  period,
  start,
  action: 'dispose',
})

t.test('起算日 and end: 2025-03-31 (FY2024) and 2025-04-01 (FY2025) under 1, 5 and 30 years', async (t) => {
  const expected: Array<[string, 1 | 5 | 30, string, string]> = [
    ['2025-03-31', 1, '2025-04-01', '2026-03-31'],
    ['2025-03-31', 5, '2025-04-01', '2030-03-31'],
    ['2025-03-31', 30, '2025-04-01', '2055-03-31'],
    ['2025-04-01', 1, '2026-04-01', '2027-03-31'],
    ['2025-04-01', 5, '2026-04-01', '2031-03-31'],
    ['2025-04-01', 30, '2026-04-01', '2056-03-31'],
  ]
  for (const [created, years, start, end] of expected) {
    t.same(schedule(created, rule({ unit: 'years', value: years })), { start, end, action: 'dispose' }, `${created}, ${years} years`)
  }
  t.equal(retentionStart('2025-01-15', { start: 'next_fiscal_year' }), '2025-04-01', 'January belongs to the fiscal year that began the April before')
  t.equal(retentionStart('2025-12-31', { start: 'next_fiscal_year' }), '2026-04-01')
})

t.test('periods under a year count the creation date as day 1', async (t) => {
  t.same(schedule('2025-03-31', rule({ unit: 'days', value: 90 }, 'creation_date')), { start: '2025-03-31', end: '2025-06-28', action: 'dispose' })
  t.equal(retentionEnd('2025-01-01', { unit: 'days', value: 1 }), '2025-01-01', 'one day: the day itself')
  t.equal(retentionEnd('2024-02-28', { unit: 'days', value: 2 }), '2024-02-29', 'leap day counted')
})

t.test('a year counted from Feb 29 ends with February where the anniversary does not exist (民法第143条)', async (t) => {
  t.equal(yearsPeriodEnd('2024-02-29', 1), '2025-02-28')
  t.equal(yearsPeriodEnd('2023-03-01', 1), '2024-02-29', 'the day before the anniversary, a leap day')
  t.equal(yearsPeriodEnd('2020-04-01', 10), '2030-03-31')
})

t.test('appeal and disclosure holds: one year from the day after the decision', async (t) => {
  t.equal(holdEndAfterDecision('2025-06-10'), '2026-06-10', 'starts 06-11, ends the day before 2026-06-11')
  t.equal(holdEndAfterDecision('2025-03-31'), '2026-03-31')
  t.equal(holdEndAfterDecision('2024-02-28'), '2025-02-28', 'starts on the leap day; no 2025-02-29, so the month end')
  t.equal(holdEndAfterDecision('2023-02-28'), '2024-02-29', 'starts 2023-03-01; ends the day before 2024-03-01')
  t.equal(holdEndAfterDecision('2025-12-31'), '2026-12-31')
})

t.test('effective end: the later of the schedule and every unreleased hold; open-ended holds leave it open', async (t) => {
  t.equal(effectiveEnd('2030-03-31', []), '2030-03-31')
  t.equal(effectiveEnd('2030-03-31', [{ type: 'disclosure_request', until: '2031-01-10', released: false }]), '2031-01-10')
  t.equal(effectiveEnd('2030-03-31', [{ type: 'appeal', until: '2029-01-10', released: false }]), '2030-03-31', 'an earlier hold changes nothing')
  t.equal(effectiveEnd('2030-03-31', [{ type: 'litigation', until: null, released: true }]), '2030-03-31', 'released holds do not count')
  t.equal(
    effectiveEnd('2030-03-31', [
      { type: 'audit', until: null, released: false },
      { type: 'appeal', until: '2031-01-01', released: false },
    ]),
    null,
  )
  t.ok(holdKeeps({ type: 'appeal', until: '2026-01-01', released: false }, '2026-01-01'), 'through its last day')
  t.notOk(holdKeeps({ type: 'appeal', until: '2026-01-01', released: false }, '2026-01-02'), 'lapsed the day after')
  t.ok(holdKeeps({ type: 'litigation', until: null, released: false }, '2099-01-01'))
})

t.test('classification keys and rule lookup: exact category first, then *', async (t) => {
  t.equal(classificationKey(true, true), 'both')
  t.equal(classificationKey(true, false), 'administrative_document')
  t.equal(classificationKey(false, true), 'personal_information')
  t.equal(classificationKey(false, false), 'neither')
  const rules: RetentionRule[] = [
    { ...rule({ unit: 'years', value: 5 }), record_category: '*', classification: 'both', action: 'review' },
    { ...rule({ unit: 'years', value: 10 }), record_category: 'case_recording', classification: 'both' },
  ]
  t.match(findRule(rules, 'case_recording', 'both'), { match: 'exact', rule: { period: { value: 10 } } })
  t.match(findRule(rules, 'other_category', 'both'), { match: 'wildcard', rule: { period: { value: 5 }, action: 'review' } })
  t.equal(findRule(rules, 'case_recording', 'neither'), null)
})

t.test('notice and resident recording rules', async (t) => {
  const policy = {
    notice_required: true,
    notice_methods: ['verbal', 'sign'] as Array<'verbal' | 'sign'>,
    resident_recording: 'prohibited' as const,
    purposes: ['x'],
  }
  t.same(judgeRecording({ recorded_by: 'organisation', notice: { given: true, method: 'verbal' } }, policy).flags, [])
  t.same(judgeRecording({ recorded_by: 'organisation', notice: { given: false } }, policy).flags, ['notice_missing'])
  t.same(judgeRecording({ recorded_by: 'organisation', notice: { given: true, method: 'written' } }, policy), {
    flags: ['notice_missing'],
    reasons: { notice_missing: 'method_not_accepted' },
  })
  t.same(judgeRecording({ recorded_by: 'organisation', notice: { given: false } }, { ...policy, notice_required: false }).flags, [], 'no notice needed')
  t.same(judgeRecording({ recorded_by: 'resident', notice: { given: false } }, policy).flags, ['resident_recording_prohibited'])
  t.same(judgeRecording({ recorded_by: 'resident', notice: { given: false }, on_premises: false }, policy).flags, [], '庁舎管理権 reaches the premises only')
  t.same(judgeRecording({ recorded_by: 'resident', notice: { given: false } }, { ...policy, resident_recording: 'permission_required' }).flags, [
    'resident_recording_without_permission',
  ])
  t.same(
    judgeRecording({ recorded_by: 'resident', notice: { given: false }, resident_permission: true }, { ...policy, resident_recording: 'permission_required' })
      .flags,
    [],
  )
})

t.test('status on a day: due after the effective end unless held; non-document personal information waits for the purge', async (t) => {
  const base = { status: 'active' as const, hold_open: false, effective_end: '2026-03-31', administrative_document: true, retention_action: 'dispose' as const }
  t.equal(settledStatus(base, '2026-03-31'), 'active', 'kept through the last day')
  t.equal(settledStatus(base, '2026-04-01'), 'due')
  t.equal(settledStatus({ ...base, hold_open: true }, '2026-04-01'), 'active')
  t.equal(settledStatus({ ...base, administrative_document: false }, '2026-04-01'), 'active', 'the sweep purges it')
  t.equal(
    settledStatus({ ...base, administrative_document: false, retention_action: 'review' }, '2026-04-01'),
    'due',
    'a rule that says review waits for people',
  )
  t.equal(settledStatus({ ...base, status: 'disposed' as const }, '2026-04-01'), 'disposed')
})
