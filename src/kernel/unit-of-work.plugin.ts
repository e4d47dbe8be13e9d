import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { callerOf } from './access.plugin.ts'
import { type AuditEntryInput, appendAuditEntries, auditRow, auditRowsJson } from './audit.ts'
import { AuditBatch } from './audit-batch.ts'
import type { AuditOutcome } from './audit.tables.ts'
import type { AuditNote, OneStatement, ServiceContext } from './context.ts'
import type { Db, Listen, Queryable, Trx } from './db.ts'
import { claimIdempotencyKey, idempotencyKeyOf, rememberResponse } from './idempotency.ts'
import { changeRow, type DomainChange } from './outbox.ts'
import { languageOf } from './language.ts'
import { type SharedValue, SharedValues } from './shared-values.ts'

/**
 * One request, one transaction, one audit entry.
 *
 * Every route under /v1 runs its handler inside a database transaction. When the handler
 * returns, the request's audit entry is written in that same transaction and only then is it
 * committed and the response sent: a change and its audit entry commit together or not at all.
 * A handler that throws rolls everything back; the error handler then records the refusal in
 * an entry of its own (`recordFailure`).
 *
 * Handlers hand `request.ctx` (a ServiceContext) to services and *return* their response body
 * (never `reply.send`, which would answer before the commit). Changes published with
 * `ctx.publish` are written with the audit entry, in one statement. GET requests change nothing:
 * their `ctx.db` is the pool itself (no BEGIN/COMMIT round trips) and the entry is written after
 * the handler, with those of the reads that end within the same millisecond (group commit,
 * audit-batch.ts): the response still waits for its entry's commit. Routes that stream or long-poll opt out with `config.transaction: false`, read on
 * the pool and write their audit entry with `auditNow`.
 *
 * Whether a request runs in a transaction, and how its audit entry and changes become SQL, is
 * decided here and nowhere else: services only say what happened.
 */
declare module 'fastify' {
  interface FastifyInstance {
    /** The service's database (pool or embedded). Requests use `request.ctx.db` instead. */
    readonly db: Db
    /** Declares, at start-up, a value every instance keeps until the database announces a change. */
    keepShared(value: SharedValue<unknown>): void
  }
  interface FastifyContextConfig {
    /** false: no request transaction (streaming, long-polling); default true under /v1. */
    transaction?: boolean
    /** true: the route honours Idempotency-Key (creating POSTs and PUTs). */
    idempotent?: boolean
    /**
     * true: the handler writes everything in one statement in autocommit, its audit entry
     * included (`ctx.oneStatement`): no BEGIN/COMMIT, no staff-profile hook. A request with an
     * Idempotency-Key still runs in a transaction (the key is claimed in it).
     */
    oneStatement?: boolean
  }
  interface FastifyRequest {
    /** What services need: the caller, their reach, the request's queries, its audit entry. */
    readonly ctx: ServiceContext
  }
}

interface UnitOfWorkOptions {
  db: Db
  /**
   * Runs in every write request's transaction before its handler (after an idempotent replay is
   * ruled out): the app remembers the caller's staff profile here, once per request.
   */
  beforeWrite?: (ctx: ServiceContext) => Promise<void>
  /** LISTEN for shared values (the database handle's); without it nothing is kept between requests. */
  listen?: Listen
}

const kContext = Symbol('context')
const kAudit = Symbol('audit')
const kWrites = Symbol('writes')
type Internal = FastifyRequest & { [kContext]?: ServiceContext; [kAudit]?: AuditNote; [kWrites]?: SharedValue<unknown>[] }

// The resource type an audit entry names, from the permission's namespace.
const RESOURCE_TYPES: Record<string, string> = {
  org_units: 'org_unit',
  policies: 'policy',
  calendar: 'calendar',
  cases: 'case',
  events: 'case',
  recordings: 'recording',
  dispositions: 'disposition',
  incidents: 'incident',
  disclosure_requests: 'disclosure_request',
  audit: 'audit_event',
  changes: 'change',
  webhooks: 'webhook',
}

export default fp<UnitOfWorkOptions>(
  async function unitOfWork(app: FastifyInstance, { db, beforeWrite, listen }) {
    const shared = new SharedValues(listen ?? null)
    // Reads' audit entries are written together (group commit, audit-batch.ts).
    const readAudits = new AuditBatch(db)
    app.decorate('db', db)
    app.decorate('keepShared', (value: SharedValue<unknown>) => shared.keep(value))
    app.addHook('onReady', () => shared.start())
    app.addHook('onClose', () => shared.close())
    const contextFor = (request: FastifyRequest, q: Queryable, changes: DomainChange[] | null, oneStatement: OneStatement | null = null) =>
      newContext(request, q, changes, shared, oneStatement)
    app.decorateRequest('ctx', {
      getter(this: Internal) {
        // Routes without a request transaction read on the pool and publish nothing.
        this[kContext] ??= contextFor(this, db, null)
        return this[kContext]
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
          ;(request as Internal)[kContext] = contextFor(request, db, null)
          const result = await handler.call(this, request, reply)
          if (reply.sent) throw new Error(`route ${route.url} answered before its audit entry was written; return the body instead`)
          await readAudits.write(entriesFor(request, 'allowed', reply.statusCode))
          return result
        } as RouteHandlerMethod
        return
      }
      const oneStatement = route.config?.oneStatement === true
      route.handler = async function transactional(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
        const key = idempotent ? idempotencyKeyOf(request) : null
        if (oneStatement && !key) return inOneStatement(this, request, reply)
        try {
          return await inTransaction(this, request, reply, key)
        } finally {
          // Shared values the request wrote are kept again only now that its transaction has ended.
          for (const value of (request as Internal)[kWrites] ?? []) shared.resume(value)
        }
      } as RouteHandlerMethod
      // The handler's one statement writes the data, the changes and the audit entry together.
      const inOneStatement = async (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => {
        let audited = false
        const statement: OneStatement = {
          auditRows(status) {
            audited = true
            return auditRowsJson(entriesFor(request, 'allowed', status))
          },
        }
        ;(request as Internal)[kContext] = contextFor(request, db, null, statement)
        const result = await handler.call(app, request, reply)
        if (reply.sent) throw new Error(`route ${route.url} answered before its statement ran; return the body instead`)
        if (!audited) throw new Error(`route ${route.url} wrote no audit entry in its statement`)
        return result
      }
      const inTransaction = (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, key: string | null) =>
        db.transaction().execute(async (trx) => {
          const changes: DomainChange[] = []
          const ctx = contextFor(request, trx, changes)
          ;(request as Internal)[kContext] = ctx
          const subject = ctx.caller.subject
          const replay = key ? await claimIdempotencyKey(trx, request, subject, operation, key) : null
          if (replay) {
            reply.code(replay.status).header('idempotent-replayed', 'true')
            if (replay.location) reply.header('location', replay.location)
            ctx.audit.details = { ...ctx.audit.details, idempotent_replay: true }
            await appendAuditEntries(trx, entriesFor(request, 'allowed', replay.status))
            return replay.body
          }
          await beforeWrite?.(ctx)
          const result = await handler.call(app, request, reply)
          if (reply.sent) throw new Error(`route ${route.url} answered before its transaction committed; return the body instead`)
          if (key) {
            const location = reply.getHeader('location')
            await rememberResponse(trx, subject, operation, key, {
              status: reply.statusCode,
              body: result,
              location: typeof location === 'string' ? location : null,
            })
          }
          await writeAuditAndChanges(trx, entriesFor(request, 'allowed', reply.statusCode), changes)
          return result
        })
    })
  },
  { name: 'unit-of-work', dependencies: ['access'] },
)

/** The context of an authorised request; `changes` null where nothing may be published (reads). */
function newContext(
  request: FastifyRequest,
  db: Queryable,
  changes: DomainChange[] | null,
  shared: SharedValues,
  oneStatement: OneStatement | null,
): ServiceContext {
  const { caller, permission, reach, can } = request.access
  const memo = new Map<symbol, Promise<unknown>>()
  return {
    db,
    caller,
    permission,
    reach,
    can,
    language: languageOf(request),
    audit: auditNoteOf(request),
    oneStatement,
    publish(...published) {
      if (!changes) throw new Error(`route ${request.routeOptions.url} publishes changes without a request transaction`)
      changes.push(...published)
    },
    memo<T>(key: symbol, compute: () => Promise<T>): Promise<T> {
      let value = memo.get(key) as Promise<T> | undefined
      if (!value) {
        value = compute()
        memo.set(key, value)
      }
      return value
    },
    shared: (value) => shared.get(value, db),
    writes(value) {
      if (!changes) throw new Error(`route ${request.routeOptions.url} writes without a request transaction`)
      const internal = request as Internal
      internal[kWrites] ??= []
      internal[kWrites].push(value)
      shared.suspend(value)
    },
  }
}

/** The request's audit entries and the changes it published, in one statement. */
async function writeAuditAndChanges(trx: Trx, entries: AuditEntryInput[], changes: DomainChange[]): Promise<void> {
  if (changes.length === 0) return appendAuditEntries(trx, entries)
  await trx
    .with('audited', (db) => db.insertInto('audit_events').values(entries.map(auditRow)))
    .insertInto('changes')
    .values(changes.map(changeRow))
    .execute()
}

function auditNoteOf(request: FastifyRequest): AuditNote {
  const internal = request as Internal
  internal[kAudit] ??= initialAudit(request)
  return internal[kAudit]
}

function initialAudit(request: FastifyRequest): AuditNote {
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
  const audit = auditNoteOf(request)
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
