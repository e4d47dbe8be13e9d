import t from 'tap'
import { sql } from 'kysely'
import { StatementNames } from '../../src/kernel/db.js'
import { buildTestApp } from '../helpers/app.js'
import { expectEvery, expectStatus } from '../helpers/expect.js'
import { caseBody } from '../helpers/fixtures.js'
import { testDatabaseUrl } from '../helpers/database.js'

/**
 * On PostgreSQL the statements the service sends again and again run as named (prepared)
 * statements: parsed and planned once per connection (db.ts, StatementNames).
 */

t.test('a text is named from its third sighting on, keeps its name, and names are bounded', async (t) => {
  const names = new StatementNames(3, 2)
  t.same([names.nameOf('select 1'), names.nameOf('select 1')], [undefined, undefined], 'not before it has come back')
  const first = names.nameOf('select 1')
  t.ok(first)
  t.equal(names.nameOf('select 1'), first, 'the same text keeps its name')
  for (let i = 0; i < 3; i++) names.nameOf('select 2')
  const second = names.nameOf('select 2')
  t.ok(second)
  t.not(second, first, 'another text, another name')
  for (let i = 0; i < 5; i++) t.equal(names.nameOf('select 3'), undefined, 'past the bound, texts run unnamed')
  t.equal(names.nameOf('select 1'), first, 'named ones keep their names')
})

t.test('hot statements are prepared on the connection and answer as before', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const created = await injectAs('supervisor', {
    method: 'POST',
    url: '/v1/cases',
    payload: caseBody({ occurred_at: new Date(Date.now() - 3600_000).toISOString() }),
  })
  expectStatus(t, created, 201)
  const id = created.json().id as string
  // One after the other: the pool hands the same idle connection back each time.
  const reads: Array<Awaited<ReturnType<typeof injectAs>>> = []
  for (let i = 0; i < 6; i++) reads.push(await injectAs('supervisor', { method: 'GET', url: `/v1/cases/${id}` }))
  expectEvery(t, reads, (r) => r.statusCode === 200 && r.json().id === id && r.body === reads[0]!.body, 'every read answers the same')

  const prepared = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(db)
  const caseRead = prepared.rows.find((p) => p.name.startsWith('madoguchi_') && p.statement.includes('from "cases"'))
  if (!testDatabaseUrl) {
    t.equal(caseRead, undefined, 'the embedded database runs every statement as it comes')
    return
  }
  t.ok(caseRead, 'the case read is a named statement on the connection')
})
