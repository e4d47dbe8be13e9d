import fs from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration'
import type { DatabaseHandle } from './db.ts'

// Migrations are plain SQL files in migrations/, named NNNN_what.sql, applied in name order.
// Kysely's Migrator records them and holds an advisory lock while it runs, so several
// instances starting at once apply each migration exactly once.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

async function migrationFiles(): Promise<string[]> {
  const names = await fs.readdir(MIGRATIONS_DIR)
  return names.filter((n) => /^\d{4}_[a-z0-9_]+\.sql$/.test(n)).sort()
}

class SqlFileMigrationProvider implements MigrationProvider {
  private readonly handle: DatabaseHandle
  constructor(handle: DatabaseHandle) {
    this.handle = handle
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {}
    for (const file of await migrationFiles()) {
      const script = await fs.readFile(MIGRATIONS_DIR + file, 'utf8')
      migrations[file.replace(/\.sql$/, '')] = { up: (db) => this.handle.runScript(db, script) }
    }
    return migrations
  }
}

function migrator(handle: DatabaseHandle): Migrator {
  return new Migrator({ db: handle.db, provider: new SqlFileMigrationProvider(handle) })
}

/** Applies every pending migration; returns the names applied. Throws on failure. */
export async function migrateToLatest(handle: DatabaseHandle): Promise<string[]> {
  const { error, results } = await migrator(handle).migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Names of migration files not yet applied to the database (for /readyz). */
export async function pendingMigrations(handle: DatabaseHandle): Promise<string[]> {
  const wanted = (await migrationFiles()).map((f) => f.replace(/\.sql$/, ''))
  const applied = await sql<{ name: string }>`select name from kysely_migration`
    .execute(handle.db)
    .then((r) => new Set(r.rows.map((row) => row.name)))
    .catch(() => new Set<string>())
  return wanted.filter((name) => !applied.has(name))
}
