import fs from 'node:fs/promises'

/**
 * What one request costs, counted rather than guessed: statements (each one a round trip: the
 * service sends one statement per round trip, BEGIN and COMMIT included) from the service's own
 * Prometheus counters, and CPU time from /proc, split between the service process and the
 * PostgreSQL backends serving the bench database.
 */

/** A reading of the counters at one moment. */
export interface CounterReading {
  metrics: string
  serviceCpuMs: number
  postgresCpuMs: Map<number, number>
}

export interface RequestCost {
  /** Statements (= round trips) per request the scenario's route sent itself. */
  statements_per_request: number
  /** Statements background jobs sent meanwhile (the chain linker, the feed sequencer), per request. */
  background_statements_per_request: number
  service_cpu_us_per_request: number
  postgres_cpu_us_per_request: number
}

// Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on Linux.
const TICK_MS = 10

async function cpuMsOf(pid: number): Promise<number | null> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS
  } catch {
    return null
  }
}

/** The PostgreSQL backends connected to `database` (their command line names it). */
async function postgresBackendsCpu(database: string): Promise<Map<number, number>> {
  const cpu = new Map<number, number>()
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (!cmdline.startsWith('postgres: ') || !cmdline.includes(` ${database} `)) continue
    const ms = await cpuMsOf(Number(entry))
    if (ms !== null) cpu.set(Number(entry), ms)
  }
  return cpu
}

export async function readCounters(metricsUrl: string, servicePid: number, database: string): Promise<CounterReading> {
  const [metrics, serviceCpuMs, postgresCpuMs] = await Promise.all([
    fetch(metricsUrl).then((r) => r.text()),
    cpuMsOf(servicePid).then((ms) => ms ?? 0),
    postgresBackendsCpu(database),
  ])
  return { metrics, serviceCpuMs, postgresCpuMs }
}

/** Sum of a metric's samples whose labels include every given label (a value ending in * is a prefix). */
function sumOf(metrics: string, name: string, labels: Record<string, string>): number {
  let total = 0
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const close = line.lastIndexOf('}')
    const labelText = line.slice(name.length + 1, close)
    const has = ([k, v]: [string, string]) => labelText.includes(v.endsWith('*') ? `${k}="${v.slice(0, -1)}` : `${k}="${v}"`)
    if (!Object.entries(labels).every(has)) continue
    total += Number(line.slice(close + 1).trim())
  }
  return total
}

/** The cost per request of `method route` between two readings. */
export function costBetween(before: CounterReading, after: CounterReading, method: string, route: string): RequestCost {
  // Per answered request: a request shed under load (503) sends nothing and is not counted.
  const answered = { method, route, status_code: '2*' }
  const requests =
    sumOf(after.metrics, 'madoguchi_http_request_duration_seconds_count', answered) -
    sumOf(before.metrics, 'madoguchi_http_request_duration_seconds_count', answered)
  const statements =
    sumOf(after.metrics, 'madoguchi_db_statements_total', { method, route }) - sumOf(before.metrics, 'madoguchi_db_statements_total', { method, route })
  const background =
    sumOf(after.metrics, 'madoguchi_db_statements_total', { method: 'JOB' }) - sumOf(before.metrics, 'madoguchi_db_statements_total', { method: 'JOB' })
  // A backend that ended between the readings is left out (the pool keeps its connections under load).
  let postgresMs = 0
  for (const [pid, ms] of after.postgresCpuMs) postgresMs += ms - (before.postgresCpuMs.get(pid) ?? 0)
  const per = (x: number) => (requests > 0 ? x / requests : 0)
  return {
    statements_per_request: Number(per(statements).toFixed(2)),
    background_statements_per_request: Number(per(background).toFixed(3)),
    service_cpu_us_per_request: Math.round(per(after.serviceCpuMs - before.serviceCpuMs) * 1000),
    postgres_cpu_us_per_request: Math.round(per(postgresMs) * 1000),
  }
}
