import autocannon from 'autocannon'
import { printTable } from './lib.js'

/**
 * Throughput under concurrent load with autocannon on loopback, each scenario as a ratio to
 * the ceiling server (one INSERT or one primary-key SELECT per request on the same database).
 * Targets (issue 7): event append ≥ 50% of the ceiling's INSERT req/s, case read ≥ 60% of its
 * SELECT req/s, p99 under 4× p50, zero errors.
 */
export interface Scenario {
  name: string
  baseUrl: string
  method: 'GET' | 'POST' | 'PUT'
  /** A path per request (random ids spread the load over many records). */
  path: () => string
  body?: () => string
  headers?: Record<string, string>
  /** Which ceiling to compare with. */
  ceiling?: 'insert' | 'select'
}

export interface ScenarioResult {
  name: string
  requests_per_second: number
  p50_ms: number
  p99_ms: number
  errors: number
  ratio_to_ceiling: number | null
  p99_under_4x_p50: boolean
}

export async function drive(scenario: Scenario, options: { connections: number; seconds: number }): Promise<autocannon.Result> {
  const run = (seconds: number) =>
    autocannon({
      url: scenario.baseUrl,
      connections: options.connections,
      duration: seconds,
      requests: [
        {
          method: scenario.method,
          headers: { 'content-type': 'application/json', ...scenario.headers },
          setupRequest: (request) => ({ ...request, path: scenario.path(), ...(scenario.body ? { body: scenario.body() } : {}) }),
        },
      ],
    })
  await run(2) // warm up: JIT, pools, caches
  return run(options.seconds)
}

export async function runThroughput(scenarios: Scenario[], options: { connections: number; seconds: number }): Promise<ScenarioResult[]> {
  const raw = new Map<string, autocannon.Result>()
  for (const s of scenarios) {
    process.stdout.write(`  driving ${s.name} …\n`)
    raw.set(s.name, await drive(s, options))
  }
  const rps = (name: string) => raw.get(name)?.requests.average ?? 0
  const results = scenarios.map((s) => {
    const r = raw.get(s.name)!
    const ceiling = s.ceiling === 'insert' ? rps('ceiling: INSERT') : s.ceiling === 'select' ? rps('ceiling: SELECT by id') : 0
    return {
      name: s.name,
      requests_per_second: Math.round(r.requests.average),
      p50_ms: r.latency.p50,
      p99_ms: r.latency.p99,
      errors: r.errors + r.timeouts + r.non2xx,
      ratio_to_ceiling: ceiling ? Number((r.requests.average / ceiling).toFixed(2)) : null,
      p99_under_4x_p50: r.latency.p99 < 4 * Math.max(r.latency.p50, 1),
    }
  })
  process.stdout.write(`\nThroughput: ${options.connections} connections, ${options.seconds} s per scenario\n`)
  printTable(results.map((r) => ({ ...r, ratio_to_ceiling: r.ratio_to_ceiling ?? '', p99_under_4x_p50: r.p99_under_4x_p50 ? 'yes' : 'NO' })))
  return results
}
