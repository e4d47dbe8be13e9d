/**
 * The life of a disclosure request (開示請求), as data: which step may be taken from which
 * status, and where it leads. Every step is recorded with who, when, on which date and why.
 *
 *   received ⇄ correction_requested (補正: asked, then answered)
 *   received → extended (延長, once)
 *   received | extended → decided (開示決定等) → disclosed (開示の実施: hand-overs)
 *   received | correction_requested | extended → withdrawn (取下げ)
 *   decided | disclosed → under_appeal (審査請求) → appeal_decided (裁決)
 */
export const DISCLOSURE_STATUSES = [
  'received',
  'correction_requested',
  'extended',
  'decided',
  'disclosed',
  'withdrawn',
  'under_appeal',
  'appeal_decided',
] as const
export type DisclosureStatus = (typeof DISCLOSURE_STATUSES)[number]

export const DISCLOSURE_STEPS = ['request_correction', 'receive_correction', 'extend', 'decide', 'hand_over', 'withdraw', 'appeal', 'decide_appeal'] as const
export type DisclosureStep = (typeof DISCLOSURE_STEPS)[number]

/** Still awaiting its decision: records may be added and removed, the deadline runs (or stands still). */
export const OPEN_STATUSES: readonly DisclosureStatus[] = ['received', 'correction_requested', 'extended']

const TRANSITIONS: ReadonlyArray<{ step: DisclosureStep; from: DisclosureStatus; to: DisclosureStatus }> = [
  { step: 'request_correction', from: 'received', to: 'correction_requested' },
  { step: 'receive_correction', from: 'correction_requested', to: 'received' },
  { step: 'extend', from: 'received', to: 'extended' },
  { step: 'decide', from: 'received', to: 'decided' },
  { step: 'decide', from: 'extended', to: 'decided' },
  // Material is handed over after the decision, possibly in several parts, also during an appeal.
  { step: 'hand_over', from: 'decided', to: 'disclosed' },
  { step: 'hand_over', from: 'disclosed', to: 'disclosed' },
  { step: 'hand_over', from: 'under_appeal', to: 'under_appeal' },
  { step: 'hand_over', from: 'appeal_decided', to: 'appeal_decided' },
  { step: 'withdraw', from: 'received', to: 'withdrawn' },
  { step: 'withdraw', from: 'correction_requested', to: 'withdrawn' },
  { step: 'withdraw', from: 'extended', to: 'withdrawn' },
  { step: 'appeal', from: 'decided', to: 'under_appeal' },
  { step: 'appeal', from: 'disclosed', to: 'under_appeal' },
  { step: 'decide_appeal', from: 'under_appeal', to: 'appeal_decided' },
]

/** Where the step leads from the status, or undefined when it may not be taken. */
export function stepTarget(from: DisclosureStatus, step: DisclosureStep): DisclosureStatus | undefined {
  return TRANSITIONS.find((t) => t.from === from && t.step === step)?.to
}

/** The steps that may be taken from a status (409s name them). */
export function stepsFrom(from: DisclosureStatus): DisclosureStep[] {
  return [...new Set(TRANSITIONS.filter((t) => t.from === from).map((t) => t.step))]
}

/**
 * The decision (開示決定等): full or partial disclosure, non-disclosure, no such record held, or
 * neither confirming nor denying that it exists (存否応答拒否, 個人情報保護法第81条, 情報公開法第8条).
 */
export const DISCLOSURE_DECISIONS = [
  'full_disclosure',
  'partial_disclosure',
  'non_disclosure',
  'no_such_record',
  'existence_neither_confirmed_nor_denied',
] as const
export type DisclosureDecision = (typeof DISCLOSURE_DECISIONS)[number]

export const ITEM_OUTCOMES = ['disclosed', 'partially_disclosed', 'withheld'] as const

/** What the decision says of one covered record: what was disclosed (the original or a redacted copy) and why parts were withheld. */
export interface DecisionItem {
  record_type: 'recording' | 'case'
  record_id: string
  outcome: (typeof ITEM_OUTCOMES)[number]
  /** The redacted copy disclosed instead of the original (recordings). */
  derivative_id: string | null
  /** Grounds for what was withheld (不開示事由). */
  grounds: string[]
  note: string | null
}

export const APPEAL_OUTCOMES = ['dismissed', 'rejected', 'granted', 'partially_granted'] as const
