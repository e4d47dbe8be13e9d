import { ConfigError, loadConfig } from '../config.ts'
import { dataFolderProblem } from '../kernel/data-folder.ts'
import { openDatabase } from '../kernel/db.ts'
import { pendingMigrations } from '../kernel/migrations.ts'
import { sweepRetention } from '../recordings/retention-sweep.ts'

/**
 * One retention sweep now, on the configured database (the service also runs it every
 * RETENTION_SWEEP_INTERVAL_MS): marks recordings that became due and purges expired personal
 * information that is no administrative document. Safe beside running instances: if one of
 * them is sweeping, this run does nothing ("skipped": true). Prints the result as JSON.
 */
async function main(): Promise<void> {
  const database = await openDatabase(loadConfig(), 'npm run retention:sweep')
  try {
    const pending = await pendingMigrations(database)
    if (pending.length > 0) throw new Error(`migrations not yet applied (${pending.join(', ')}): run npm run migrate first`)
    const result = await sweepRetention(database.db)
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await database.close()
  }
}

main().catch((error: unknown) => {
  const message =
    dataFolderProblem(error, 'command') ??
    (error instanceof ConfigError ? `configuration error: ${error.message}` : error instanceof Error ? error.message : String(error))
  process.stderr.write(`retention:sweep: ${message}\n`)
  process.exit(1)
})
