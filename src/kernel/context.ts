import type { Permission, Reach } from './access.ts'
import type { AuditEntryInput } from './audit.ts'
import type { Caller } from './auth.ts'
import type { Queryable } from './db.ts'
import type { Language } from './language.ts'
import type { DomainChange } from './outbox.ts'
import type { SharedValue } from './shared-values.ts'

/** What a request's audit entry will say beyond who, when and how it ended. */
export interface AuditNote {
  resourceType: string | null
  resourceId: string | null
  /** Ids, counts, kinds: never personal data values. */
  details: Record<string, unknown>
  /** Further entries the request writes beside its own (e.g. a flag raised on a record). */
  also: Array<Pick<AuditEntryInput, 'action' | 'resourceType' | 'resourceId'> & { details?: Record<string, unknown> }>
}

/** What a request that is one statement writes its audit entry with. */
export interface OneStatement {
  /**
   * The request's audit entry (as `ctx.audit` says it now) answered with `status`, as one value
   * for `insertAuditRowsWhere` in the statement's CTEs; the unit of work then writes none after the
   * handler. A parameter, not part of the statement's text: the statement is compiled once (compiled-queries.ts).
   */
  auditRows(status: number): string
}

/**
 * What a service works with: everything a request established, as plain values. The unit of work
 * builds it (unit-of-work.plugin.ts); services take it first and never see the HTTP request, so
 * their inputs show in their signatures and another caller (a job, a test, a batch) can build one.
 */
export interface ServiceContext {
  /**
   * Where the request's queries run: its transaction for a write, the pool for a read (no
   * BEGIN/COMMIT). Which one is the kernel's decision, not the service's.
   */
  readonly db: Queryable
  readonly caller: Caller
  /** The route's permission; null on routes that need only a valid token. */
  readonly permission: Permission | null
  /** The caller's reach for the route's permission ('all' on token-only routes). */
  readonly reach: Reach
  /** The caller's reach for another permission, from the same access table; null: not granted. */
  can(permission: Permission): Reach | null
  /** The language the caller reads (Accept-Language): explanations are written in it (messages/). */
  readonly language: Language
  /** The request's audit entry: services fill in the ids they create and what they decided. */
  readonly audit: AuditNote
  /**
   * Set when the request runs as one statement in autocommit (routes with `config.oneStatement`,
   * without an Idempotency-Key): the service writes its data, its changes and the request's audit
   * entry in that one statement, the entry with `auditRows`. Null in a request transaction.
   */
  readonly oneStatement: OneStatement | null
  /** Changes to publish when the request commits, written with its audit entry (outbox.ts). */
  publish(...changes: DomainChange[]): void
  /**
   * A value computed once per request, however many decisions and views use it (the policies in
   * force). `key` is a symbol private to the module that computes the value.
   */
  memo<T>(key: symbol, compute: () => Promise<T>): Promise<T>
  /**
   * A value this instance keeps until the database announces a change (shared-values.ts): read
   * once, not per request. Loaded on the request's queryable when there is no copy.
   */
  shared<T>(value: SharedValue<T>): Promise<T>
  /** The request writes the shared value's table: no copy is kept until its transaction ends. */
  writes(value: SharedValue<unknown>): void
}
