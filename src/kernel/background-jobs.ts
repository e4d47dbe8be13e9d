import type { FastifyBaseLogger } from 'fastify'

export interface BackgroundJob {
  name: string
  intervalMs: number
  /**
   * One round of work. Must be safe to run on every instance at once (advisory locks, SKIP LOCKED).
   * `signal` aborts at shutdown: a round that waits on something outside (a webhook receiver)
   * stops waiting, puts back what it had claimed, and returns.
   */
  run(signal: AbortSignal): Promise<unknown>
}

/**
 * Runs each job in its own loop: one round, wait, the next. Rounds never overlap within an
 * instance; across instances the jobs themselves take locks. Returns a stop function: it aborts
 * the rounds in progress and waits for them at most `boundMs` (BACKGROUND_SHUTDOWN_TIMEOUT_MS),
 * so a shutdown never waits on a slow receiver or a long sweep. A round still running after the
 * bound is left behind (its work is in transactions and leases, which another instance or the
 * next start takes up); stop resolves false then.
 */
export function startBackgroundJobs(jobs: BackgroundJob[], log: FastifyBaseLogger): (boundMs?: number) => Promise<boolean> {
  let stopped = false
  const shutdown = new AbortController()
  const running = new Map<Promise<unknown>, string>()
  const timers = new Set<NodeJS.Timeout>()

  for (const job of jobs) {
    const loop = () => {
      if (stopped) return
      const round = job
        .run(shutdown.signal)
        .catch((err: unknown) => {
          if (!stopped) log.warn({ err, job: job.name }, 'background job round failed')
        })
        .finally(() => {
          running.delete(round)
          if (stopped) return
          const timer = setTimeout(() => {
            timers.delete(timer)
            loop()
          }, job.intervalMs)
          timer.unref()
          timers.add(timer)
        })
      running.set(round, job.name)
    }
    const first = setTimeout(loop, job.intervalMs)
    first.unref()
    timers.add(first)
  }

  return async (boundMs = Number.POSITIVE_INFINITY) => {
    stopped = true
    for (const timer of timers) clearTimeout(timer)
    shutdown.abort()
    let timer: NodeJS.Timeout | undefined
    const finished = await Promise.race([
      Promise.allSettled([...running.keys()]).then(() => true),
      new Promise<false>((resolve) => {
        if (Number.isFinite(boundMs)) timer = setTimeout(() => resolve(false), boundMs)
      }),
    ])
    clearTimeout(timer)
    if (!finished) log.warn({ jobs: [...new Set(running.values())], boundMs }, 'background work still running at the shutdown bound: left behind')
    return finished
  }
}
