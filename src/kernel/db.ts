import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm'
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely'
import { PGliteDialect } from 'kysely-pglite-dialect'
import pg from 'pg'
import { EmbeddedDatabaseUnreadable, lockDataFolder, type DataFolderLock } from './data-folder.ts'
import type { KernelTables } from './kernel.tables.ts'

/**
 * Every table Kysely may query. The kernel declares its own here; src/database.ts adds every
 * module's tables to this interface (declaration merging), so `Kysely<Database>` knows them all
 * and a query on a table or column that does not exist fails to compile, while the kernel
 * imports no module.
 */
export interface Database extends KernelTables {}

export type Db = Kysely<Database>
export type Trx = Transaction<Database>
/** Anything queries can run on: the pool or an open transaction. */
export type Queryable = Db | Trx

/** What a listener on a NOTIFY channel is told. */
interface ListenHandlers {
  /** LISTEN is in effect: notifications from now on will arrive. */
  onListening(): void
  onNotify(payload: string): void
  /** The listening connection broke: notifications may be missed until onListening again. */
  onLost(): void
}

/** Listens on a channel until the returned function is called (shared-values.ts uses it). */
export type Listen = (channel: string, handlers: ListenHandlers) => Promise<() => Promise<void>>

export interface DatabaseHandle {
  db: Db
  kind: 'postgres' | 'embedded'
  /** Queries waiting for a free connection (load shedding looks at it). */
  waitingQueries(): number
  /** Connections checked out now (metrics). */
  connectionsInUse(): number
  /** Calls `listener` for every statement sent, BEGIN and COMMIT included (metrics count round trips with it). */
  observeStatements(listener: (() => void) | null): void
  /** The embedded engine itself (snapshots in tests); absent for PostgreSQL. */
  pglite?: PGlite
  /** The lock this process holds on the embedded database's folder (absent in memory and on PostgreSQL). */
  dataFolderLock?: DataFolderLock
  /** LISTEN on a channel: on PostgreSQL on a connection of its own (reconnecting), embedded on its one session. */
  listen: Listen
  /** Locks that last until released or until the process ends, shared by every process on the database (sessionLocks). */
  sessionLocks: SessionLocks
  /** Runs a multi-statement SQL script (migrations) on `on`, inside its transaction if it has one. */
  runScript(on: Queryable, script: string): Promise<void>
  close(): Promise<void>
}

/**
 * Exclusive locks by 64-bit key, held until released or until the process ends however it ends
 * (a crashed instance leaves nothing locked). On PostgreSQL, session advisory locks on one
 * connection of their own per process, so every instance sees them; embedded, in this process
 * (one process per data folder). Not re-entrant: a key this process holds is refused too.
 */
export interface SessionLocks {
  /** The lock's release, or null when a request of this or another process holds the key. Throws DatabaseUnavailable. */
  tryLock(key: bigint): Promise<(() => void) | null>
}

// Both drivers must hand back the same JavaScript types, or the embedded database hides
// bugs that PostgreSQL shows: bigint as number, date as 'YYYY-MM-DD', timestamptz as Date.
const INT8 = 20
const DATE = 1082

/**
 * The database could not be reached or the connection broke: the request is answered 503 with
 * Retry-After (errors.ts), and the pool reconnects by itself when the database is back.
 */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable'
  constructor(cause: unknown) {
    super('the database is unavailable', { cause })
  }
}

// Errors the server sends are pg.DatabaseError (with a SQLSTATE); anything else a client
// throws is the connection failing: refused, reset, terminated, timed out.
function connectionFailure(error: unknown): unknown {
  return error instanceof pg.DatabaseError || error instanceof DatabaseUnavailable ? error : new DatabaseUnavailable(error)
}

/**
 * Names for the statements the service sends again and again, so that PostgreSQL parses and plans
 * each once per connection and then only binds and executes it (pg prepares a named statement on
 * a connection the first time it is sent there). Kysely builds a statement's text the same way on
 * every request, so a text seen `after` times is a hot statement: it gets a name, up to `max` names
 * (each one is held on every connection). Texts that keep changing (a list of ids of varying
 * length) stay unnamed. PostgreSQL only (connectPostgres); the embedded database runs every
 * statement as it comes.
 */
export class StatementNames {
  readonly #seen = new Map<string, number>()
  readonly #names = new Map<string, string>()

  private readonly after: number
  private readonly max: number

  constructor(after = 3, max = 500) {
    this.after = after
    this.max = max
  }

  nameOf(text: string): string | undefined {
    const name = this.#names.get(text)
    if (name !== undefined || this.#names.size >= this.max) return name
    const seen = (this.#seen.get(text) ?? 0) + 1
    if (seen < this.after) {
      // Counting is bounded too: a flood of one-off texts starts the count over.
      if (this.#seen.size >= this.max * 10) this.#seen.clear()
      this.#seen.set(text, seen)
      return undefined
    }
    this.#seen.delete(text)
    const named = `madoguchi_${this.#names.size + 1}`
    this.#names.set(text, named)
    return named
  }
}

/** Wraps the pool so connection failures surface as DatabaseUnavailable and broken clients are dropped. */
function classifyingPool(pool: pg.Pool, sent: () => void, names: StatementNames) {
  return {
    async connect() {
      let client: pg.PoolClient
      try {
        client = await pool.connect()
      } catch (error) {
        throw connectionFailure(error)
      }
      let broken = false
      // A connection that dies while checked out emits 'error' on the client: without a
      // listener that would crash the process. Mark it, and let release() destroy it.
      const onError = () => {
        broken = true
      }
      client.on('error', onError)
      return {
        query: (async (...args: Parameters<pg.PoolClient['query']>) => {
          sent()
          const [text, values] = args as unknown[]
          const name = typeof text === 'string' && Array.isArray(values) ? names.nameOf(text) : undefined
          try {
            if (name !== undefined) return await client.query({ name, text: text as string, values: values as unknown[] })
            return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args)
          } catch (error) {
            const classified = connectionFailure(error)
            if (classified instanceof DatabaseUnavailable) broken = true
            throw classified
          }
        }) as pg.PoolClient['query'],
        release: () => {
          client.off('error', onError)
          client.release(broken)
        },
      }
    },
    end: () => pool.end(),
    options: pool.options,
  }
}

/** PostgreSQL through a `pg` pool. */
export function connectPostgres(connectionString: string, poolSize = 10): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    // Fail fast when the database is away rather than queueing requests without bound.
    connectionTimeoutMillis: 5000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === INT8) return (v: string) => Number(v)
        if (oid === DATE) return (v: string) => v
        return pg.types.getTypeParser(oid, format)
      }) as typeof pg.types.getTypeParser,
    },
  })
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {})
  let onStatement: (() => void) | null = null
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: classifyingPool(pool, () => onStatement?.(), new StatementNames()) }) })
  const listeners = new Set<() => Promise<void>>()
  const sessionLocks = sessionLocksOnPostgres(connectionString)
  return {
    db,
    kind: 'postgres',
    sessionLocks,
    listen: async (channel, handlers) => {
      const stop = listenOnPostgres(connectionString, channel, handlers)
      listeners.add(stop)
      return async () => {
        listeners.delete(stop)
        await stop()
      }
    },
    waitingQueries: () => pool.waitingCount,
    connectionsInUse: () => pool.totalCount - pool.idleCount,
    observeStatements: (listener) => {
      onStatement = listener
    },
    // Without parameters pg uses the simple query protocol, which takes several statements.
    runScript: async (on, script) => {
      await sql.raw(script).execute(on)
    },
    close: async () => {
      await Promise.all([...listeners].map((stop) => stop()))
      await sessionLocks.close()
      await db.destroy()
    },
  }
}

/**
 * Session advisory locks on one connection outside the pool (a pooled one would go back to the
 * pool with its locks). Connected when first needed, and again after it breaks: PostgreSQL has
 * released its locks then, so until they are released here other instances may take those keys
 * (this process still refuses them: it remembers what it holds).
 */
function sessionLocksOnPostgres(connectionString: string): SessionLocks & { close(): Promise<void> } {
  const held = new Set<bigint>()
  let current: Promise<pg.Client> | null = null
  const connection = (): Promise<pg.Client> => {
    if (current) return current
    const c = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 })
    const connecting: Promise<pg.Client> = c.connect().then(() => c)
    const drop = () => {
      if (current === connecting) current = null
      c.end().catch(() => {})
    }
    c.on('error', drop)
    c.on('end', drop)
    connecting.catch(drop)
    current = connecting
    return connecting
  }
  return {
    async tryLock(key) {
      if (held.has(key)) return null
      held.add(key)
      let client: pg.Client
      let locked: boolean
      try {
        client = await connection()
        const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::int8) as locked', [key.toString()])
        locked = result.rows[0]?.locked === true
      } catch (error) {
        held.delete(key)
        throw connectionFailure(error)
      }
      if (!locked) {
        held.delete(key)
        return null
      }
      let released = false
      return () => {
        if (released) return
        released = true
        // Sent before any later tryLock of the key on this connection (a client runs its queries in order).
        client.query('select pg_advisory_unlock($1::int8)', [key.toString()]).catch(() => {})
        held.delete(key)
      }
    },
    async close() {
      const c = current
      current = null
      if (c) await (await c.catch(() => null))?.end().catch(() => {})
    },
  }
}

/** Embedded: one process per data folder, so the locks are this process's alone. */
function sessionLocksInProcess(): SessionLocks {
  const held = new Set<bigint>()
  return {
    async tryLock(key) {
      if (held.has(key)) return null
      held.add(key)
      let released = false
      return () => {
        if (!released) held.delete(key)
        released = true
      }
    },
  }
}

// How long a broken listening connection waits before connecting again.
const RELISTEN_AFTER_MS = 1000

/**
 * LISTEN on a connection outside the pool (a pooled one would be handed to requests). When it
 * breaks, the listener is told (its copies are no longer kept) and it connects again.
 */
function listenOnPostgres(connectionString: string, channel: string, handlers: ListenHandlers): () => Promise<void> {
  let stopped = false
  let client: pg.Client | null = null
  let retry: NodeJS.Timeout | null = null
  const lost = (broken: pg.Client) => {
    if (client !== broken) return
    client = null
    handlers.onLost()
    broken.end().catch(() => {})
    if (!stopped) retry = setTimeout(connect, RELISTEN_AFTER_MS).unref()
  }
  const connect = () => {
    retry = null
    if (stopped) return
    const c = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 })
    client = c
    c.on('error', () => lost(c))
    c.on('end', () => lost(c))
    c.on('notification', (message) => {
      if (message.channel === channel) handlers.onNotify(message.payload ?? '')
    })
    c.connect()
      .then(() => c.query(`LISTEN ${pg.escapeIdentifier(channel)}`))
      .then(
        () => {
          if (client === c && !stopped) handlers.onListening()
        },
        () => lost(c),
      )
  }
  connect()
  return async () => {
    stopped = true
    if (retry) clearTimeout(retry)
    const c = client
    client = null
    await c?.end().catch(() => {})
  }
}

/**
 * The embedded PostgreSQL (PGlite): a folder on disk, or `memory://` for tests. A folder is
 * locked first (data-folder.ts) and stays locked until the handle is closed: a second process
 * is refused with DataFolderInUse. A folder whose database does not open is reported as
 * EmbeddedDatabaseUnreadable, naming the folder and the way back (restore a backup).
 */
export async function openEmbedded(dataDir: string, options: { loadDataDir?: Blob; holder?: string; lock?: DataFolderLock } = {}): Promise<DatabaseHandle> {
  if (dataDir.startsWith('memory://')) return embeddedHandle(await createPGlite(dataDir, options.loadDataDir))
  const folder = path.resolve(dataDir)
  // A caller that already holds the folder (restore) hands its lock to the handle, which
  // releases it on close; if opening fails, the caller still holds it.
  const lock = options.lock ?? (await lockDataFolder(folder, options.holder ?? path.basename(process.argv[1] ?? 'node')))
  try {
    let pglite: PGlite
    try {
      pglite = await createPGlite(folder, options.loadDataDir)
    } catch (error) {
      throw new EmbeddedDatabaseUnreadable(folder, error)
    }
    return embeddedHandle(pglite, lock)
  } catch (error) {
    if (!options.lock) lock.release()
    throw error
  }
}

function createPGlite(dataDir: string, loadDataDir: Blob | undefined): Promise<PGlite> {
  return PGlite.create(dataDir, {
    parsers: { [INT8]: (v: string) => Number(v), [DATE]: (v: string) => v },
    // Trigram indexes for text search in case summaries (Japanese included).
    extensions: { pg_trgm },
    ...(loadDataDir ? { loadDataDir } : {}),
  })
}

function embeddedHandle(pglite: PGlite, dataFolderLock?: DataFolderLock): DatabaseHandle {
  // The dialect sends every statement through query(): counted here, for metrics.
  let onStatement: (() => void) | null = null
  let running = 0
  const counted = {
    query: async (...args: Parameters<PGlite['query']>) => {
      onStatement?.()
      running += 1
      try {
        return await pglite.query(...args)
      } finally {
        running -= 1
      }
    },
    close: () => pglite.close(),
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(counted as unknown as PGlite) })
  return {
    db,
    kind: 'embedded',
    pglite,
    sessionLocks: sessionLocksInProcess(),
    ...(dataFolderLock ? { dataFolderLock } : {}),
    waitingQueries: () => 0,
    // One session: in use while a statement runs.
    connectionsInUse: () => running,
    // The one session listens; its own NOTIFYs arrive too, when their transaction commits.
    listen: async (channel, handlers) => {
      const unlisten = await pglite.listen(channel, (payload) => handlers.onNotify(payload))
      handlers.onListening()
      return async () => {
        if (!pglite.closed) await unlisten()
      }
    },
    observeStatements: (listener) => {
      onStatement = listener
    },
    // PGlite has one session: BEGIN was issued on it by Kysely, so exec runs inside it.
    runScript: async (_on, script) => {
      await pglite.exec(script)
    },
    close: async () => {
      try {
        await db.destroy()
        // Kysely closes the driver only if a query ever went through it; an unclosed PGlite
        // keeps timers running and the process alive.
        if (!pglite.closed) await pglite.close()
      } finally {
        // Only once the engine has written its last page may another process open the folder.
        dataFolderLock?.release()
      }
    },
  }
}

/**
 * The database the configuration names: PostgreSQL with a URL, else embedded in DATA_DIR/pgdata,
 * locked for this process (`holder` names it to a process that finds the folder taken).
 */
export async function openDatabase(
  config: { databaseUrl: string | undefined; databasePoolSize: number; dataDir: string },
  holder?: string,
): Promise<DatabaseHandle> {
  if (config.databaseUrl) return connectPostgres(config.databaseUrl, config.databasePoolSize)
  return openEmbedded(embeddedFolder(config.dataDir), holder === undefined ? {} : { holder })
}

/** Where the embedded database lives in DATA_DIR. */
export function embeddedFolder(dataDir: string): string {
  return path.join(dataDir, 'pgdata')
}
