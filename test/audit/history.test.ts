import t from 'tap'
import { appendAuditEntries } from '../../src/kernel/audit.ts'
import { publishChanges } from '../../src/kernel/outbox.ts'
import { sequenceAllPendingChanges } from '../../src/kernel/sequencer.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const access = (over: Record<string, unknown>) => ({
  subject: 'staff-1',
  roles: ['staff'],
  orgUnit: ROOT_ORG_UNIT_ID,
  action: 'getCase',
  route: 'GET /v1/cases/:id',
  resourceType: 'case',
  resourceId: 'case-A',
  outcome: 'allowed' as const,
  status: 200,
  requestId: 'r',
  clientAddress: '127.0.0.1',
  ...over,
})

type Item = {
  source: 'audit' | 'change'
  occurred_at: string
  audit: { request_id: string; outcome: string } | null
  change: { kind: string; position: number | null; data: Record<string, unknown> } | null
}
const label = (i: Item) => (i.source === 'audit' ? `audit:${i.audit!.request_id}` : `change:${i.change!.kind}`)

t.test("a case's chain of custody: every access and change, in order, across pages", async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  // The requests and the changes a case's life leaves behind (the case routes live elsewhere;
  // here they are written the way those routes write them).
  await db.transaction().execute(async (trx) => {
    await publishChanges(trx, [{ kind: 'case.created', resourceType: 'case', resourceId: 'case-A', orgUnitId: ROOT_ORG_UNIT_ID, data: { version: 1 } }])
    await appendAuditEntries(trx, [access({ requestId: 'create', action: 'createCase', route: 'POST /v1/cases', status: 201 })])
  })
  await sleep(5)
  await appendAuditEntries(db, [access({ requestId: 'read-1' })])
  await sleep(5)
  await appendAuditEntries(db, [access({ requestId: 'read-denied', subject: 'staff-9', outcome: 'denied', status: 404 })])
  await sleep(5)
  await db.transaction().execute(async (trx) => {
    await publishChanges(trx, [
      {
        kind: 'case.transitioned',
        resourceType: 'case',
        resourceId: 'case-A',
        orgUnitId: ROOT_ORG_UNIT_ID,
        data: { version: 2, from: 'open', to: 'escalated' },
      },
    ])
    await appendAuditEntries(trx, [access({ requestId: 'escalate', action: 'escalateCase', route: 'POST /v1/cases/:id/escalate' })])
  })
  await sleep(5)
  await appendAuditEntries(db, [access({ requestId: 'other-case', resourceId: 'case-B' }), access({ requestId: 'a-recording', resourceType: 'recording' })])
  await sequenceAllPendingChanges(db)

  const expected = ['change:case.created', 'audit:create', 'audit:read-1', 'audit:read-denied', 'change:case.transitioned', 'audit:escalate']
  const whole = await injectAs(
    { roles: ['auditor'], sub: 'kansa' },
    { method: 'GET', url: '/v1/records/case/case-A/history?limit=200', headers: { 'x-request-id': 'h1' } },
  )
  expectStatus(t, whole, 200)
  t.same((whole.json().items as Item[]).map(label), expected, 'accesses (allowed and refused) and changes, oldest first; nothing of other records')
  t.match(whole.json().items[4], { change: { position: 2, data: { from: 'open', to: 'escalated' } } })

  for (const limit of [1, 2, 4]) {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: { items: Item[]; next_cursor: string | null } = (
        await injectAs('auditor', { method: 'GET', url: `/v1/records/case/case-A/history?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}` })
      ).json()
      seen.push(...(page.items as Item[]).map(label))
      cursor = page.next_cursor
    } while (cursor)
    t.same(seen, expected, `pages of ${limit}: the same sequence, each item once`)
  }

  const audited = await db.selectFrom('audit_events').selectAll().where('request_id', '=', 'h1').executeTakeFirstOrThrow()
  t.match(
    audited,
    {
      action: 'getRecordHistory',
      subject: 'kansa',
      resource_type: 'audit_event',
      outcome: 'allowed',
      details: { record_type: 'case', record_id: 'case-A', count: 6 },
    },
    'the history query is audited, naming the record',
  )

  const recording = (await injectAs('auditor', { method: 'GET', url: '/v1/records/recording/case-A/history' })).json()
  t.same((recording.items as Item[]).map(label), ['audit:a-recording'])
  t.same((await injectAs('auditor', { method: 'GET', url: '/v1/records/case/never-existed/history' })).json(), { items: [], next_cursor: null })
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/records/payment/x/history' }), 400, 'unknown record types')
  expectStatus(t, await injectAs('staff', { method: 'GET', url: '/v1/records/case/case-A/history' }), 403)
  expectStatus(t, await injectAs('auditor', { method: 'GET', url: '/v1/records/case/case-A/history?cursor=WzFd' }), 400)
})

t.test('admins: the history of org units and policies, not of cases', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const created = await injectAs('admin', {
    method: 'POST',
    url: '/v1/org-units',
    headers: { 'x-request-id': 'mk' },
    payload: { parent_id: ROOT_ORG_UNIT_ID, code: 'k', name: 'k' },
  })
  const id = created.json().id as string
  const history = await injectAs('admin', { method: 'GET', url: `/v1/records/org_unit/${id}/history` })
  expectStatus(t, history, 200)
  t.same((history.json().items as Item[]).map(label), ['change:org_unit.created', 'audit:mk'])
  const denied = await injectAs('admin', { method: 'GET', url: '/v1/records/case/case-A/history' })
  expectStatus(t, denied, 404, 'out of reach: 404, as for any record')
})
