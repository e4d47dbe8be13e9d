import { ConfigError, loadConfig } from '../config.ts'
import { dataFolderProblem } from '../kernel/data-folder.ts'
import { openDatabase } from '../kernel/db.ts'
import { migrateToLatest } from '../kernel/migrations.ts'

/** Applies pending migrations to the configured database (the service also does this at start). */
async function main(): Promise<void> {
  const database = await openDatabase(loadConfig(), 'npm run migrate')
  try {
    const applied = await migrateToLatest(database)
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n')
  } finally {
    await database.close()
  }
}

main().catch((error: unknown) => {
  const message =
    dataFolderProblem(error, 'command') ??
    (error instanceof ConfigError ? `configuration error: ${error.message}` : error instanceof Error ? error.message : String(error))
  process.stderr.write(`migrate: ${message}\n`)
  process.exit(1)
})
