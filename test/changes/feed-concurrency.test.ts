import { sql } from 'kysely'
import t from 'tap'
import { publishChanges } from '../../src/kernel/outbox.ts'
import { sequencePendingChanges } from '../../src/kernel/sequencer.ts'
import { startTestServer } from '../helpers/app.ts'
import { expectEvery } from '../helpers/expect.ts'

/**
 * The feed under load: 8 writers commit 2,000 changes in transactions that interleave and
 * commit out of id order (each sleeps between its writes), and some of them bump one shared
 * record under its row lock. A consumer follows the feed over HTTP from the start while they
 * write, and a second sequencer competes as another instance would. The consumer must see every
 * change exactly once, at consecutive positions, and the shared record's versions in order.
 */
const WRITERS = 8
const TOTAL = 2000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('8 concurrent writers, 2,000 changes: a consumer sees each once, none missing, in order', async (t) => {
  const server = await startTestServer(t)
  const { db } = server
  await sql`create table feed_test_records (id text primary key, version integer not null)`.execute(db)
  await sql`insert into feed_test_records values ('shared', 0)`.execute(db)

  const published = new Set<string>()
  let sharedBumps = 0
  const writer = async (w: number) => {
    let n = 0
    while (n < TOTAL / WRITERS) {
      const size = Math.min(1 + Math.floor(Math.random() * 5), TOTAL / WRITERS - n)
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < size; i++) {
          const id = `w${w}-${n + i}`
          // Every seventh change of a writer is a new version of the shared record, made under its row lock.
          if ((n + i) % 7 === 3) {
            const bumped = await sql<{ version: number }>`update feed_test_records set version = version + 1 where id = 'shared' returning version`.execute(trx)
            await publishChanges(trx, [
              { kind: 'case.updated', resourceType: 'case', resourceId: id, orgUnitId: null, data: { shared_version: bumped.rows[0]!.version } },
            ])
          } else {
            await publishChanges(trx, [{ kind: 'case.created', resourceType: 'case', resourceId: id, orgUnitId: null }])
          }
          await sleep(Math.random() * 4)
        }
      })
      for (let i = 0; i < size; i++) published.add(`w${w}-${n + i}`)
      sharedBumps += [...Array(size).keys()].filter((i) => (n + i) % 7 === 3).length
      n += size
    }
  }

  let writing = true
  // Another instance's sequencer, competing for the same work.
  const rival = (async () => {
    while (writing) {
      await sequencePendingChanges(db)
      await sleep(Math.random() * 20)
    }
  })()

  const auditor = await server.client('auditor')
  const seen: Array<{ position: number; resource_id: string; data: Record<string, unknown> }> = []
  const consumer = (async () => {
    let after = 0
    // Follow the feed until every change has been seen (and a little beyond, to catch repeats).
    for (let idle = 0; idle < 3; ) {
      const { data, response } = await auditor.GET('/v1/changes', { params: { query: { after, limit: 137, wait: 1 } } })
      if (response.status !== 200 || !data) throw new Error(`feed answered ${response.status}`)
      seen.push(...data.items)
      after = data.next_after
      if (!writing && data.items.length === 0) idle += 1
    }
  })()

  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)))
  writing = false
  await rival
  await consumer

  t.equal(published.size, TOTAL, `${TOTAL} changes committed`)
  t.equal(seen.length, TOTAL, 'the consumer saw as many changes as were committed')
  t.same(
    seen.map((c) => c.position),
    Array.from({ length: TOTAL }, (_, i) => i + 1),
    'positions 1..2000, consecutive: nothing missing, nothing repeated',
  )
  t.equal(new Set(seen.map((c) => c.resource_id)).size, TOTAL, 'every change once')
  expectEvery(t, seen, (c) => published.has(c.resource_id), 'only committed changes')

  const versions = seen.filter((c) => c.data.shared_version !== undefined).map((c) => c.data.shared_version as number)
  t.equal(versions.length, sharedBumps)
  t.same(
    versions,
    Array.from({ length: sharedBumps }, (_, i) => i + 1),
    "the shared record's versions arrive in order, none before its predecessor",
  )

  // The point of the exercise: transactions committed out of id order, and a reader that
  // followed ids (or txids) would have had to cope with that.
  const rows = await db.selectFrom('changes').select(['id', 'position', 'txid']).orderBy('position').execute()
  const idInversions = rows.filter((r, i) => i > 0 && r.id < rows[i - 1]!.id).length
  const txidInversions = rows.filter((r, i) => i > 0 && BigInt(r.txid) < BigInt(rows[i - 1]!.txid)).length
  t.comment(`commit order differed from id order ${idInversions} times, from txid order ${txidInversions} times`)
  if (server.database.url !== null) t.ok(idInversions > 0, 'on PostgreSQL, commits really came out of id order')
})
