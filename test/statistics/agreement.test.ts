import t from 'tap'
import { tokyoDate } from '../../src/kernel/time.ts'
import { buildTestApp, type Identity, type TestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody, register } from '../helpers/fixtures.ts'

/**
 * The figures agree with the list endpoints: on generated cases (a fixed pseudo-random seed),
 * every measure of GET /v1/statistics/cases, in total and for each grouping, equals what counting
 * through GET /v1/cases, GET /v1/cases/{id}/events and GET /v1/recordings gives.
 */

let state = 20241116
const random = () => {
  state = (state * 1103515245 + 12345) % 2 ** 31
  return state / 2 ** 31
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!

const CHANNELS = ['counter', 'phone', 'email', 'letter', 'visit', 'online'] as const
const CATEGORIES = [
  'verbal_abuse',
  'intimidation',
  'violence',
  'sexual_harassment',
  'prolonged_detention',
  'excessive_demand',
  'online_exposure',
  'other',
] as const
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const
const LADDER = [
  'conversation_ended',
  'stop_request',
  'exit_order',
  'final_warning',
  'police_called',
  'police_consultation',
  'entry_ban',
  'limited_apology',
] as const

interface Listed {
  id: string
  org_unit_id: string
  channel: string
  categories: string[]
  severity: string
  status: string
  occurred_at: string
  handled_alone_forbidden: boolean
  responder_shortfall: unknown
}

async function pageAll<T>(test: TestApp, who: Identity, url: string): Promise<T[]> {
  const items: T[] = []
  let cursor: string | null = null
  do {
    const res = await test.injectAs(who, { method: 'GET', url: `${url}${url.includes('?') ? '&' : '?'}limit=100${cursor ? `&cursor=${cursor}` : ''}` })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    items.push(...res.json().items)
    cursor = res.json().next_cursor
  } while (cursor)
  return items
}

/** percentile_cont: linear interpolation between the closest ranks. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = p * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo)
}

t.test('every measure agrees with counts through the list routes', async (t) => {
  const test = await buildTestApp(t)
  const desk: Identity = { roles: ['desk'], sub: 'desk-g' }
  const units = [await test.orgUnit('g-1'), await test.orgUnit('g-2')]
  const post = async (url: string, payload: Record<string, unknown>) => {
    const res = await test.injectAs(desk, { method: 'POST', url, payload })
    if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  const fyStart = Date.parse('2024-03-31T15:00:00Z')
  const fyEnd = Date.parse('2025-03-31T15:00:00Z')
  const ids: string[] = []
  for (let i = 0; i < 30; i += 1) {
    const categories = [...new Set([pick(CATEGORIES), ...(random() < 0.4 ? [pick(CATEGORIES)] : [])])]
    const c = await post(
      '/v1/cases',
      caseBody({
        org_unit_id: pick(units),
        channel: pick(CHANNELS),
        categories,
        severity: pick(SEVERITIES),
        occurred_at: new Date(fyStart + Math.floor(random() * (fyEnd - fyStart))).toISOString(),
        ...(random() < 0.3 ? { responders: ['staff-extra'] } : {}),
        // Every fifth: violence at the counter, nobody may handle it alone, one responder (a shortfall).
        ...(i % 5 === 0 ? { channel: 'counter', categories: ['violence'], severity: 'high', responders: [] } : {}),
      }),
    )
    ids.push(c.id)
    const occurred = () => new Date(Date.now() - 60_000).toISOString()
    for (let k = Math.floor(random() * 5); k > 0; k -= 1)
      await post(`/v1/cases/${c.id}/events`, { type: pick(LADDER), occurred_at: occurred(), description: 'x' })
    if (random() < 0.3) {
      await post(`/v1/cases/${c.id}/events`, { type: 'fact_check', occurred_at: occurred(), description: 'x' })
      await post(`/v1/cases/${c.id}/events`, { type: 'fault_acknowledged', occurred_at: occurred(), description: 'x' })
    }
    if (random() < 0.4) await register(test, desk, { case_id: c.id, ...(random() < 0.5 ? { notice: { given: false } } : {}) })
  }
  // Cases outside the year do not count.
  await post('/v1/cases', caseBody({ org_unit_id: units[0], occurred_at: '2025-04-01T00:00:00+09:00' }))
  const period = `occurred_from=${new Date(fyStart).toISOString()}&occurred_to=${new Date(fyEnd).toISOString()}`
  // Responder shortfalls as the list shows them before some cases are closed (a closed case shows none).
  const shortBefore = new Set((await pageAll<Listed>(test, desk, `/v1/cases?${period}`)).filter((c) => c.responder_shortfall !== null).map((c) => c.id))
  for (const id of ids) {
    if (random() < 0.35) {
      const status = (await test.injectAs(desk, { method: 'GET', url: `/v1/cases/${id}` })).json().status
      if (status === 'open') await post(`/v1/cases/${id}/transitions`, { to: 'escalated', reason: 'x' })
      await post(`/v1/cases/${id}/transitions`, { to: 'in_review', reason: 'x' })
      await post(`/v1/cases/${id}/events`, { type: 'resolution', occurred_at: new Date(Date.now() - 60_000).toISOString(), description: 'x' })
      await post(`/v1/cases/${id}/transitions`, { to: 'resolved', reason: 'x' })
      if (random() < 0.8) await post(`/v1/cases/${id}/transitions`, { to: 'closed', reason: 'x' })
    }
  }

  // Counting through the list routes.
  const listed = await pageAll<Listed>(test, desk, `/v1/cases?${period}`)
  t.equal(listed.length, 30)
  type Facts = Record<string, unknown> & { counts: Record<string, number>; days: number | null; recordings: number; noticeMissing: boolean }
  const facts: Facts[] = []
  for (const c of listed) {
    const events = await pageAll<{ type: string; occurred_at: string; details: { to?: string } }>(test, desk, `/v1/cases/${c.id}/events`)
    const counts: Record<string, number> = {}
    for (const e of events) counts[e.type] = (counts[e.type] ?? 0) + 1
    const closing = events.find((e) => e.type === 'status_changed' && e.details.to === 'closed')
    const recordings = await pageAll<{ notice_missing: boolean }>(test, desk, `/v1/recordings?case_id=${c.id}`)
    const n = (type: string) => counts[type] ?? 0
    const outcome =
      n('entry_ban') > 0
        ? 'entry_ban'
        : n('police_called') + n('police_consultation') > 0
          ? 'police'
          : n('final_warning') > 0
            ? 'final_warning'
            : n('exit_order') > 0
              ? 'exit_order'
              : n('stop_request') > 0
                ? 'stop_request'
                : n('conversation_ended') > 0
                  ? 'conversation_ended'
                  : 'none'
    facts.push({
      ...c,
      month: tokyoDate(new Date(c.occurred_at)).slice(0, 7),
      fiscal_year: 2024,
      org_unit: c.org_unit_id,
      outcome,
      shortfall: shortBefore.has(c.id) || c.responder_shortfall !== null,
      counts,
      days: closing ? (Date.parse(closing.occurred_at) - Date.parse(c.occurred_at)) / 86_400_000 : null,
      recordings: recordings.length,
      noticeMissing: recordings.some((r) => r.notice_missing),
    })
  }
  const measuresOf = (group: Facts[]) => {
    const sum = (type: string) => group.reduce((s, f) => s + (f.counts[type] ?? 0), 0)
    const days = group.map((f) => f.days).filter((d): d is number => d !== null)
    const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10)
    return {
      cases: group.length,
      not_handled_alone: group.filter((f) => f.handled_alone_forbidden).length,
      not_handled_alone_with_shortfall: group.filter((f) => f.handled_alone_forbidden && f.shortfall).length,
      escalated: group.filter((f) => (f.counts.escalation ?? 0) > 0).length,
      stop_requests: sum('stop_request'),
      exit_orders: sum('exit_order'),
      final_warnings: sum('final_warning'),
      police_calls: sum('police_called'),
      police_consultations: sum('police_consultation'),
      limited_apologies: sum('limited_apology'),
      faults_acknowledged: sum('fault_acknowledged'),
      closed: group.filter((f) => f.status === 'closed').length,
      with_recordings: group.filter((f) => f.recordings > 0).length,
      with_notice_missing: group.filter((f) => f.noticeMissing).length,
      days_to_close_median: round(percentile(days, 0.5)),
      days_to_close_p90: round(percentile(days, 0.9)),
    }
  }

  const stats = async (query: string) => {
    const res = await test.injectAs(desk, { method: 'GET', url: `/v1/statistics/cases?fiscal_year=2024${query}` })
    expectStatus(t, res, 200, query)
    return res.json()
  }
  const total = await stats('')
  t.same(total.total, measuresOf(facts), 'the total')
  t.ok(facts.some((f) => f.shortfall && f.handled_alone_forbidden) && facts.some((f) => f.status === 'closed'), 'the data exercises shortfalls and closing')
  for (const dim of ['month', 'fiscal_year', 'org_unit', 'channel', 'category', 'severity', 'status', 'outcome']) {
    const s = await stats(`&group_by=${dim}`)
    const expected = new Map<string, Facts[]>()
    for (const f of facts) {
      for (const value of dim === 'category' ? (f.categories as string[]) : [f[dim]]) {
        const key = String(value)
        expected.set(key, [...(expected.get(key) ?? []), f])
      }
    }
    const key = dim === 'org_unit' ? 'org_unit_id' : dim
    const got = new Map<string, unknown>(s.rows.map((r: { group: Record<string, unknown>; measures: unknown }) => [String(r.group[key]), r.measures]))
    t.same([...got.keys()].sort(), [...expected.keys()].sort(), `${dim}: the same groups`)
    for (const [value, group] of expected) t.same(got.get(value), measuresOf(group), `${dim} = ${value}`)
  }
})
