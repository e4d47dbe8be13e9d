import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// Only kernel functions write the kernel's tables (src/kernel/README.md): the audit trail (and its
// chain) and the change outbox are written by audit.ts, outbox.ts, audit-chain.ts and sequencer.ts, so every
// entry and change takes the same path, and how they become SQL is decided in one place. This reads every source file outside the kernel for
// a write to those tables, in Kysely or in SQL.
const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
const TABLES = ['audit_events', 'audit_chain', 'changes', 'change_commits', 'idempotency_keys']
const WRITES = TABLES.flatMap((table) => [
  new RegExp(`(insertInto|updateTable|deleteFrom)\\(\\s*'${table}'`),
  new RegExp(`\\b(insert\\s+into|update|delete\\s+from)\\s+${table}\\b`, 'i'),
])

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const files = await Promise.all(entries.map((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : [path.join(dir, e.name)])))
  return files.flat().filter((f) => f.endsWith('.ts'))
}

t.test('no file outside src/kernel writes audit_events, audit_chain, changes, change_commits or idempotency_keys', async (t) => {
  const files = (await sourceFiles(SRC)).filter((f) => !f.startsWith(path.join(SRC, 'kernel')))
  t.ok(files.length > 50, `${files.length} source files outside the kernel read`)
  const writers: string[] = []
  for (const file of files) {
    const text = await fs.readFile(file, 'utf8')
    for (const pattern of WRITES) {
      const match = pattern.exec(text)
      if (match) writers.push(`${path.relative(SRC, file)}: ${match[0]}`)
    }
  }
  t.same(writers, [], 'write through the kernel: ctx.publish / insertChangesFrom / appendAuditEntries')
})
