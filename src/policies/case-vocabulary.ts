/**
 * The words a case is described in. Policies refer to them too (escalation categories,
 * responders by severity), so they live apart from the case tables and routes.
 */
export const CASE_CHANNELS = ['counter', 'phone', 'email', 'letter', 'visit', 'online'] as const
export type CaseChannel = (typeof CASE_CHANNELS)[number]

/** Kinds of harassment (カスハラの類型). */
export const CASE_CATEGORIES = [
  'verbal_abuse', // 暴言
  'intimidation', // 威嚇・脅迫
  'violence', // 暴力
  'sexual_harassment', // セクハラ
  'prolonged_detention', // 長時間拘束
  'excessive_demand', // 過剰な要求
  'online_exposure', // SNS等での晒し
  'other',
] as const
export type CaseCategory = (typeof CASE_CATEGORIES)[number]

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]
