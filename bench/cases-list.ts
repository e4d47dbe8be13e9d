import { sql } from 'kysely'
import { casesListQuery, type CaseFilters } from '../src/cases/cases.repository.ts'
import type { Caller } from '../src/kernel/auth.ts'
import type { Db } from '../src/kernel/db.ts'
import { latencyStats, printTable, type LatencyStats } from './lib.ts'

/**
 * Case lists on a seeded database: times GET /v1/cases with each single filter (sequential
 * requests through HTTP, the desk's reach: no narrowing by unit) and EXPLAINs the query behind
 * each to show the index it uses. Target (issue 4): p95 under 30 ms for every filter on
 * 10,000 cases / 100,000 events.
 */
export interface CaseListResult {
  requests_per_filter: number
  filters: Array<{ filter: string; query: string; latency: LatencyStats; plan_uses: string[]; plan: string[] }>
}

export async function benchCaseList(db: Db, baseUrl: string, token: string, units: string[], requests: number): Promise<CaseListResult> {
  const sample = await db.selectFrom('cases').select(['occurred_at', 'external_ref']).where('external_ref', 'is not', null).limit(1).executeTakeFirstOrThrow()
  const from = new Date(sample.occurred_at.getTime() - 7 * 86400_000)
  const filters: Array<{ filter: string; query: Record<string, string>; kysely: CaseFilters }> = [
    { filter: 'none', query: {}, kysely: {} },
    { filter: 'status', query: { status: 'in_review' }, kysely: { status: 'in_review' } },
    { filter: 'severity', query: { severity: 'critical' }, kysely: { severity: 'critical' } },
    { filter: 'category', query: { category: 'violence' }, kysely: { category: 'violence' } },
    { filter: 'org_unit_id', query: { org_unit_id: units[3]! }, kysely: { orgUnitId: units[3]! } },
    { filter: 'responder', query: { responder: 'staff-42' }, kysely: { responder: 'staff-42' } },
    {
      filter: 'occurred range',
      query: { occurred_from: from.toISOString(), occurred_to: sample.occurred_at.toISOString() },
      kysely: { occurredFrom: from, occurredTo: sample.occurred_at },
    },
    { filter: 'external_ref', query: { external_ref: sample.external_ref! }, kysely: { externalRef: sample.external_ref! } },
    { filter: 'q (text)', query: { q: '土下座' }, kysely: { text: '土下座' } },
  ]

  const caller: Caller = { subject: 'bench-desk', name: null, roles: ['desk'], orgUnit: null, familyName: null, businessName: null }
  const results: CaseListResult['filters'] = []
  for (const f of filters) {
    const url = `${baseUrl}/v1/cases?${new URLSearchParams({ ...f.query, limit: '50' })}`
    const samples: number[] = []
    for (let i = 0; i < requests + 20; i++) {
      const started = performance.now()
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`${f.filter}: HTTP ${res.status}`)
      if (i >= 20) samples.push(performance.now() - started) // the first 20 warm up
    }
    const explained = await casesListQuery(db, 'all', caller, f.kysely, 51, null).explain(undefined, sql`analyze, buffers`)
    const plan = explained.map((row) => String(Object.values(row)[0]))
    const uses = plan
      .map((l) => /(Index(?: Only)? Scan(?: Backward)? using \w+|Bitmap Index Scan on \w+|Seq Scan on \w+)/.exec(l)?.[1])
      .filter((x): x is string => !!x)
    results.push({ filter: f.filter, query: new URLSearchParams(f.query).toString(), latency: latencyStats(samples), plan_uses: [...new Set(uses)], plan })
  }
  process.stdout.write(`\nCase list: ${requests} sequential requests per filter, 50 per page\n`)
  printTable(
    results.map((r) => ({ filter: r.filter, p50_ms: r.latency.p50_ms, p95_ms: r.latency.p95_ms, p99_ms: r.latency.p99_ms, plan: r.plan_uses.join(', ') })),
  )
  return { requests_per_filter: requests, filters: results }
}
