import type { CaseStatistics, RecordingStatistics } from './statistics.schemas.ts'

/**
 * Statistics as CSV for spreadsheets and council reports: UTF-8 with a byte-order mark (so Excel
 * reads Japanese), CRLF lines, one row per group and a total row; Japanese column headers when
 * Accept-Language prefers Japanese, the JSON field names otherwise. Dates are Tokyo dates.
 */

const JA: Record<string, string> = {
  period_from: '期間開始',
  period_to: '期間終了',
  as_of: '基準日',
  month: '月',
  fiscal_year: '年度',
  org_unit_id: '所属',
  org_unit: '所属',
  channel: '経路',
  category: '類型',
  severity: '深刻度',
  status: '状態',
  outcome: '到達段階',
  classification: '区分',
  cases: '件数',
  not_handled_alone: '一人で対応しない事案',
  not_handled_alone_with_shortfall: 'うち対応者不足あり',
  escalated: 'エスカレーション',
  stop_requests: '中止要求',
  exit_orders: '退去命令',
  final_warnings: '最終警告',
  police_calls: '警察通報',
  police_consultations: '警察相談',
  limited_apologies: '限定的な謝罪',
  faults_acknowledged: '非を認めた謝罪',
  closed: '終結',
  days_to_close_median: '終結までの日数（中央値）',
  days_to_close_p90: '終結までの日数（90パーセンタイル）',
  with_recordings: '録音・録画あり',
  with_notice_missing: '告知なしの録音・録画あり',
  recordings: '録音・録画',
  active: '保存中',
  on_hold: '保存延長中',
  on_hold_audit: '延長（監査・検査）',
  on_hold_litigation: '延長（訴訟）',
  on_hold_appeal: '延長（不服申立て）',
  on_hold_disclosure_request: '延長（開示請求）',
  on_hold_incident: '延長（漏えい等）',
  on_hold_other: '延長（その他）',
  due: '保存期間満了',
  disposed: '廃棄',
  transferred: '移管',
  purged: '消去',
  disclosure_requests_holding: '保存延長中の開示請求',
  incidents_holding: '保存延長中の漏えい等事案',
  total: '合計',
  upcoming: '廃棄予定',
}

/** The values of an Accept-style header, best first (by q, then by order); q=0 dropped. */
function ranked(header: string | undefined): string[] {
  if (!header) return []
  return header
    .split(',')
    .map((part, index) => {
      const [value, ...params] = part.trim().split(';')
      const q = Number(
        params
          .find((p) => p.trim().startsWith('q='))
          ?.trim()
          .slice(2) ?? '1',
      )
      return { value: value!.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0, index }
    })
    .filter((r) => r.q > 0 && r.value !== '')
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((r) => r.value)
}

/** Whether Accept ranks text/csv above JSON. */
export function prefersCsv(accept: string | undefined): boolean {
  return ranked(accept).find((v) => ['text/csv', 'application/json', 'application/*', '*/*'].includes(v)) === 'text/csv'
}

/** Whether Accept-Language ranks Japanese first. */
export function prefersJapanese(acceptLanguage: string | undefined): boolean {
  const first = ranked(acceptLanguage)[0]
  return first === 'ja' || first?.startsWith('ja-') === true
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text = String(value)
  // A cell that a spreadsheet would run as a formula is defused.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

function table(header: string[], rows: unknown[][], japanese: boolean): string {
  const label = (key: string) => (japanese ? (JA[key] ?? key) : key)
  const lines = [header.map((h) => cell(h.startsWith('upcoming:') ? `${label('upcoming')} ${h.slice(9)}` : label(h))), ...rows.map((r) => r.map(cell))]
  return `\uFEFF${lines.map((l) => l.join(',')).join('\r\n')}\r\n`
}

const groupKey = (dimension: string) => (dimension === 'org_unit' ? 'org_unit_id' : dimension)

export function caseStatisticsCsv(s: CaseStatistics, japanese: boolean): string {
  const groups = s.group_by.map(groupKey)
  const measures = Object.keys(s.total)
  const header = ['period_from', 'period_to', ...groups, ...measures]
  const totalLabel = japanese ? JA.total : 'total'
  const rows = [
    ...s.rows.map((r) => [
      s.period.from,
      s.period.to,
      ...groups.map((g) => (r.group as Record<string, unknown>)[g]),
      ...measures.map((m) => (r.measures as Record<string, unknown>)[m]),
    ]),
    [s.period.from, s.period.to, ...groups.map((_, i) => (i === 0 ? totalLabel : '')), ...measures.map((m) => (s.total as Record<string, unknown>)[m])],
  ]
  return table(header, rows, japanese)
}

export function recordingStatisticsCsv(s: RecordingStatistics, japanese: boolean): string {
  const groups = s.group_by.map(groupKey)
  const measures = Object.keys(s.total)
  const months = s.upcoming_disposals.map((m) => m.month)
  const header = ['as_of', ...groups, ...measures, ...months.map((m) => `upcoming:${m}`)]
  const totalLabel = japanese ? JA.total : 'total'
  const rows = [
    ...s.rows.map((r) => [
      s.as_of,
      ...groups.map((g) => (r.group as Record<string, unknown>)[g]),
      ...measures.map((m) => (r.measures as Record<string, unknown>)[m]),
      ...months.map(() => ''),
    ]),
    [
      s.as_of,
      ...groups.map((_, i) => (i === 0 ? totalLabel : '')),
      ...measures.map((m) => (s.total as Record<string, unknown>)[m]),
      ...s.upcoming_disposals.map((m) => m.recordings),
    ],
  ]
  return table(header, rows, japanese)
}
