import t from 'tap'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

// Existence oracle (issue 10, item 6): references are scoped per org unit, so an integration in
// unit B that PUTs a reference unit A holds gets exactly the answer for a reference nobody holds.
t.test('PUT by-external-ref: unit B learns nothing about unit A’s references', async (t) => {
  const { injectAs, orgUnit, db } = await buildTestApp(t)
  const unitA = await orgUnit('unit-a')
  const unitB = await orgUnit('unit-b')
  const a: Identity = { roles: ['integration'], unit: unitA, sub: 'svc-a' }
  const b: Identity = { roles: ['integration'], unit: unitB, sub: 'svc-b' }
  const payload = {
    channel: 'phone',
    occurred_at: new Date(Date.now() - 3600_000).toISOString(),
    categories: ['verbal_abuse'],
    severity: 'low',
    summary: '電話',
  }
  const put = (who: Identity, ref: string, body: Record<string, unknown> = payload) =>
    injectAs(who, { method: 'PUT', url: `/v1/cases/by-external-ref/kikan/${ref}`, payload: body })

  const held = await put(a, 'A-0001', { ...payload, summary: 'A の案件' })
  expectStatus(t, held, 201)

  // B probes a reference A holds and one nobody holds: the same answer, shape for shape.
  const probe = await put(b, 'A-0001')
  const unknown = await put(b, 'NOBODY-0001')
  expectStatus(t, probe, 201, "A's reference: as if unknown")
  expectStatus(t, unknown, 201, 'an unknown reference')
  const shape = (r: typeof probe) => {
    const { id, number, created_at, updated_at, external_ref, ...rest } = r.json()
    return { status: r.statusCode, keys: Object.keys(r.json()).sort(), rest, location: typeof r.headers.location, ref: external_ref.system }
  }
  t.same(shape(probe), shape(unknown), 'indistinguishable answers')
  t.match(probe.json(), { org_unit_id: unitB, summary: '電話', version: 1 }, "B's own case")
  t.not(probe.json().id, held.json().id)

  // A's case is untouched and still A's under its reference.
  const aCase = await db.selectFrom('cases').select(['org_unit_id', 'summary', 'version']).where('id', '=', held.json().id).executeTakeFirstOrThrow()
  t.same(aCase, { org_unit_id: unitA, summary: 'A の案件', version: 1 })
  const again = await put(a, 'A-0001', { ...payload, summary: 'A の案件' })
  expectStatus(t, again, 200, 'A still updates its own case')
  t.equal(again.json().id, held.json().id)
  const bAgain = await put(b, 'A-0001')
  expectStatus(t, bAgain, 200, 'and B its own')
  t.equal(bAgain.json().id, probe.json().id)

  // Lists show each unit only its own.
  const listB = (await injectAs(b, { method: 'GET', url: '/v1/cases?external_ref=A-0001' })).json().items
  t.same(
    listB.map((c: { id: string }) => c.id),
    [probe.json().id],
  )
})
