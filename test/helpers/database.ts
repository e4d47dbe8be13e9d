import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { connectPostgres, openEmbedded, type DatabaseHandle } from '../../src/kernel/db.ts'
import { migrateToLatest } from '../../src/kernel/migrations.ts'

/**
 * Test databases: one per test file, copied from a template that has every migration applied.
 * PostgreSQL when TEST_DATABASE_URL is set (CREATE DATABASE … TEMPLATE), else the embedded
 * database loaded from a snapshot. The template is named after the migrations' content, so a
 * changed migration gets a fresh one and an unchanged set is reused across runs.
 */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined

/**
 * CI runs the suite twice, on PostgreSQL and on the embedded database. Tests whose subject does
 * not depend on the database (the contract document, the SDK over a real port, a browser, a
 * service that always starts on its own embedded folder) need only one of the two: with
 * TEST_DATABASE_INDEPENDENT=skip (what .ci/run sets for its embedded run) they are skipped
 * there. Without it, as by default, every test runs.
 */
export const databaseIndependent: string | false =
  !testDatabaseUrl && process.env.TEST_DATABASE_INDEPENDENT === 'skip' ? 'independent of the database: runs in the PostgreSQL run' : false

async function migrationsHash(): Promise<string> {
  const hash = crypto.createHash('sha256')
  for (const name of (await fs.readdir(MIGRATIONS_DIR)).filter((n) => n.endsWith('.sql')).sort()) {
    hash.update(name)
    hash.update(await fs.readFile(path.join(MIGRATIONS_DIR, name)))
  }
  return hash.digest('hex').slice(0, 12)
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

const templateName = async () => `madoguchi_tpl_${await migrationsHash()}`
const snapshotFile = async () => path.join(os.tmpdir(), 'madoguchi-test', `template-${await migrationsHash()}.tar.gz`)

/** Creates the template once per migration set (run before the test files). */
export async function prepareTemplate(): Promise<void> {
  if (testDatabaseUrl) {
    const name = await templateName()
    const exists = await admin(testDatabaseUrl, async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1)
    if (exists) return
    const building = `${name}_building_${process.pid}`
    await admin(testDatabaseUrl, (c) => c.query(`create database "${building}"`))
    const handle = connectPostgres(withDatabase(testDatabaseUrl, building), 2)
    await migrateToLatest(handle)
    await handle.close()
    // Renaming makes the finished template appear at once, even with concurrent runs.
    await admin(testDatabaseUrl, async (c) => {
      try {
        await c.query(`alter database "${building}" rename to "${name}"`)
      } catch {
        await c.query(`drop database if exists "${building}"`)
      }
    })
    return
  }
  await prepareSnapshot()
}

/** The migrated embedded template as a data-folder dump (made once per migration set). */
async function prepareSnapshot(): Promise<string> {
  const file = await snapshotFile()
  if (
    await fs.stat(file).then(
      () => true,
      () => false,
    )
  )
    return file
  const handle = await openEmbedded('memory://')
  await migrateToLatest(handle)
  const dump = await handle.pglite!.dumpDataDir('gzip')
  await handle.close()
  await fs.mkdir(path.dirname(file), { recursive: true })
  const temporary = `${file}.${process.pid}`
  await fs.writeFile(temporary, Buffer.from(await dump.arrayBuffer()))
  await fs.rename(temporary, file)
  return file
}

/**
 * A DATA_DIR whose embedded database (DATA_DIR/pgdata) is a copy of the migrated template, for
 * tests that start the service or a command as a process: it opens in a second instead of
 * creating and migrating a database.
 */
export async function createEmbeddedDataDir(dataDir: string): Promise<void> {
  const snapshot = await fs.readFile(await prepareSnapshot())
  const handle = await openEmbedded(path.join(dataDir, 'pgdata'), { loadDataDir: new Blob([snapshot]) })
  await handle.close()
}

export interface TestDatabase {
  handle: DatabaseHandle
  /** A connection string for this test's database (PostgreSQL only). */
  url: string | null
  drop(): Promise<void>
}

/**
 * Dropping a database makes PostgreSQL write a checkpoint, which waits for every page the other
 * test files have dirtied: a drop per test cost seconds on a busy machine. Under tap (TAP=1, the
 * runner is the parent process) a test database is named after the run and dropped when the run
 * ends, by the `after` script (test/helpers/drop-run-databases.ts); run alone, a test drops its own.
 */
const runPrefix = process.env.TAP === '1' ? `madoguchi_t_r${process.ppid}_` : null

/** Drops the databases of this tap run, and those of runs that died before they could. */
export async function dropRunDatabases(): Promise<void> {
  if (!testDatabaseUrl) return
  await admin(testDatabaseUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>("select datname from pg_database where datname like 'madoguchi\\_t\\_r%'")
    for (const { datname } of rows) {
      const runner = Number(/^madoguchi_t_r(\d+)_/.exec(datname)?.[1])
      if (runner !== process.ppid && processAlive(runner)) continue
      await c.query(`drop database if exists "${datname}" with (force)`)
    }
  })
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  await prepareTemplate()
  if (testDatabaseUrl) {
    const name = `${runPrefix ?? 'madoguchi_t_'}${process.pid}_${crypto.randomBytes(4).toString('hex')}`
    await admin(testDatabaseUrl, async (c) => {
      await c.query(`create database "${name}" template "${await templateName()}"`)
      // A test database is thrown away: its commits need not wait for the disk, which keeps the
      // suite's time on the machine's CPU rather than on fsync (the server's durability is not
      // what these tests check, and production settings are untouched).
      await c.query(`alter database "${name}" set synchronous_commit = off`)
    })
    const url = withDatabase(testDatabaseUrl, name)
    const handle = connectPostgres(url, 10)
    return {
      handle,
      url,
      drop: async () => {
        await handle.close().catch(() => {})
        // Under tap the run's `after` script drops its databases at the end (dropRunDatabases).
        if (!runPrefix) await admin(testDatabaseUrl!, (c) => c.query(`drop database if exists "${name}" with (force)`))
      },
    }
  }
  const snapshot = await fs.readFile(await snapshotFile())
  const handle = await openEmbedded('memory://', { loadDataDir: new Blob([snapshot]) })
  return { handle, url: null, drop: () => handle.close().catch(() => {}) }
}
