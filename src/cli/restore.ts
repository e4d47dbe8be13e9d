import fs from 'node:fs/promises'
import path from 'node:path'
import { parseArgs, promisify } from 'node:util'
import zlib from 'node:zlib'
import { sql } from 'kysely'
import { ConfigError, loadConfig } from '../config.ts'
import { dataFolderProblem, EmbeddedDatabaseUnreadable, engineMessage, lockDataFolder } from '../kernel/data-folder.ts'
import { embeddedFolder, openEmbedded, type DatabaseHandle } from '../kernel/db.ts'

/**
 * Puts a backup (`npm run backup`) back as the embedded database:
 *   npm run restore -- --from <file> [--force]
 * Takes the data folder's lock first (the service must be stopped). Into an empty or missing
 * folder it restores at once; a folder that holds anything is replaced only with --force, and
 * even then kept aside as `<folder>.replaced-<time>` rather than deleted. If the file is not a
 * backup that opens, the folder is left as it was. The service migrates a restored database of an
 * older version at its next start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, force: { type: 'boolean', default: false } } })
  if (!values.from) throw new ConfigError('usage: npm run restore -- --from <file> [--force]')
  const config = loadConfig()
  if (config.databaseUrl)
    throw new ConfigError('DATABASE_URL is set: restore PostgreSQL with its own tools (pg_restore); this command restores the embedded database')
  const from = path.resolve(values.from)
  const file = await fs.readFile(from).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot read ${from} (${error.code ?? error.message})`)
  })
  // Checked before anything in the folder moves.
  const snapshot = await dataFolderTar(file).catch((error: Error) => {
    throw new ConfigError(`${from} is not a backup made by npm run backup (${error.message}); nothing was changed`)
  })
  const folder = embeddedFolder(config.dataDir)

  const lock = await lockDataFolder(folder, 'npm run restore')
  try {
    let keptAside: string | null = null
    if (await holdsAnything(folder)) {
      keptAside = `${folder}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`
      if (!values.force) {
        throw new ConfigError(
          `${folder} is not empty: restoring would replace it; add --force to restore anyway (what is there now is kept aside as ${keptAside})`,
        )
      }
      await fs.rename(folder, keptAside)
    }
    let database: DatabaseHandle | undefined
    let migrations: number
    try {
      database = await openEmbedded(folder, { loadDataDir: new Blob([snapshot], { type: 'application/x-tar' }), lock })
      // A Madoguchi database records its migrations; anything else is not a backup of ours.
      const applied = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(database.db)
      migrations = applied.rows[0]?.n ?? 0
    } catch (error) {
      // Leave the folder as it was: the partial copy goes, what was there comes back.
      if (database) await database.close().catch(() => {})
      await fs.rm(folder, { recursive: true, force: true })
      if (keptAside) await fs.rename(keptAside, folder)
      const reason = engineMessage(error instanceof EmbeddedDatabaseUnreadable ? error.cause : error)
      throw new ConfigError(`${from} could not be restored (${reason}): is it a file made by npm run backup? ${folder} is as it was`)
    }
    await database.close()
    process.stdout.write(
      `restored ${from} into ${folder} (${migrations} migrations applied in it)${keptAside ? `; the previous contents are kept in ${keptAside}` : ''}\n`,
    )
  } finally {
    lock.release()
  }
}

/**
 * The tar inside a backup (gzipped, as npm run backup writes it), checked to hold a PostgreSQL
 * data folder. The engine is handed the plain tar: given anything else, it would try to
 * decompress it in a stream whose error cannot be caught.
 */
async function dataFolderTar(file: Buffer): Promise<Uint8Array> {
  const tar = file[0] === 0x1f && file[1] === 0x8b ? await promisify(zlib.gunzip)(file) : file
  // Walk the tar headers (512-byte blocks: name at 0, octal size at 124, "ustar" at 257).
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512)
    if (header.every((b) => b === 0)) break
    if (header.subarray(257, 262).toString('latin1') !== 'ustar') throw new Error('not a tar archive')
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
    if (name.replace(/^\/+/, '') === 'PG_VERSION') return tar
    const size = Number.parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8)
    offset += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error('no PostgreSQL data folder in it')
}

async function holdsAnything(folder: string): Promise<boolean> {
  try {
    return (await fs.readdir(folder)).length > 0
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

main().catch((error: unknown) => {
  const message =
    dataFolderProblem(error, 'backup') ?? (error instanceof ConfigError ? error.message : `failed: ${error instanceof Error ? error.message : String(error)}`)
  process.stderr.write(`restore: ${message}\n`)
  process.exit(1)
})
