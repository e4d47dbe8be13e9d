import t from 'tap'
import { appendAuditEntries } from '../../src/kernel/audit.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { buildTestApp } from '../helpers/app.ts'
import { linkEverything } from './helpers.ts'
import { expectStatus } from '../helpers/expect.ts'

const caseEntry = (over: Record<string, unknown>) => ({
  subject: 'staff-1',
  roles: ['staff'],
  orgUnit: ROOT_ORG_UNIT_ID,
  action: 'getCase',
  route: 'GET /v1/cases/:id',
  resourceType: 'case',
  resourceId: 'case-1',
  outcome: 'allowed' as const,
  status: 200,
  requestId: 'r',
  clientAddress: '127.0.0.1',
  ...over,
})

type Entry = {
  id: number
  subject: string | null
  action: string
  resource_type: string | null
  resource_id: string | null
  outcome: string
  request_id: string
}

t.test('auditors query the trail: filters, time range, cursor pages, oldest or newest first', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await appendAuditEntries(db, [
    caseEntry({ requestId: 'a1' }),
    caseEntry({ requestId: 'a2', action: 'updateCase', route: 'PATCH /v1/cases/:id', subject: 'staff-2' }),
    caseEntry({ requestId: 'a3', outcome: 'denied', status: 404, resourceId: 'case-2', subject: 'staff-2' }),
    caseEntry({ requestId: 'a4', resourceType: 'recording', resourceId: 'rec-1', action: 'getRecording', route: 'GET /v1/recordings/:id' }),
  ])
  await new Promise((r) => setTimeout(r, 20))
  const middle = new Date()
  await new Promise((r) => setTimeout(r, 20))
  const created = await injectAs(
    { roles: ['admin'], sub: 'admin-1' },
    { method: 'POST', url: '/v1/org-units', headers: { 'x-request-id': 'a5' }, payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'x1', name: 'x1' } },
  )
  expectStatus(t, created, 201)
  const refused = await injectAs(
    { roles: ['staff'], sub: 'staff-9' },
    { method: 'POST', url: '/v1/org-units', headers: { 'x-request-id': 'a6' }, payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'x2', name: 'x2' } },
  )
  expectStatus(t, refused, 403)

  const query = async (qs: string, who: Parameters<typeof injectAs>[0] = 'auditor') => {
    const res = await injectAs(who, { method: 'GET', url: `/v1/audit-events?${qs}` })
    expectStatus(t, res, 200, qs)
    return res.json() as { items: Entry[]; next_cursor: string | null }
  }
  const ids = (page: { items: Entry[] }) => page.items.map((e) => e.request_id)

  t.same(ids(await query('limit=200')), ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'], 'everything, oldest first')
  t.same(ids(await query('subject=staff-2')), ['a2', 'a3'], 'by subject')
  t.same(ids(await query('action=updateCase')), ['a2'], 'by action')
  t.same(ids(await query('resource_type=case')), ['a1', 'a2', 'a3'], 'by resource type')
  t.same(ids(await query('resource_type=case&resource_id=case-2')), ['a3'], 'by resource type and id')
  t.same(ids(await query('outcome=denied')), ['a3', 'a6'], 'refusals')
  t.same(ids(await query('outcome=allowed&resource_type=org_unit')), ['a5'], 'combined')
  t.same(ids(await query('request_id=a4')), ['a4'], 'by request id')
  t.same(ids(await query(`to=${middle.toISOString()}`)), ['a1', 'a2', 'a3', 'a4'], 'before an instant')
  t.same(ids(await query(`from=${middle.toISOString()}&outcome=allowed`)).slice(0, 1), ['a5'], 'from an instant')

  // Cursor pages, both ways: each entry once.
  const walk = async (order: string) => {
    const out: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page = await query(`order=${order}&limit=2&resource_type=case${cursor ? `&cursor=${cursor}` : ''}`)
      out.push(...ids(page))
      cursor = page.next_cursor
      pages += 1
    } while (cursor)
    return { out, pages }
  }
  t.same(await walk('oldest'), { out: ['a1', 'a2', 'a3'], pages: 2 })
  t.same(await walk('newest'), { out: ['a3', 'a2', 'a1'], pages: 2 })

  const bad = await injectAs('auditor', { method: 'GET', url: '/v1/audit-events?cursor=nonsense' })
  expectStatus(t, bad, 400)
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/audit-events?outcome=maybe' }), 400)
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/audit-events?from=yesterday' }), 400)

  // Entries carry the chain once linked.
  await linkEverything(db)
  const linked = await query('request_id=a1')
  t.match(linked.items[0], { chain_seq: 1, prev_hash: '0'.repeat(64), hash: /^[0-9a-f]{64}$/ })
})

t.test('who may query: admins only policy and org-unit entries, others not at all; queries are audited', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await appendAuditEntries(db, [caseEntry({ requestId: 'c1' })])
  await injectAs('admin', {
    method: 'POST',
    url: '/v1/org-units',
    headers: { 'x-request-id': 'o1' },
    payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'y', name: 'y' },
  })

  const admin = await injectAs('admin', { method: 'GET', url: '/v1/audit-events?limit=200' })
  expectStatus(t, admin, 200)
  const seen = (admin.json().items as Entry[]).map((e) => e.resource_type)
  t.ok(seen.length > 0 && seen.every((r) => r === 'org_unit' || r === 'policy'), `admins see policy and org-unit entries only (${seen.join(',')})`)
  t.same((await injectAs('admin', { method: 'GET', url: '/v1/audit-events?resource_type=case' })).json().items, [], 'not case entries, even when asked')

  for (const role of ['staff', 'supervisor', 'desk', 'records_manager', 'integration'] as const) {
    expectStatus(t, await injectAs(role, { method: 'GET', url: '/v1/audit-events' }), 403, `${role}: 403`)
  }

  await injectAs(
    { roles: ['auditor'], sub: 'kansa-1' },
    { method: 'GET', url: '/v1/audit-events?subject=staff-1&resource_type=case', headers: { 'x-request-id': 'q1' } },
  )
  const own = await db.selectFrom('audit_events').selectAll().where('request_id', '=', 'q1').executeTakeFirstOrThrow()
  t.match(own, { subject: 'kansa-1', action: 'listAuditEvents', resource_type: 'audit_event', outcome: 'allowed' })
  t.same(
    own.details,
    { filters: { subject: 'staff-1', resource_type: 'case' }, order: 'oldest', count: 1 },
    'the audit of a query records what was searched for and how much was found',
  )
})
