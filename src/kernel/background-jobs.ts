import type { FastifyBaseLogger } from 'fastify'

export interface BackgroundJob {
  name: string
  intervalMs: number
  /** One round of work. Must be safe to run on every instance at once (advisory locks, SKIP LOCKED). */
  run(): Promise<unknown>
}

/**
 * Runs each job in its own loop: one round, wait, the next. Rounds never overlap within an
 * instance; across instances the jobs themselves take locks. Returns a stop function that
 * waits for rounds in progress.
 */
export function startBackgroundJobs(jobs: BackgroundJob[], log: FastifyBaseLogger): () => Promise<void> {
  let stopped = false
  const running = new Set<Promise<unknown>>()
  const timers = new Set<NodeJS.Timeout>()

  for (const job of jobs) {
    const loop = () => {
      if (stopped) return
      const round = job
        .run()
        .catch((err: unknown) => log.warn({ err, job: job.name }, 'background job round failed'))
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
      running.add(round)
    }
    const first = setTimeout(loop, job.intervalMs)
    first.unref()
    timers.add(first)
  }

  return async () => {
    stopped = true
    for (const timer of timers) clearTimeout(timer)
    await Promise.allSettled([...running])
  }
}
