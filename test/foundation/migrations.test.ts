import crypto from 'node:crypto'
import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { connectPostgres, openEmbedded } from '../../src/kernel/db.ts'
import { migrateToLatest, pendingMigrations } from '../../src/kernel/migrations.ts'
import { testDatabaseUrl } from '../helpers/database.ts'

t.test('two instances migrating one fresh PostgreSQL at once apply each migration once', { skip: !testDatabaseUrl && 'needs TEST_DATABASE_URL' }, async (t) => {
  const name = `madoguchi_mig_${crypto.randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: testDatabaseUrl })
  await admin.connect()
  await admin.query(`create database "${name}"`)
  const url = new URL(testDatabaseUrl!)
  url.pathname = `/${name}`
  const a = connectPostgres(url.toString(), 2)
  const b = connectPostgres(url.toString(), 2)
  t.teardown(async () => {
    await a.close()
    await b.close()
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.end()
  })

  const [appliedA, appliedB] = await Promise.all([migrateToLatest(a), migrateToLatest(b)])
  const applied = [...appliedA, ...appliedB]
  t.equal(new Set(applied).size, applied.length, 'no migration applied twice')
  t.same(await pendingMigrations(a), [], 'nothing left pending')
  const rows = await sql<{ n: number }>`select count(*)::int as n from org_units`.execute(a.db)
  t.equal(rows.rows[0]!.n, 1, 'seed rows inserted once')
})

t.test('the embedded database takes the same migrations', async (t) => {
  const handle = await openEmbedded('memory://')
  t.teardown(() => handle.close())
  t.ok((await pendingMigrations(handle)).length > 0, 'a new database has pending migrations')
  const applied = await migrateToLatest(handle)
  t.ok(applied.length > 0)
  t.same(await migrateToLatest(handle), [], 'a second run applies nothing')
  t.same(await pendingMigrations(handle), [])
})
