import fc from 'fast-check'
import t from 'tap'
import { ACCESS, ROLES, type Permission, type Role } from '../../src/kernel/access.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { arbitraryOf, type JsonSchema } from '../helpers/arbitrary.ts'
import { createCase, incidentBody, register } from '../helpers/fixtures.ts'
import { expectStatus } from '../helpers/expect.ts'

/**
 * Broken object-level authorisation (BOLA/IDOR): on every route that takes a record id, a
 * caller whose reach does not include the record — another unit's supervisor or integration
 * client, a staff member who does not respond to the case (nor opened, owns or is on the team
 * of the incident) — gets 404 (not 403: the id leaks nothing), with a well-formed request, and
 * the attempt is in the audit trail as denied.
 */
t.test('records of another unit answer 404 on every route with an id, and are audited', async (t) => {
  const test = await buildTestApp(t)
  const unitA = await test.orgUnit('unit-a')
  const unitB = await test.orgUnit('unit-b')
  const staffA: Identity = { roles: ['staff'], unit: unitA, sub: 'staff-a' }
  const theCase = await createCase(test, staffA)
  const recording = await register(test, staffA, { case_id: theCase.id })
  const hold = (
    await test.injectAs(
      { roles: ['records_manager'], sub: 'rm' },
      { method: 'POST', url: `/v1/recordings/${recording.id}/holds`, payload: { type: 'audit', reference: '監査 2025-1' } },
    )
  ).json()

  const incident = (
    await test.injectAs(staffA, { method: 'POST', url: '/v1/incidents', payload: incidentBody({ records: [{ type: 'recording', id: recording.id }] }) })
  ).json()

  // Callers who reach some records, but not these: by unit, or by not responding to the case.
  const outsiders: Record<Role, Identity | null> = {
    staff: { roles: ['staff'], unit: unitA, sub: 'staff-not-responding' },
    supervisor: { roles: ['supervisor'], unit: unitB, sub: 'sup-b' },
    integration: { roles: ['integration'], unit: unitB, sub: 'svc-b' },
    desk: null, // reaches every case
    records_manager: null,
    auditor: null,
    admin: null,
  }

  const routes = test.app.declaredRoutes.filter(
    (r) => r.url.startsWith('/v1/') && /:id\b/.test(r.url) && r.permission !== 'authenticated' && r.permission !== 'public',
  )
  let probed = 0
  for (const route of routes) {
    const grants = ACCESS[route.permission as Permission] as Partial<Record<Role, string>>
    const byPrefix: Record<string, string> = { '/v1/recordings': recording.id, '/v1/cases': theCase.id, '/v1/incidents': incident.id }
    const id = Object.entries(byPrefix).find(([prefix]) => route.url.startsWith(prefix))?.[1] ?? null
    if (!id) continue // dispositions, webhooks, policy versions, audit records: only roles that reach all
    for (const role of ROLES) {
      const who = outsiders[role]
      if (!who || !grants[role] || grants[role] === 'all') continue
      const url = route.url
        .replace(':id', id)
        .replace(':holdId', hold.id)
        .replace(/:(\w+)/g, () => crypto.randomUUID())
      const body = route.schema.body ? fc.sample(arbitraryOf(route.schema.body as JsonSchema), { numRuns: 1, seed: 42 })[0] : undefined
      const requestId = `bola-${probed}`
      const res = await test.injectAs(who, {
        method: route.method as 'GET',
        url,
        headers: { 'x-request-id': requestId, 'if-match': '"v1"' },
        ...(body === undefined ? {} : { payload: body as object }),
      })
      probed += 1
      expectStatus(
        t,
        res,
        404,
        `${route.method} ${route.url} as ${role} of another reach: 404 (got ${res.statusCode} ${res.statusCode !== 404 ? res.body.slice(0, 160) : ''})`,
      )
      const entry = await test.db.selectFrom('audit_events').select(['outcome', 'status', 'resource_id']).where('request_id', '=', requestId).executeTakeFirst()
      t.match(entry, { outcome: 'denied', status: 404, resource_id: id }, `${route.method} ${route.url} as ${role}: audited`)
    }
  }
  t.ok(probed >= 20, `${probed} probes`)
})
