import fs from 'node:fs/promises'
import { sql } from 'kysely'
import { countUnlinked } from '../../src/audit/audit.repository.ts'
import { linkAllPendingEntries } from '../../src/kernel/audit-chain.ts'
import type { Db } from '../../src/kernel/db.ts'

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

// An attacker with database rights switches the append-only guard off and edits history.
export async function tamper(db: Db, statement: ReturnType<typeof sql>): Promise<void> {
  await db.connection().execute(async (c) => {
    await sql`set session_replication_role = replica`.execute(c)
    try {
      await statement.execute(c)
    } finally {
      await sql`set session_replication_role = origin`.execute(c)
    }
  })
}

/** The audit entry at a chain position, as SQL (to tamper with it). */
export const entryAt = (seq: number) => sql<number>`(select entry_id from audit_chain where seq = ${seq})`

/** The tail cut from a position on: its links and their entries deleted (with the guard off). */
export const cutFrom = (seq: number) =>
  sql`with cut as (delete from audit_chain where seq >= ${seq} returning entry_id) delete from audit_events where id in (select entry_id from cut)`

/** A verification script of the README (the code block after `<!-- marker -->`), as an auditor would copy it. */
export async function readmeScript(marker: string): Promise<string> {
  const readme = await fs.readFile(new URL('../../docs/audit.md', import.meta.url), 'utf8')
  const found = new RegExp(`<!-- ${marker} -->\\s*\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(readme)
  if (!found?.[1]) throw new Error(`README has no script after <!-- ${marker} -->`)
  return found[1]
}
