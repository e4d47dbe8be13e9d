import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { appendAuditEntries } from '../../src/kernel/audit.ts'
import { canonicalJson } from '../../src/kernel/canonical-json.ts'
import type { Db } from '../../src/kernel/db.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { buildTestApp } from '../helpers/app.ts'
import { entryAt, linkEverything, readmeScript, tamper } from './helpers.ts'
import { expectStatus } from '../helpers/expect.ts'
import { parseCsv } from '../helpers/csv.ts'

const entry = (i: number) => ({
  subject: `staff-${i % 3}`,
  roles: ['staff'],
  orgUnit: ROOT_ORG_UNIT_ID,
  action: i % 2 ? 'getCase' : 'updateCase',
  route: 'GET /v1/cases/:id',
  resourceType: 'case',
  resourceId: i === 7 ? '=HYPERLINK("http://evil")' : `case-${i}`,
  outcome: 'allowed' as const,
  status: 200,
  requestId: `seed-${i}`,
  clientAddress: '127.0.0.1',
  details: { count: i, note_ja: '一覧', nested: { b: 1, a: [2, 1] } },
})

async function seed(db: Db, n: number): Promise<void> {
  await appendAuditEntries(
    db,
    Array.from({ length: n }, (_, i) => entry(i + 1)),
  )
  await linkEverything(db)
}

async function runScript(
  t: { teardown(fn: () => unknown): void },
  marker: string,
  interpreter: string,
  ext: string,
  exportText: string,
  previousHash?: string,
) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-export-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const script = path.join(dir, `verify.${ext}`)
  const file = path.join(dir, 'export.ndjson')
  await fs.writeFile(script, await readmeScript(marker))
  await fs.writeFile(file, exportText)
  return spawnSync(interpreter, [script, file, ...(previousHash ? [previousHash] : [])], { encoding: 'utf8', timeout: 30_000 })
}

const hasPython = spawnSync('python3', ['--version']).status === 0

t.test('verify walks the chain: a range, an altered entry, a deleted entry; only auditors; audited', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await seed(db, 30)
  const verify = async (qs = '') => {
    const res = await injectAs({ roles: ['auditor'], sub: 'kansa' }, { method: 'GET', url: `/v1/audit-events/verify${qs}` })
    expectStatus(t, res, 200)
    return res.json()
  }

  const whole = await verify()
  t.match(whole, { valid: true, from_seq: 1, checked: 30, first_seq: 1, broken: null, last_hash: /^[0-9a-f]{64}$/ })
  t.ok(whole.to_seq >= 30, 'to the head of the chain (the verification requests themselves are in it too)')
  t.match(
    await verify('?from=11&to=20'),
    { valid: true, from_seq: 11, to_seq: 20, checked: 10, first_seq: 11, last_seq: 20 },
    'a range of positions on its own',
  )

  // Instants map to positions (the smallest run holding every entry in [from, to)).
  const at = await db
    .selectFrom('audit_events')
    .innerJoin('audit_chain', 'audit_chain.entry_id', 'audit_events.id')
    .select(['audit_chain.seq', 'audit_events.occurred_at'])
    .where('request_id', 'in', ['seed-1', 'seed-30'])
    .orderBy('audit_chain.seq')
    .execute()
  const byTime = await verify(`?from=${at[0]!.occurred_at.toISOString()}&to=${new Date(at[1]!.occurred_at.getTime() + 1).toISOString()}`)
  t.match(byTime, { valid: true, from_seq: 1, to_seq: 30, checked: 30 })
  t.match(await verify('?from=2999-01-01T00:00:00Z'), { valid: true, checked: 0 }, 'an empty range')
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/verify?from=0' }), 400)

  const original = await db.selectFrom('audit_events').select('subject').where('id', '=', entryAt(17)).executeTakeFirstOrThrow()
  await tamper(db, sql`update audit_events set subject = 'someone-else' where id = ${entryAt(17)}`)
  t.match(
    await verify('?to=30'),
    { valid: false, checked: 16, last_seq: 16, broken: { chain_seq: 17, reason: 'hash-mismatch' } },
    'an entry altered by SQL is found',
  )
  t.match(await verify('?from=18&to=30'), { valid: true, checked: 13 }, 'a range after it still verifies on its own')
  await tamper(db, sql`update audit_events set subject = ${original.subject} where id = ${entryAt(17)}`)

  await tamper(db, sql`delete from audit_events where id = ${entryAt(23)}`)
  t.match(await verify('?to=30'), { valid: false, checked: 22, broken: { chain_seq: 23, reason: 'missing-entry' } }, 'a deleted entry is found')
  t.match(await verify('?from=23&to=30'), { valid: false, checked: 0, broken: { chain_seq: 23, reason: 'missing-entry' } }, 'also when the range starts at it')
  await tamper(db, sql`delete from audit_events where id = ${entryAt(30)}`)
  t.match(
    await verify('?from=25&to=30'),
    { valid: false, checked: 5, broken: { chain_seq: 30, reason: 'missing-entry' } },
    'and at the end of an explicit range',
  )

  expectStatus(t, await injectAs('admin', { method: 'GET', url: '/v1/audit-events/verify' }), 403, 'admins may not')
  expectStatus(t, await injectAs('staff', { method: 'GET', url: '/v1/audit-events/verify' }), 403)
  const audited = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('action', '=', 'verifyAuditChain')
    .where('subject', '=', 'kansa')
    .orderBy('id')
    .execute()
  t.ok(audited.length >= 8, 'every verification is itself audited')
  t.match(
    audited.find((e) => (e.details as { valid?: boolean }).valid === false),
    { outcome: 'allowed', details: { checked: 16, valid: false } },
  )
})

t.test('export: NDJSON with the chain hashes, verified offline by the scripts in docs/audit.md; tampering shows', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await seed(db, 25)
  // Real requests in the chain too (roles, details, nulls).
  await injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'z', name: 'z' } })
  await injectAs('staff', { method: 'GET', url: '/v1/audit-events' })
  await linkEverything(db)

  const res = await injectAs(
    { roles: ['auditor'], sub: 'kansa' },
    { method: 'GET', url: '/v1/audit-events/export', headers: { accept: 'application/x-ndjson' } },
  )
  expectStatus(t, res, 200)
  t.match(res.headers['content-type'], /^application\/x-ndjson/)
  const lines = res.body.trim().split('\n')
  t.ok(lines.length >= 27, `${lines.length} entries exported`)
  const first = JSON.parse(lines[0]!)
  t.same(Object.keys(first).sort(), [
    'action',
    'client_address',
    'details',
    'hash',
    'id',
    'occurred_at',
    'org_unit',
    'outcome',
    'prev_hash',
    'request_id',
    'resource_id',
    'resource_type',
    'roles',
    'route',
    'seq',
    'status',
    'subject',
  ])
  t.equal(res.headers['madoguchi-chain-from'], '1')

  const node = await runScript(t, 'verify-script:node', process.execPath, 'mjs', res.body)
  t.equal(node.status, 0, `node script: ${node.stderr}`)
  t.match(node.stdout, new RegExp(`^${lines.length} entries verified; last hash [0-9a-f]{64}`))
  if (hasPython) {
    const python = await runScript(t, 'verify-script:python', 'python3', 'py', res.body)
    t.equal(python.status, 0, `python script: ${python.stderr}`)
    t.equal(python.stdout, node.stdout, 'both scripts agree')
  } else {
    t.comment('python3 not installed: the Python script was not run')
  }

  // A range continues from the previous export's last hash.
  const part1 = await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export?from=1&to=10' })
  const part2 = await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export?from=11&to=20' })
  t.equal(part1.body.trim().split('\n').length, 10)
  const lastOfPart1 = JSON.parse(part1.body.trim().split('\n')[9]!).hash as string
  t.equal((await runScript(t, 'verify-script:node', process.execPath, 'mjs', part2.body, lastOfPart1)).status, 0, 'part 2 links to part 1')
  t.not((await runScript(t, 'verify-script:node', process.execPath, 'mjs', part2.body, '0'.repeat(64))).status, 0, 'but not to anything else')

  // Altered lines, removed lines and altered database rows fail the script.
  const altered = res.body.replace('"subject":"staff-1"', '"subject":"staff-2"')
  const broken = await runScript(t, 'verify-script:node', process.execPath, 'mjs', altered)
  t.not(broken.status, 0, 'an altered line fails')
  t.match(broken.stderr, /altered/)
  const removed = lines.filter((_, i) => i !== 5).join('\n')
  t.match((await runScript(t, 'verify-script:node', process.execPath, 'mjs', removed)).stderr, /broken link/, 'a removed line fails')
  await tamper(db, sql`update audit_events set details = '{"count": 99}' where id = ${entryAt(4)}`)
  const afterTamper = await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export?to=10' })
  t.match(
    (await runScript(t, 'verify-script:node', process.execPath, 'mjs', afterTamper.body)).stderr,
    /entry 4 was altered/,
    'an entry altered in the database fails',
  )
  if (hasPython) t.match((await runScript(t, 'verify-script:python', 'python3', 'py', afterTamper.body)).stderr, /entry 4 was altered/)

  const exports = await db.selectFrom('audit_events').selectAll().where('action', '=', 'exportAuditChain').where('subject', '=', 'kansa').execute()
  t.match(exports, [{ outcome: 'allowed', status: 200, details: { from_seq: 1, format: 'ndjson' } }], 'the export is audited')
})

t.test('export as CSV: a readable copy plus the exact hashed content; Accept negotiation', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await seed(db, 12)
  const res = await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export?to=12', headers: { accept: 'text/csv' } })
  expectStatus(t, res, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  const rows = parseCsv(res.body)
  t.same(rows[0], [
    'seq',
    'id',
    'occurred_at',
    'subject',
    'roles',
    'org_unit',
    'action',
    'route',
    'resource_type',
    'resource_id',
    'outcome',
    'status',
    'request_id',
    'client_address',
    'details',
    'prev_hash',
    'hash',
    'content',
  ])
  t.equal(rows.length, 13)
  let prev = '0'.repeat(64)
  for (const row of rows.slice(1)) {
    const [seq, , , , , , , , , resourceId, , , , , , prevHash, hash, content] = row as string[]
    t.equal(prevHash, prev, `seq ${seq} links`)
    const recomputed = (await import('node:crypto')).createHash('sha256').update(`${prevHash}\n${content}`).digest('hex')
    t.equal(recomputed, hash, `seq ${seq}: content hashes to its hash`)
    const parsed = JSON.parse(content!)
    t.equal(canonicalJson(parsed), content, 'content is canonical JSON')
    t.equal(String(parsed.seq), seq)
    if (parsed.resource_id.startsWith('=')) t.equal(resourceId, `'${parsed.resource_id}`, 'a formula-like cell is defused in the readable columns only')
    prev = hash!
  }

  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export', headers: { accept: 'application/xml' } }), 406)
  t.match(
    (await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export', headers: { accept: 'text/csv;q=0.5, application/x-ndjson' } })).headers[
      'content-type'
    ],
    /ndjson/,
  )
  t.match((await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export', headers: { accept: '*/*' } })).headers['content-type'], /ndjson/)
  expectStatus(t, await injectAs('admin', { method: 'GET', url: '/v1/audit-events/export' }), 403)
})
