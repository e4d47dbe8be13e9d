/**
 * Kinds of entries in a case's chronological record (時系列).
 * The escalation ladder of the Tokyo common manual (各団体共通マニュアル) has its own types so a
 * report can count them: conversation ended → request to stop (2–3 times) → exit order under
 * 庁舎管理権 (2–3 times) → final warning → police (110 / #9110 / the local station) → entry ban.
 */
export const RECORDABLE_EVENT_TYPES = [
  'intake', // 受付
  'contact', // 連絡・やりとり
  'customer_statement', // 顧客の主張・発言 (exact words in `quote`)
  'limited_apology', // 限定的な謝罪: for the discomfort caused, not for fault
  'fact_check', // 事実確認
  'fault_acknowledged', // 非を認めての謝罪: supervisor/desk, after a fact check
  'report_to_supervisor', // 現場監督者・相談窓口への報告
  'handover', // 引継ぎ
  'conversation_ended', // 対応の打ち切り (decided by several people incl. a supervisor)
  'stop_request', // 行為の中止要求
  'exit_order', // 退去命令 (庁舎管理権)
  'final_warning', // 最終警告
  'police_called', // 警察への通報 (110)
  'police_consultation', // 警察への相談 (#9110, the local station)
  'entry_ban', // 出入り禁止
  'resolution', // 解決・対応結果
  'note', // メモ
  'correction', // 訂正: names the event it corrects
] as const

/** Written by the service itself (transitions, escalation rules, responders), never posted. */
const SYSTEM_EVENT_TYPES = ['escalation', 'status_changed', 'responder_added'] as const

export const EVENT_TYPES = [...RECORDABLE_EVENT_TYPES, ...SYSTEM_EVENT_TYPES] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Warnings that a report counts before the police were called. */
export const WARNING_TYPES: readonly EventType[] = ['stop_request', 'exit_order', 'final_warning']
export const LADDER_TYPES = ['conversation_ended', 'stop_request', 'exit_order', 'final_warning', 'police_called', 'police_consultation', 'entry_ban'] as const
