import { type AuditEntryInput, appendAuditRows } from './audit.ts'
import type { Db } from './db.ts'

/**
 * Group commit for the audit entries of reads: entries that arrive within `windowMs` of the first
 * are written in one multi-row INSERT (autocommit), and each waiting read is answered only after
 * that INSERT has committed, so an entry is still durable before its response. A failed INSERT
 * fails every read that waited for it, as a failed entry of its own would have failed each one.
 */
export class AuditBatch {
  #waiting: Array<{ entries: readonly AuditEntryInput[]; resolve(): void; reject(error: unknown): void }> = []
  #timer: NodeJS.Timeout | null = null

  private readonly db: Db
  private readonly windowMs: number

  constructor(db: Db, windowMs = 1) {
    this.db = db
    this.windowMs = windowMs
  }

  write(entries: readonly AuditEntryInput[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ entries, resolve, reject })
      this.#timer ??= setTimeout(() => void this.#flush(), this.windowMs)
    })
  }

  async #flush(): Promise<void> {
    this.#timer = null
    const batch = this.#waiting.splice(0)
    try {
      await appendAuditRows(
        this.db,
        batch.flatMap((w) => w.entries),
      )
      for (const w of batch) w.resolve()
    } catch (error) {
      for (const w of batch) w.reject(error)
    }
  }
}
