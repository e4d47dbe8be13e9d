import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { appendAuditEntries, auditRow, type AuditEntryInput } from '../audit/audit.repository.js'
import { changeRow, collectChanges, takeCollectedChanges, type DomainChange } from '../changes/outbox.js'
import type { AuditOutcome } from '../audit/audit.tables.js'
import type { Db, Queryable, Trx } from './db.js'
import { callerOf } from './access.plugin.js'
import { claimIdempotencyKey, idempotencyKeyOf, rememberResponse } from './idempotency.js'

/**
 * One request, one transaction, one audit entry.
 *
 * Every route under /v1 runs its handler inside a database transaction. When the handler
 * returns, the request's audit entry is written in that same transaction and only then is it
 * committed and the response sent: a change and its audit entry commit together or not at all.
 * A handler that throws rolls everything back; the error handler then records the refusal in
 * an entry of its own (`recordFailure`).
 *
 * Handlers use `request.trx` for every query and *return* their response body (never
 * `reply.send`, which would answer before the commit). Changes published with
 * `publishChanges(request.trx, …)` are written with the audit entry, in one statement.
 * GET requests change nothing: `request.trx` is then the pool itself (no BEGIN/COMMIT round
 * trips) and the entry is written after the handler. Routes that stream or long-poll opt out
 * with `config.transaction: false` and write their audit entry with `auditNow`.
 */
declare module 'fastify' {
  interface FastifyInstance {
    /** The service's database (pool or embedded). Requests use `request.trx` instead. */
    readonly db: Db
  }
  interface FastifyContextConfig {
    /** false: no request transaction (streaming, long-polling); default true under /v1. */
    transaction?: boolean
    /** true: the route honours Idempotency-Key (creating POSTs and PUTs). */
    idempotent?: boolean
  }
  interface FastifyRequest {
    /** The request's transaction. Only on transactional /v1 routes. */
    readonly trx: Trx
    /** What the request's audit entry will say; handlers fill in ids they create. */
    readonly audit: AuditContext
  }
}

export interface AuditContext {
  resourceType: string | null
  resourceId: string | null
  /** Ids, counts, kinds: never personal data values. */
  details: Record<string, unknown>
  /** Further entries the request writes beside its own (e.g. a flag raised on a record). */
  also: Array<Pick<AuditEntryInput, 'action' | 'resourceType' | 'resourceId'> & { details?: Record<string, unknown> }>
}

const kTrx = Symbol('trx')
const kAudit = Symbol('audit')
type Internal = FastifyRequest & { [kTrx]?: Trx; [kAudit]?: AuditContext }

// The resource type an audit entry names, from the permission's namespace.
const RESOURCE_TYPES: Record<string, string> = {
  org_units: 'org_unit',
  policies: 'policy',
  calendar: 'calendar',
  cases: 'case',
  events: 'case',
  recordings: 'recording',
  dispositions: 'disposition',
  audit: 'audit_event',
  changes: 'change',
  webhooks: 'webhook',
}

export default fp<{ db: Db }>(
  async function unitOfWork(app: FastifyInstance, { db }) {
    app.decorate('db', db)
    app.decorateRequest('trx', {
      getter(this: Internal) {
        const trx = this[kTrx]
        if (!trx) throw new Error(`route ${this.routeOptions.url} runs without a request transaction`)
        return trx
      },
    })
    app.decorateRequest('audit', {
      getter(this: Internal) {
        this[kAudit] ??= initialAudit(this)
        return this[kAudit]
      },
    })

    app.addHook('onRoute', (route: RouteOptions) => {
      if (!route.url.startsWith('/v1/') || route.config?.transaction === false) return
      if (route.config?.permission === 'public') return
      const handler = route.handler as RouteHandlerMethod
      const idempotent = route.config?.idempotent === true
      const operation = String(route.schema?.operationId ?? `${String(route.method)} ${route.url}`)
      // Reads change nothing: they run on the pool, without BEGIN and COMMIT, and write their
      // audit entry once the response is ready (a read that cannot be audited is not served).
      if (route.method === 'GET') {
        route.handler = async function read(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
          ;(request as Internal)[kTrx] = db as unknown as Trx
          try {
            const result = await handler.call(this, request, reply)
            if (reply.sent) throw new Error(`route ${route.url} answered before its audit entry was written; return the body instead`)
            await appendAuditEntries(db, entriesFor(request, 'allowed', reply.statusCode))
            return result
          } finally {
            ;(request as Internal)[kTrx] = undefined
          }
        } as RouteHandlerMethod
        return
      }
      route.handler = async function transactional(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
        const key = idempotent ? idempotencyKeyOf(request) : null
        return db.transaction().execute(async (trx) => {
          ;(request as Internal)[kTrx] = trx
          collectChanges(trx)
          try {
            const subject = request.access.caller.subject
            const replay = key ? await claimIdempotencyKey(trx, request, subject, operation, key) : null
            if (replay) {
              reply.code(replay.status).header('idempotent-replayed', 'true')
              if (replay.location) reply.header('location', replay.location)
              request.audit.details = { ...request.audit.details, idempotent_replay: true }
              await appendAuditEntries(trx, entriesFor(request, 'allowed', replay.status))
              return replay.body
            }
            const result = await handler.call(this, request, reply)
            if (reply.sent) throw new Error(`route ${route.url} answered before its transaction committed; return the body instead`)
            if (key) {
              const location = reply.getHeader('location')
              await rememberResponse(trx, subject, operation, key, {
                status: reply.statusCode,
                body: result,
                location: typeof location === 'string' ? location : null,
              })
            }
            await writeAuditAndChanges(trx, entriesFor(request, 'allowed', reply.statusCode), takeCollectedChanges(trx))
            return result
          } finally {
            ;(request as Internal)[kTrx] = undefined
            takeCollectedChanges(trx)
          }
        })
      } as RouteHandlerMethod
    })
  },
  { name: 'unit-of-work', dependencies: ['access'] },
)

/** The request's audit entries and the changes it published, in one statement. */
async function writeAuditAndChanges(trx: Trx, entries: AuditEntryInput[], changes: DomainChange[]): Promise<void> {
  if (changes.length === 0) return appendAuditEntries(trx, entries)
  await trx
    .with('audited', (db) => db.insertInto('audit_events').values(entries.map(auditRow)))
    .insertInto('changes')
    .values(changes.map(changeRow))
    .execute()
}

function initialAudit(request: FastifyRequest): AuditContext {
  const params = (request.params ?? {}) as Record<string, unknown>
  const permission = request.routeOptions.config?.permission
  const namespace = typeof permission === 'string' ? permission.split(':')[0]! : ''
  return {
    resourceType: request.routeOptions.config?.resourceType ?? RESOURCE_TYPES[namespace] ?? null,
    resourceId: typeof params.id === 'string' ? params.id.slice(0, 200) : null,
    details: {},
    also: [],
  }
}

function entriesFor(request: FastifyRequest, outcome: AuditOutcome, status: number): AuditEntryInput[] {
  const caller = callerOf(request)
  const audit = request.audit
  const base = {
    subject: caller?.subject ?? null,
    roles: caller?.roles ?? [],
    orgUnit: caller?.orgUnit ?? null,
    route: `${request.method} ${request.routeOptions.url ?? ''}`,
    outcome,
    status,
    requestId: request.id,
    clientAddress: request.ip ?? null,
  }
  const action = request.routeOptions.schema?.operationId ?? `${request.method} ${request.routeOptions.url}`
  return [
    { ...base, action, resourceType: audit.resourceType, resourceId: audit.resourceId, details: audit.details },
    ...(outcome === 'allowed' ? audit.also.map((a) => ({ ...base, ...a, details: a.details ?? {} })) : []),
  ]
}

/**
 * Records a refused or failed /v1 request: 401/403 and out-of-reach 404 are "denied", any
 * other 4xx "failed". Unknown routes and infrastructure routes are not recorded.
 */
export async function recordFailure(request: FastifyRequest, status: number): Promise<void> {
  const url = request.routeOptions?.url
  if (!url?.startsWith('/v1/') || request.routeOptions.config?.permission === 'public') return
  const outcome: AuditOutcome = status === 401 || status === 403 || status === 404 ? 'denied' : 'failed'
  // Outside the request's transaction, which has been rolled back.
  await appendAuditEntries(request.server.db, entriesFor(request, outcome, status))
}

/**
 * For routes without a request transaction: write the request's entry now, on the pool or in a
 * transaction the route opened itself (so the entry commits with what the route wrote).
 */
export async function auditNow(request: FastifyRequest, status = 200, q: Queryable = request.server.db): Promise<void> {
  await appendAuditEntries(q, entriesFor(request, 'allowed', status))
}
