import { sql } from 'kysely'
import t from 'tap'
import { chainHead, countUnlinked } from '../../src/audit/audit.repository.ts'
import type { Trx } from '../../src/kernel/db.ts'
import { verifyChain } from '../../src/audit/chain-verification.ts'
import { GENESIS_HASH, linkAllPendingEntries, linkEntriesRound, linkPendingEntries } from '../../src/kernel/audit-chain.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { buildTestApp } from '../helpers/app.ts'
import { linkEverything } from '../audit/helpers.ts'
import { testDatabaseUrl } from '../helpers/database.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'

t.test('every /v1 request leaves an audit entry; refusals too', async (t) => {
  const { db, injectAs, orgUnit } = await buildTestApp(t)
  const unit = await orgUnit('shimin')

  const created = await injectAs(
    { roles: ['admin'], sub: 'admin-1', unit },
    {
      method: 'POST',
      url: '/v1/org-units',
      headers: { 'x-request-id': 'req-create' },
      payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'kodomo', name: 'こども課' },
    },
  )
  expectStatus(t, created, 201)
  const forbidden = await injectAs(
    { roles: ['staff'], sub: 'staff-1' },
    {
      method: 'POST',
      url: '/v1/org-units',
      headers: { 'x-request-id': 'req-forbidden' },
      payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'x', name: 'x' },
    },
  )
  expectStatus(t, forbidden, 403)
  t.equal(forbidden.json().code, 'forbidden')

  const entries = await db.selectFrom('audit_events').selectAll().orderBy('id').execute()
  const byRequest = Object.fromEntries(entries.map((e) => [e.request_id, e]))
  t.match(byRequest['req-create'], {
    subject: 'admin-1',
    roles: ['admin'],
    org_unit: unit,
    action: 'createOrgUnit',
    route: 'POST /v1/org-units',
    resource_type: 'org_unit',
    resource_id: created.json().id,
    outcome: 'allowed',
    status: 201,
    client_address: '127.0.0.1',
  })
  t.match(byRequest['req-forbidden'], { subject: 'staff-1', action: 'createOrgUnit', outcome: 'denied', status: 403 })
  t.notMatch(JSON.stringify(entries), /こども課/, 'entries hold ids, not the values written')
})

t.test('a request commits all or nothing: a failed write leaves no change and no "allowed" entry', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  const first = await injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'dup', name: 'a' } })
  expectStatus(t, first, 201)
  const again = await injectAs('admin', {
    method: 'POST',
    url: '/v1/org-units',
    headers: { 'x-request-id': 'req-dup' },
    payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'dup', name: 'b' },
  })
  expectStatus(t, again, 409, 'a unique violation is a conflict, not a 500')
  t.equal(again.json().code, 'conflict')
  const units = await db.selectFrom('org_units').select('name').where('code', '=', 'dup').execute()
  t.same(units, [{ name: 'a' }])
  const entries = await db.selectFrom('audit_events').select(['outcome', 'status']).where('request_id', '=', 'req-dup').execute()
  t.same(entries, [{ outcome: 'failed', status: 409 }])
})

t.test('the audit table is append-only in the database itself', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await injectAs('auditor', { method: 'GET', url: '/v1/me' })
  await t.rejects(sql`update audit_events set action = 'x'`.execute(db), /append-only/)
  await t.rejects(sql`delete from audit_events`.execute(db), /append-only/)
  await t.rejects(sql`truncate audit_events`.execute(db), /append-only/)
  await linkAllPendingEntries(db)
  await t.rejects(sql`update audit_events set action = 'x'`.execute(db), /append-only/, 'nor once linked')
  await t.rejects(sql`update audit_chain set hash = 'f00'`.execute(db), /append-only/, 'a link cannot be rewritten')
  await t.rejects(sql`delete from audit_chain`.execute(db), /append-only/)
  await t.rejects(sql`truncate audit_chain`.execute(db), /append-only/)
})

t.test('the hash chain: one line under concurrent writers and linkers; tampering is detected', async (t) => {
  const { db, injectAs } = await buildTestApp(t)

  // 40 requests and 4 linkers at once: the chain must come out linear, gap-free and valid.
  const requests = Array.from({ length: 40 }, (_, i) =>
    injectAs({ roles: ['supervisor'], sub: `u${i}` }, { method: 'GET', url: i % 2 ? '/v1/org-units' : '/v1/me' }),
  )
  const linkers = Array.from({ length: 4 }, () => linkPendingEntries(db))
  await Promise.all([...requests, ...linkers])
  await linkAllPendingEntries(db)

  const chain = await db.selectFrom('audit_chain').select(['seq', 'prev_hash', 'hash']).orderBy('seq').execute()
  t.equal(chain.length, 40)
  t.same(
    chain.map((e) => Number(e.seq)),
    Array.from({ length: 40 }, (_, i) => i + 1),
    'positions 1..n, no gaps, no duplicates',
  )
  t.equal(chain[0]!.prev_hash, GENESIS_HASH)
  expectEvery(t, chain, (e, i) => i === 0 || e.prev_hash === chain[i - 1]!.hash, 'each entry points at the one before: no fork')
  t.match(await verifyChain(db), { checked: 40, first_seq: 1, last_seq: 40, broken: null })
  t.match(await verifyChain(db, { fromSeq: 11, toSeq: 20 }), { checked: 10, first_seq: 11, last_seq: 20, broken: null }, 'a range verifies on its own')

  // An attacker with database rights switches the guard off and edits history.
  const tamper = async (statement: ReturnType<typeof sql>) => {
    await db.connection().execute(async (c) => {
      await sql`set session_replication_role = replica`.execute(c)
      try {
        await statement.execute(c)
      } finally {
        await sql`set session_replication_role = origin`.execute(c)
      }
    })
  }
  const entry17 = sql<number>`(select entry_id from audit_chain where seq = 17)`
  const original = await db.selectFrom('audit_events').select('subject').where('id', '=', entry17).executeTakeFirstOrThrow()
  await tamper(sql`update audit_events set subject = 'someone-else' where id = ${entry17}`)
  t.match(await verifyChain(db), { checked: 16, broken: { chain_seq: 17, reason: 'hash-mismatch' } }, 'an altered entry is found')
  await tamper(sql`update audit_events set subject = ${original.subject} where id = ${entry17}`)
  t.match(await verifyChain(db), { checked: 40, broken: null }, 'restored, the chain verifies again')
  const link21 = await db.selectFrom('audit_chain').select('prev_hash').where('seq', '=', 21).executeTakeFirstOrThrow()
  await tamper(sql`update audit_chain set prev_hash = ${'f'.repeat(64)} where seq = 21`)
  t.match(await verifyChain(db), { checked: 20, broken: { chain_seq: 21, reason: 'prev-hash-mismatch' } }, 'a rewritten link is found')
  await tamper(sql`update audit_chain set prev_hash = ${link21.prev_hash} where seq = 21`)

  await tamper(sql`delete from audit_events where id = (select entry_id from audit_chain where seq = 30)`)
  t.match(await verifyChain(db), { checked: 29, broken: { chain_seq: 30, reason: 'missing-entry' } }, 'a removed entry is found')
  // With the head's entry removed there is no watermark: linking goes on after it, each entry once.
  await tamper(sql`delete from audit_events where id = (select entry_id from audit_chain where seq = 40)`)
  await Promise.all(Array.from({ length: 3 }, () => injectAs('auditor', { method: 'GET', url: '/v1/me' })))
  await linkEverything(db)
  t.equal(await chainHead(db), 43, 'the new entries are linked at 41..43')
  await tamper(sql`delete from audit_chain where seq = 25`)
  t.match(await verifyChain(db), { checked: 24, broken: { chain_seq: 25, reason: 'missing-entry' } }, 'and a removed link')
})

t.test('a round of the background linker works off a backlog batch after batch, not one batch per interval', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await Promise.all(Array.from({ length: 25 }, () => injectAs('auditor', { method: 'GET', url: '/v1/me' })))
  t.equal(await linkEntriesRound(db, { batchSize: 10 }), 25, 'three batches of 10, 10 and 5 in one round')
  t.equal(await countUnlinked(db), 0)
  const stopped = new AbortController()
  stopped.abort()
  await Promise.all(Array.from({ length: 25 }, () => injectAs('auditor', { method: 'GET', url: '/v1/me' })))
  t.equal(await linkEntriesRound(db, { signal: stopped.signal, batchSize: 10 }), 10, 'at shutdown, the round stops after the batch in hand')
  t.match(await verifyChain(db), { checked: 35, broken: null })
})

t.test('a transaction of the linker reads its entries chunk after chunk, each after the last one taken', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await Promise.all(Array.from({ length: 30 }, () => injectAs('auditor', { method: 'GET', url: '/v1/me' })))
  const before = await countUnlinked(db)
  t.equal(await linkPendingEntries(db, 20, 7), 20, 'chunks of 7, 7 and 6 in one transaction')
  t.equal(await countUnlinked(db), before - 20)
  t.equal(await linkPendingEntries(db, 100, 7), before - 20, 'the rest, the last chunk short')
  const order = await sql<{ in_order: boolean }>`
    select bool_and(prev_txid is null or (prev_txid, prev_id) < (txid, id)) as in_order
      from (select e.txid, e.id, lag(e.txid) over w as prev_txid, lag(e.id) over w as prev_id
              from audit_chain c join audit_events e on e.id = c.entry_id window w as (order by c.seq)) links`.execute(db)
  t.equal(order.rows[0]?.in_order, true, 'the chain follows (txid, id) with no entry twice')
  t.match(await verifyChain(db), { checked: before, broken: null })
})

t.test('an entry of a transaction open across a linking round is linked later, in (txid, id) order', async (t) => {
  // Needs two transactions open at once: the embedded database has a single connection.
  if (!testDatabaseUrl) return t.pass('two open transactions', { skip: 'needs PostgreSQL (TEST_DATABASE_URL)' })
  const { db, injectAs } = await buildTestApp(t)
  const write = (trx: Trx, requestId: string) =>
    sql`insert into audit_events (subject, action, route, outcome, status, request_id)
        values ('linker-test', 'test', 'GET /test', 'allowed', 200, ${requestId})`.execute(trx)
  const entry = (requestId: string) =>
    db
      .selectFrom('audit_events')
      .leftJoin('audit_chain', 'audit_chain.entry_id', 'audit_events.id')
      .select(['audit_events.id', 'audit_chain.seq'])
      .where('audit_events.request_id', '=', requestId)
      .executeTakeFirstOrThrow()
  const gate = () => {
    let open!: () => void
    const opened = new Promise<void>((r) => (open = r))
    return { opened, open }
  }
  await linkEverything(db)

  // T-early takes its txid first; T-open then writes an entry (the lower id) and stays open while
  // T-early writes one (the higher id, the lower txid) and commits.
  const earlyHasTxid = gate()
  const openHasWritten = gate()
  const openMayCommit = gate()
  const early = db.transaction().execute(async (trx) => {
    await sql`select pg_current_xact_id()`.execute(trx)
    earlyHasTxid.open()
    await openHasWritten.opened
    await write(trx, 'early-entry')
  })
  await earlyHasTxid.opened
  const open = db.transaction().execute(async (trx) => {
    await write(trx, 'open-entry')
    openHasWritten.open()
    await openMayCommit.opened
  })
  try {
    await early
    await linkEverything(db)
    t.ok((await entry('early-entry')).seq, 'the committed entry is linked: it is the head')
    expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/me', headers: { 'x-request-id': 'later-entry' } }), 200)
    await linkAllPendingEntries(db)
    t.equal(await countUnlinked(db), 1, 'an entry committed after the open transaction began waits for it')
  } finally {
    openMayCommit.open()
    await open
  }
  await linkEverything(db)
  const [earlyEntry, openEntry, laterEntry] = [await entry('early-entry'), await entry('open-entry'), await entry('later-entry')]
  t.ok(openEntry.id < earlyEntry.id, 'the open transaction wrote the lower id')
  t.same(
    [Number(openEntry.seq), Number(laterEntry.seq)],
    [Number(earlyEntry.seq) + 1, Number(earlyEntry.seq) + 2],
    'linked after the head it sorts after in (txid, id) order, then the entry that waited for it',
  )
  t.match(await verifyChain(db), { broken: null, checked: Number(laterEntry.seq) })
})
