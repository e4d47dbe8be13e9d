import t from 'tap'
import { appendAuditEntries } from '../../src/kernel/audit.ts'
import { verifyChain } from '../../src/audit/chain-verification.ts'
import { canonicalContent, chainContent, chainHash, entryHash, GENESIS_HASH, type ChainedColumns } from '../../src/kernel/audit-chain.ts'
import { canonicalJson } from '../../src/kernel/canonical-json.ts'
import { buildTestApp } from '../helpers/app.ts'
import { linkEverything } from './helpers.ts'

// Strings that JSON escapes, or that differ between encoders when they get it wrong.
const TRICKY = [
  '',
  'plain',
  'quote " and \\ backslash',
  'tab\tnew\nline\r',
  'ctrl \u0001\u001f\u007f',
  '日本語 カスハラ',
  'emoji 😀',
  'sep \u2028\u2029',
  '</script>',
  '=1+1',
]
const pick = <T>(items: readonly T[], i: number): T => items[i % items.length]!

function details(i: number): Record<string, unknown> {
  return {
    count: i,
    negative: -i,
    ratio: i / 7,
    big: 2 ** 40 + i,
    flag: i % 2 === 0,
    none: null,
    [pick(TRICKY, i + 3) || 'k']: pick(TRICKY, i),
    nested: { z: [3, { b: pick(TRICKY, i + 1), a: [] }], a: { y: 1, x: [null, true] } },
    ids: [`id-${i}`, pick(TRICKY, i + 2)],
  }
}

function row(i: number): ChainedColumns {
  return {
    id: i,
    occurred_at: new Date(Date.UTC(2026, 0, 1) + i * 1234567),
    subject: i % 5 === 0 ? null : pick(TRICKY, i),
    roles: i % 3 === 0 ? [] : ['staff', pick(TRICKY, i + 4)],
    org_unit: i % 4 === 0 ? null : '00000000-0000-7000-8000-000000000001',
    action: 'getCase',
    route: 'GET /v1/cases/:id',
    resource_type: i % 6 === 0 ? null : 'case',
    resource_id: i % 6 === 0 ? null : pick(TRICKY, i + 5),
    outcome: pick(['allowed', 'denied', 'failed'] as const, i),
    status: pick([200, 201, 403, 404, 422], i),
    request_id: `req-${i}`,
    client_address: i % 7 === 0 ? null : '192.0.2.1',
    details: details(i),
  }
}

t.test('the fast serialisation is the documented recipe, byte for byte', async (t) => {
  for (let i = 0; i < 500; i++) {
    const r = row(i)
    const reference = canonicalJson(chainContent(r, i + 1))
    if (canonicalContent(r, i + 1) !== reference) t.fail(`row ${i}: ${canonicalContent(r, i + 1)} !== ${reference}`)
    if (entryHash(GENESIS_HASH, r, i + 1) !== chainHash(GENESIS_HASH, chainContent(r, i + 1))) t.fail(`row ${i}: hashes differ`)
  }
  t.pass('500 rows with nulls, escapes, unicode and nested details agree')
  t.equal(
    canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }),
    '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    'keys sorted at every level, arrays kept in order',
  )
})

t.test('entries with awkward values link, travel through the database and verify', async (t) => {
  const { db } = await buildTestApp(t)
  await appendAuditEntries(
    db,
    Array.from({ length: 60 }, (_, i) => {
      const r = row(i)
      return {
        subject: r.subject,
        roles: r.roles,
        orgUnit: r.org_unit,
        action: r.action,
        route: r.route,
        resourceType: r.resource_type,
        resourceId: r.resource_id,
        outcome: r.outcome,
        status: r.status,
        requestId: r.request_id,
        clientAddress: r.client_address,
        details: r.details,
      }
    }),
  )
  await linkEverything(db)
  t.match(await verifyChain(db, {}, 7), { checked: 60, broken: null }, 'in pages of 7')
  // And the stored hashes are the documented recipe over the stored values.
  const stored = await db
    .selectFrom('audit_chain')
    .innerJoin('audit_events', 'audit_events.id', 'audit_chain.entry_id')
    .selectAll('audit_events')
    .select(['audit_chain.seq', 'audit_chain.hash'])
    .orderBy('audit_chain.seq')
    .execute()
  let prev = GENESIS_HASH
  for (const e of stored) {
    if (chainHash(prev, chainContent(e, Number(e.seq))) !== e.hash) t.fail(`entry ${e.seq}`)
    prev = e.hash
  }
  t.pass('recomputed with chainHash(chainContent(…)) from rows read the ordinary way')
})
