import autocannon from 'autocannon'
import { costBetween, type CounterReading, type RequestCost } from './counters.ts'
import { printTable } from './lib.ts'

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
  /** The service's route pattern (its metrics label), for the statements and CPU per request. */
  route?: string
}

/** Reads the service's counters (statements, CPU) before and after each measured run. */
export type CounterProbe = () => Promise<CounterReading>

export interface ScenarioResult {
  name: string
  requests_per_second: number
  p50_ms: number
  p99_ms: number
  errors: number
  /** What the errors were: connection errors, timeouts, and answers by status code. */
  error_kinds: { errors: number; timeouts: number; status_codes: Record<string, number> }
  /** The ceiling's req/s measured right before this scenario, and the ratio to it. */
  ceiling_requests_per_second: number | null
  ratio_to_ceiling: number | null
  p99_under_4x_p50: boolean
  cost: RequestCost | null
}

export async function drive(
  scenario: Scenario,
  options: { connections: number; seconds: number },
  probe?: CounterProbe,
): Promise<{ result: autocannon.Result; cost: RequestCost | null }> {
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
  const counted = probe && scenario.route ? probe : null
  const before = counted ? await counted() : null
  const result = await run(options.seconds)
  const after = counted ? await counted() : null
  const cost = before && after ? costBetween(before, after, scenario.method, scenario.route!) : null
  return { result, cost }
}

export async function runThroughput(scenarios: Scenario[], options: { connections: number; seconds: number }, probe?: CounterProbe): Promise<ScenarioResult[]> {
  const raw = new Map<string, autocannon.Result>()
  const costs = new Map<string, RequestCost | null>()
  // The ceiling each scenario is compared with is driven again right before it: the machine's speed
  // drifts during a run (a shared virtual machine), and a ratio of two rates taken minutes apart
  // carries that drift.
  const ceilingOf = (s: Scenario) =>
    scenarios.find((c) => c.name === (s.ceiling === 'insert' ? 'ceiling: INSERT' : s.ceiling === 'select' ? 'ceiling: SELECT by id' : ''))
  const adjacent = new Map<string, number>()
  for (const s of scenarios) {
    const ceiling = ceilingOf(s)
    if (ceiling) {
      process.stdout.write(`  driving ${ceiling.name} (before ${s.name}) …\n`)
      adjacent.set(s.name, (await drive(ceiling, options)).result.requests.average)
    }
    process.stdout.write(`  driving ${s.name} …\n`)
    const { result, cost } = await drive(s, options, probe)
    raw.set(s.name, result)
    costs.set(s.name, cost)
  }
  const results = scenarios.map((s) => {
    const r = raw.get(s.name)!
    const ceiling = adjacent.get(s.name) ?? 0
    return {
      name: s.name,
      requests_per_second: Math.round(r.requests.average),
      p50_ms: r.latency.p50,
      p99_ms: r.latency.p99,
      errors: r.errors + r.timeouts + r.non2xx,
      error_kinds: {
        errors: r.errors,
        timeouts: r.timeouts,
        status_codes: Object.fromEntries(
          Object.entries(r.statusCodeStats ?? ({} as Record<string, { count: number } | undefined>)).map(([code, stat]) => [code, stat?.count ?? 0]),
        ),
      },
      ceiling_requests_per_second: ceiling ? Math.round(ceiling) : null,
      ratio_to_ceiling: ceiling ? Number((r.requests.average / ceiling).toFixed(2)) : null,
      p99_under_4x_p50: r.latency.p99 < 4 * Math.max(r.latency.p50, 1),
      cost: costs.get(s.name) ?? null,
    }
  })
  process.stdout.write(`\nThroughput: ${options.connections} connections, ${options.seconds} s per scenario\n`)
  printTable(
    results.map(({ cost, error_kinds: _kinds, ...r }) => ({
      ...r,
      ceiling_requests_per_second: r.ceiling_requests_per_second ?? '',
      ratio_to_ceiling: r.ratio_to_ceiling ?? '',
      p99_under_4x_p50: r.p99_under_4x_p50 ? 'yes' : 'NO',
      // Statements = round trips: the service sends one statement per round trip.
      statements: cost?.statements_per_request ?? '',
      background: cost?.background_statements_per_request ?? '',
      service_cpu_us: cost?.service_cpu_us_per_request ?? '',
      postgres_cpu_us: cost?.postgres_cpu_us_per_request ?? '',
    })),
  )
  return results
}
