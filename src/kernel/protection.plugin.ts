import fastifyCors from '@fastify/cors'
import fastifyRateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import { decodeJwt } from 'jose'
import type { DatabaseHandle } from './db.ts'
import { HttpProblem, serviceUnavailable } from './errors.ts'
import { limitExpensiveRequests } from './expensive-requests.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route sends its own security headers (the docs page and its CSP); default true. */
    securityHeaders?: boolean
  }
}

export interface ProtectionConfig {
  /** Browser origins allowed to call the API (CORS); empty: none. */
  corsOrigins: string[]
  /** Requests per subject per minute (0: no limit). */
  rateLimitPerMinute: number
  /** Requests of expensive routes (config.expensive) one subject may run at once, across instances (0: no limit). */
  expensiveRequestsPerSubject: number
  /** When to shed load; null: never (tests that do not ask for it). */
  overload: { maxEventLoopDelayMs: number; maxWaitingQueries: number } | null
}

/**
 * What stands between the API and hostile or excessive traffic:
 * - security headers (helmet) on every response; the docs page keeps its own CSP;
 * - CORS closed unless CORS_ORIGINS names the front ends allowed to call from a browser;
 * - per-subject rate limits: 429 problem with Retry-After (counters are per instance: a
 *   protection, not business state, so N instances allow up to N × the limit);
 * - per-subject concurrency of expensive routes (exports, verification): 429 with Retry-After
 *   beyond the limit, which holds across instances (expensive-requests.ts);
 * - load shedding: when the event loop lags or too many queries wait for a database
 *   connection, new requests get 503 with Retry-After at once instead of queueing without bound.
 */
export default fp<{ config: ProtectionConfig; database: DatabaseHandle; onShed?: (reason: string) => void }>(
  async function protection(app: FastifyInstance, { config, database, onShed }) {
    // helmet's middleware is built once and sets the same headers on every response (the
    // @fastify/helmet plugin built it anew for every request, parsing the CSP each time: 5 % of
    // a case read's CPU in the benchmark's profile).
    const securityHeaders = helmet({
      // A JSON API: nothing to load, nothing to frame.
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      crossOriginResourcePolicy: { policy: 'same-site' },
    })
    app.addHook('onRequest', (request, reply, done) => {
      if (request.routeOptions.config.securityHeaders === false) return done()
      securityHeaders(request.raw, reply.raw, (error) => done(error as Error | undefined))
    })

    await app.register(fastifyCors, {
      origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match', 'idempotency-key', 'x-request-id'],
      exposedHeaders: ['etag', 'location', 'retry-after', 'x-request-id', 'idempotent-replayed'],
      maxAge: 600,
    })

    if (config.rateLimitPerMinute > 0) {
      await app.register(fastifyRateLimit, {
        global: true,
        max: config.rateLimitPerMinute,
        timeWindow: 60_000,
        keyGenerator: rateLimitKey,
        // Infrastructure probes are never limited.
        allowList: (request) => !request.url.startsWith('/v1/'),
        errorResponseBuilder: (_request, context) =>
          new HttpProblem(
            429,
            'too-many-requests',
            { id: 'protection.rate_limited', params: { max: context.max, seconds: Math.ceil(context.ttl / 1000) } },
            {},
            {
              'retry-after': String(Math.ceil(context.ttl / 1000)),
            },
          ),
      })
    }

    limitExpensiveRequests(app, { perSubject: config.expensiveRequestsPerSubject, locks: database.sessionLocks })

    if (!config.overload) return
    const { maxEventLoopDelayMs, maxWaitingQueries } = config.overload
    // The embedded database runs queries on the event loop itself: its delay says nothing
    // about overload there, so only PostgreSQL deployments shed on it.
    const lag = database.kind === 'postgres' && maxEventLoopDelayMs > 0 ? eventLoopLag() : null
    app.addHook('onClose', async () => lag?.stop())
    // Why the last check found the service overloaded (the reason a refusal names).
    let overloaded: 'eventLoopDelay' | 'healthCheck' | null = null
    await app.register(underPressure, {
      // The event loop's delay is measured here (eventLoopLag), not by under-pressure: see there.
      maxEventLoopDelay: 0,
      // Each check's verdict lasts until the next one: 250 ms keeps a refusal brief.
      healthCheckInterval: 250,
      healthCheck: async () => {
        if (lag && lag.sample() > maxEventLoopDelayMs) overloaded = 'eventLoopDelay'
        // Requests queued for a database connection beyond this: shed instead of queueing.
        else if (database.waitingQueries() > maxWaitingQueries) overloaded = 'healthCheck'
        else overloaded = null
        return overloaded === null
      },
      exposeStatusRoute: false,
      pressureHandler: async (request, _reply, type) => {
        // Liveness must not fail under load: a restart would only make it worse.
        if (request.url === '/healthz') return
        const reason = overloaded ?? type
        onShed?.(reason)
        throw serviceUnavailable({ id: 'protection.overloaded', params: { type: reason } }, 2)
      },
    })
  },
  { name: 'protection' },
)

/**
 * How late the event loop runs, in milliseconds, since the last sample: the mean delay of its
 * turns (a histogram, as under-pressure keeps one), or, when not one turn completed since then,
 * the whole time since then, since the loop was held all along. under-pressure's own measure
 * counts such a window as an infinite delay, so that one stall longer than its window (100 ms) on a
 * busy machine shed every request for a window whatever the limit: three exports of the audit
 * chain on a shared machine did that to hundreds of requests (issue 10 item 9).
 */
function eventLoopLag(): { sample(): number; stop(): void } {
  const resolutionMs = 10
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs })
  histogram.enable()
  let sampledAt = performance.now()
  return {
    sample() {
      const now = performance.now()
      const delay = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - resolutionMs) : now - sampledAt
      histogram.reset()
      sampledAt = now
      return delay
    },
    stop: () => histogram.disable(),
  }
}

/** Per caller: the token's subject (verified later, in authentication), else the client address. */
function rateLimitKey(request: FastifyRequest): string {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) {
    try {
      const sub = decodeJwt(header.slice(7)).sub
      if (typeof sub === 'string' && sub.length <= 200) return `sub:${sub}`
    } catch {
      // not a JWT: limited by address
    }
  }
  return `ip:${request.ip}`
}
