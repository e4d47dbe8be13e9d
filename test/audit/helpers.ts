import { countUnlinked } from '../../src/audit/audit.repository.js'
import { linkAllPendingEntries } from '../../src/kernel/audit-chain.js'
import type { Db } from '../../src/kernel/db.js'

/**
 * Links every audit entry written so far. The linker only links entries of transactions below
 * the cluster-wide snapshot xmin, so while other databases on the same PostgreSQL are busy (test
 * files run in parallel) a round can leave recent entries for later: keep going until none is left.
 */
export async function linkEverything(db: Db, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    await linkAllPendingEntries(db)
    const unlinked = await countUnlinked(db)
    if (unlinked === 0) return
    if (Date.now() > deadline) throw new Error(`${unlinked} audit entries still unlinked after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
