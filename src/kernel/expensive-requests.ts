import crypto from 'node:crypto'
import { finished, Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify'
import type { SessionLocks } from './db.ts'
import { HttpProblem } from './errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * true: the route's work grows with the data, not with a page (the audit chain's export and
     * verification): one caller may run only so many of them at once (429 beyond).
     */
    expensive?: boolean
  }
}

/** What a caller told to wait should wait, in seconds: a full export of 100,000 entries takes a few. */
const RETRY_AFTER_SECONDS = 5

/**
 * The per-subject concurrency limit of expensive routes (issue 10 item 9): a subject runs at most
 * `perSubject` requests of routes marked `config.expensive` at once, across every instance; one
 * more is answered 429 with Retry-After at once. A slot is a session lock keyed by the subject and
 * the slot's number (db.ts: advisory locks on PostgreSQL, so the limit holds across instances, and
 * a crashed instance's slots are freed with its connection). It is held while the work runs: until
 * the handler returns, or for a stream until it ends, fails or is destroyed because the client
 * went away. 0: no limit.
 */
export function limitExpensiveRequests(app: FastifyInstance, { perSubject, locks }: { perSubject: number; locks: SessionLocks }): void {
  if (perSubject <= 0) return

  const takeSlot = async (subject: string): Promise<() => void> => {
    for (let slot = 0; slot < perSubject; slot++) {
      const release = await locks.tryLock(slotKey(subject, slot))
      if (release) return release
    }
    throw new HttpProblem(
      429,
      'too-many-requests',
      { id: 'protection.expensive_busy', params: { limit: perSubject, seconds: RETRY_AFTER_SECONDS } },
      {},
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
    )
  }

  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.config?.expensive !== true) return
    if (route.config.permission === undefined || route.config.permission === 'public') {
      throw new Error(`route ${route.url} is expensive but public: the limit is per subject`)
    }
    const handler = route.handler as RouteHandlerMethod
    route.handler = async function expensive(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const release = await takeSlot(request.access.caller.subject)
      let result: unknown
      try {
        result = await handler.call(this, request, reply)
      } catch (error) {
        release()
        throw error
      }
      if (!(result instanceof Readable)) {
        release()
        return result
      }
      // A stream works on after the handler: the slot goes when it ends, fails or is destroyed,
      // and it is destroyed when the response closes first (the client went away).
      finished(result, () => release())
      reply.raw.once('close', () => result.destroy())
      return result
    } as RouteHandlerMethod
  })
}

/** A 64-bit lock key for a subject's slot (a hash: subjects are any text). */
function slotKey(subject: string, slot: number): bigint {
  return crypto.createHash('sha256').update(`madoguchi expensive request\n${slot}\n${subject}`).digest().readBigInt64BE(0)
}
