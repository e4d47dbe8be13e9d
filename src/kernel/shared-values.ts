import type { Listen, Queryable } from './db.ts'

/**
 * Values kept per instance and dropped when the database announces a change (LISTEN/NOTIFY):
 * data that every request needs and that almost never changes (the policies in force), so that
 * no request reads it. The table's writers NOTIFY the value's channel (a trigger, so that every
 * writer does, whichever instance or tool it is); each instance LISTENs on a connection of its
 * own and drops its copy when a notification arrives.
 *
 * Correctness never rests on the notification alone:
 * - a value is kept only while its channel is listened to: before LISTEN is confirmed, and after
 *   the listening connection broke until it listens again, every request loads afresh;
 * - a load that a notification overtakes is never kept (the promise is dropped with the copy);
 * - a request that writes the table itself (`suspend`) makes this instance load afresh until its
 *   transaction has ended, and drops the copy then, without waiting for the notification.
 */
export interface SharedValue<T> {
  /** The NOTIFY channel the table's writers signal. */
  readonly channel: string
  /** Loads the value; runs on the request's queryable (the embedded database has one session). */
  load(q: Queryable): Promise<T>
}

interface Entry {
  listening: boolean
  /** Requests writing the table now: while any runs, nothing is kept. */
  writers: number
  value: Promise<unknown> | null
}

export class SharedValues {
  readonly #entries = new Map<SharedValue<unknown>, Entry>()
  readonly #stops: Array<() => Promise<void>> = []
  #closed = false

  private readonly listen: Listen | null
  constructor(listen: Listen | null) {
    this.listen = listen
  }

  /** Declares a value at start-up; it is listened for once the app is ready (`start`). */
  keep(value: SharedValue<unknown>): void {
    if (!this.#entries.has(value)) this.#entries.set(value, { listening: false, writers: 0, value: null })
  }

  async start(): Promise<void> {
    if (!this.listen) return
    for (const [value, entry] of this.#entries) {
      const stop = await this.listen(value.channel, {
        onListening: () => {
          entry.value = null
          entry.listening = true
        },
        onNotify: () => {
          entry.value = null
        },
        onLost: () => {
          entry.listening = false
          entry.value = null
        },
      })
      if (this.#closed) await stop()
      else this.#stops.push(stop)
    }
  }

  get<T>(value: SharedValue<T>, q: Queryable): Promise<T> {
    const entry = this.#entries.get(value)
    if (!entry?.listening || entry.writers > 0) return value.load(q)
    if (!entry.value) {
      const loading = value.load(q)
      entry.value = loading
      // A failed load is not kept.
      loading.catch(() => {
        if (entry.value === loading) entry.value = null
      })
    }
    return entry.value as Promise<T>
  }

  /** A request is about to write the value's table: until `resume`, this instance keeps nothing. */
  suspend(value: SharedValue<unknown>): void {
    const entry = this.#entries.get(value)
    if (!entry) return
    entry.writers += 1
    entry.value = null
  }

  /** The writing request's transaction has ended (committed or not). */
  resume(value: SharedValue<unknown>): void {
    const entry = this.#entries.get(value)
    if (!entry) return
    entry.writers -= 1
    entry.value = null
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#stops.splice(0).map((stop) => stop()))
  }
}
