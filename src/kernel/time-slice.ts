import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Cooperative slicing of long CPU work (hashing and serialising large ranges of the audit chain)
 * on the event loop: the loop calls `due()` per item and awaits `pause()` when it says so, which
 * lets timers, sockets and other requests run before the work goes on. Measured in time, not
 * items, so a slow or busy machine still yields often enough.
 */
export class TimeSlice {
  #startedAt = performance.now()

  /** The longest run of work between two pauses, in milliseconds. */
  private readonly budgetMs: number
  constructor(budgetMs = 5) {
    this.budgetMs = budgetMs
  }

  /** Whether the current slice has used up its time. */
  due(): boolean {
    return performance.now() - this.#startedAt >= this.budgetMs
  }

  /** Gives the event loop a turn (after I/O callbacks), then starts a new slice. */
  async pause(): Promise<void> {
    await nextTurn()
    this.#startedAt = performance.now()
  }
}
