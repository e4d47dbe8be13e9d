import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fastifyRateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { decodeJwt } from 'jose'
import type { DatabaseHandle } from './db.js'
import { HttpProblem, serviceUnavailable } from './errors.js'
import { limitExpensiveRequests } from './expensive-requests.js'

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
    await app.register(fastifyHelmet, {
      global: true,
      // A JSON API: nothing to load, nothing to frame.
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      crossOriginResourcePolicy: { policy: 'same-site' },
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
    await app.register(underPressure, {
      // The embedded database runs queries on the event loop itself: its delay says nothing
      // about overload there, so only PostgreSQL deployments shed on it.
      maxEventLoopDelay: database.kind === 'postgres' ? maxEventLoopDelayMs : 0,
      // Short windows: a window with no sample at all counts as infinite delay in under-pressure
      // (its answer to NaN means), and that verdict lasts one window. Over a second it shed every
      // request for a second after a long pause at start; 100 ms keeps such a refusal brief.
      sampleInterval: 100,
      healthCheckInterval: 250,
      // Requests queued for a database connection beyond this: shed instead of queueing.
      healthCheck: async () => database.waitingQueries() <= maxWaitingQueries,
      exposeStatusRoute: false,
      pressureHandler: async (request, _reply, type) => {
        // Liveness must not fail under load: a restart would only make it worse.
        if (request.url === '/healthz') return
        onShed?.(type)
        throw serviceUnavailable({ id: 'protection.overloaded', params: { type } }, 2)
      },
    })
  },
  { name: 'protection' },
)

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
