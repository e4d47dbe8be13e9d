import t from 'tap'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { startTestServer } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { databaseIndependent } from '../helpers/database.ts'

// Through the SDK generated from the contract, on a real port, as a front end would call it.
t.test('foundation through the generated client', { skip: databaseIndependent }, async (t) => {
  const server = await startTestServer(t)
  const admin = await server.client({ roles: ['admin'], sub: 'admin-e2e', name: '管理者' })

  const me = await admin.GET('/v1/me')
  expectStatus(t, me, 200)
  t.match(me.data, { subject: 'admin-e2e', roles: ['admin'], org_unit: ROOT_ORG_UNIT_ID, permissions: { 'org_units:write': 'all' } })

  const created = await admin.POST('/v1/org-units', { body: { parent_id: ROOT_ORG_UNIT_ID, code: 'fukushi', name: '福祉課' } })
  expectStatus(t, created, 201)
  t.equal(created.response.headers.get('location'), `/v1/org-units/${created.data?.id}`)
  const child = await admin.POST('/v1/org-units', { body: { parent_id: created.data!.id, code: 'fukushi-1', name: '福祉一係' } })
  t.equal(child.data?.depth, 2)

  const staff = await server.client('staff')
  const list = await staff.GET('/v1/org-units')
  t.same(
    list.data?.items.map((u) => u.code),
    ['root', 'fukushi', 'fukushi-1'],
    'parents before children',
  )

  const refused = await staff.POST('/v1/org-units', { body: { parent_id: ROOT_ORG_UNIT_ID, code: 'x', name: 'x' } })
  expectStatus(t, refused, 403)
  t.equal(refused.error?.code, 'forbidden', 'errors are typed problems in the SDK')

  const missingParent = await admin.POST('/v1/org-units', { body: { parent_id: '0190f3c4-1111-7000-8000-000000000000', code: 'y', name: 'y' } })
  expectStatus(t, missingParent, 422)
  t.same(missingParent.error?.errors, [{ pointer: 'body/parent_id', message: 'no such org unit' }])
})
