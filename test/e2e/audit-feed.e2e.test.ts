import t from 'tap'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { linkEverything } from '../audit/helpers.ts'
import { startTestServer, tokenFor } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { databaseIndependent } from '../helpers/database.ts'

// Auditors, integrating systems and administrators through the SDK generated from the contract.
t.test('audit queries, verification, export, history, the change feed and webhooks through the generated client', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const admin = await server.client({ roles: ['admin'], sub: 'admin-e2e' })
  const auditor = await server.client({ roles: ['auditor'], sub: 'kansa-e2e' })

  const unit = await admin.POST('/v1/org-units', { body: { parent_id: ROOT_ORG_UNIT_ID, code: 'kikaku', name: '企画課' } })
  expectStatus(t, unit, 201)
  const unitId = unit.data!.id

  // An integration client of the new unit follows the feed.
  const integration = await server.client({ roles: ['integration'], sub: 'kikan-system', unit: unitId })
  const feed = await integration.GET('/v1/changes', { params: { query: { after: 0, limit: 10 } } })
  expectStatus(t, feed, 200)
  t.match(feed.data, { items: [{ position: 1, kind: 'org_unit.created', resource_id: unitId }], next_after: 1, head: 1 })
  const waitStarted = Date.now()
  const idle = await integration.GET('/v1/changes', { params: { query: { after: feed.data!.next_after, wait: 1 } } })
  t.same(idle.data?.items, [], 'a long poll with nothing new answers empty when the wait is over')
  t.ok(Date.now() - waitStarted >= 900, 'after waiting')
  const forbidden = await admin.GET('/v1/changes')
  t.equal(forbidden.error?.code, 'forbidden')

  const entries = await auditor.GET('/v1/audit-events', { params: { query: { action: 'createOrgUnit', outcome: 'allowed' } } })
  t.match(entries.data?.items, [{ subject: 'admin-e2e', resource_type: 'org_unit', resource_id: unitId, status: 201 }])

  await linkEverything(server.db)
  const verified = await auditor.GET('/v1/audit-events/verify')
  t.match(verified.data, { valid: true, from_seq: 1, broken: null })
  t.ok((verified.data?.checked ?? 0) >= 4, `${verified.data?.checked} entries checked`)

  const history = await auditor.GET('/v1/records/{type}/{id}/history', { params: { path: { type: 'org_unit', id: unitId } } })
  t.same(
    history.data?.items.map((i) => i.source),
    ['change', 'audit'],
  )

  // NDJSON is a stream, not one JSON document: fetch it directly.
  const exported = await fetch(`${server.baseUrl}/v1/audit-events/export?to=${verified.data!.to_seq}`, {
    headers: { authorization: `Bearer ${await tokenFor('auditor')}`, accept: 'application/x-ndjson' },
  })
  expectStatus(t, exported, 200)
  const lines = (await exported.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { seq: number; hash: string })
  t.equal(lines.length, verified.data!.to_seq)
  t.equal(lines[lines.length - 1]!.hash, verified.data!.last_hash, 'the export ends on the hash verification reported')

  const hook = await admin.POST('/v1/webhooks', { body: { url: 'https://hooks.example.lg.jp/madoguchi', kinds: ['case.*', 'recording.disposed'] } })
  expectStatus(t, hook, 201)
  t.match(hook.data?.secret, /^whsec_/)
  const read = await admin.GET('/v1/webhooks/{id}', { params: { path: { id: hook.data!.id } } })
  t.match(read.data, { id: hook.data!.id, kinds: ['case.*', 'recording.disposed'], active: true })
  t.notOk(read.data && 'secret' in read.data)
  const deliveries = await admin.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: hook.data!.id } } })
  t.same(deliveries.data, { items: [], next_cursor: null })
})
