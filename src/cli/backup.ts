import fs from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config.ts'
import { dataFolderProblem } from '../kernel/data-folder.ts'
import { embeddedFolder, openEmbedded } from '../kernel/db.ts'

/**
 * A snapshot of the embedded database, for safekeeping:
 *   npm run backup -- --out <file> [--force]
 * Takes the data folder's lock like any process that opens the database (so the service must be
 * stopped first: one data folder serves one process), writes everything to disk (CHECKPOINT),
 * and saves PGlite's dump of the data folder (a gzipped tar) to the file. The file is written
 * under a temporary name and renamed at the end: a failed backup never leaves a truncated file
 * under the name asked for, and an existing file is replaced only with --force.
 * Restore it with `npm run restore` (restore.ts). PostgreSQL (DATABASE_URL) is backed up with its
 * own tools (pg_dump).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, force: { type: 'boolean', default: false } } })
  if (!values.out) throw new ConfigError('usage: npm run backup -- --out <file> [--force]')
  const config = loadConfig()
  if (config.databaseUrl)
    throw new ConfigError('DATABASE_URL is set: back up PostgreSQL with its own tools (pg_dump); this command saves the embedded database')
  const out = path.resolve(values.out)
  if (!values.force && (await exists(out))) throw new ConfigError(`${out} exists: choose another file, or add --force to replace it`)
  const folder = embeddedFolder(config.dataDir)
  if (!(await exists(path.join(folder, 'PG_VERSION')))) throw new ConfigError(`there is no embedded database in ${folder} (DATA_DIR=${config.dataDir})`)

  const started = Date.now()
  const database = await openEmbedded(folder, { holder: 'npm run backup' })
  try {
    await database.pglite!.exec('CHECKPOINT')
    const dump = await database.pglite!.dumpDataDir('gzip')
    await fs.mkdir(path.dirname(out), { recursive: true })
    const temporary = `${out}.${process.pid}.partial`
    try {
      await fs.writeFile(temporary, Buffer.from(await dump.arrayBuffer()))
      await fs.rename(temporary, out)
    } catch (error) {
      await fs.rm(temporary, { force: true })
      throw error
    }
    process.stdout.write(`backed up ${folder} to ${out} (${(dump.size / 1048576).toFixed(1)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`)
  } finally {
    await database.close()
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  )
}

main().catch((error: unknown) => {
  const message =
    dataFolderProblem(error, 'backup') ?? (error instanceof ConfigError ? error.message : `failed: ${error instanceof Error ? error.message : String(error)}`)
  process.stderr.write(`backup: ${message}\n`)
  process.exit(1)
})
