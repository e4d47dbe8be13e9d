import t from 'tap'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { buildTestApp } from '../helpers/app.ts'
import { recordingBody } from '../helpers/fixtures.ts'

/** Problems speak the API's words: the field and what conflicts, never a constraint, table or column name. */
t.test('a duplicate org-unit code or storage URI is 409 naming the field, not the constraint', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const unit = { parent_id: ROOT_ORG_UNIT_ID, code: 'fukushi', name: '福祉課' }
  t.equal((await injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: unit })).statusCode, 201)
  const again = await injectAs('admin', { method: 'POST', url: '/v1/org-units', payload: unit, headers: { 'accept-language': 'ja' } })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { code: 'conflict', errors: [{ pointer: 'body/code', message: '既に使用されています' }] })
  t.match(again.json().detail, /fukushi/)
  t.notMatch(again.body, /org_units|_key|constraint/, 'no database name')

  const rm = { roles: ['records_manager' as const], sub: 'rm-1' }
  const first = recordingBody()
  t.equal((await injectAs(rm, { method: 'POST', url: '/v1/recordings', payload: first })).statusCode, 201)
  const twice = await injectAs(rm, { method: 'POST', url: '/v1/recordings', payload: recordingBody({ storage_uri: first.storage_uri }) })
  t.equal(twice.statusCode, 409)
  t.match(twice.json(), { code: 'conflict', errors: [{ pointer: 'body/storage_uri', message: 'is already used' }] })
  t.notMatch(twice.body, /recordings_storage_uri|constraint/, 'no database name')
})
