import t from 'tap'
import { ACCESS, reachFor, ROLES, type Permission } from '../../src/kernel/access.ts'
import { buildTestApp } from '../helpers/app.ts'
import { expectEvery, expectStatus } from '../helpers/expect.ts'

/**
 * Walks every route × every role against the access table: a role the table does not grant
 * gets 403, a role it grants never does (nor 401/500). Ids in paths are random, bodies empty:
 * allowed callers meet 404s and 422s, which is the point: authorisation comes first.
 */
const SAMPLE_PARAMS: Record<string, string> = {
  type: 'recording',
  system: 'kikan',
  ref: 'A-1',
}

function concreteUrl(url: string): string {
  return url.replace(/:(\w+)/g, (_m, name: string) => SAMPLE_PARAMS[name] ?? '0190f3c4-1111-7000-8000-000000000000')
}

t.test('route × role walk', async (t) => {
  const { app, injectAs } = await buildTestApp(t)
  const routes = app.declaredRoutes.filter((r) => r.url.startsWith('/v1/'))
  t.ok(routes.length >= 3, `walking ${routes.length} routes`)
  expectEvery(
    t,
    app.declaredRoutes.filter((r) => !r.url.startsWith('/v1/')),
    (r) => r.permission === 'public',
    'only infrastructure routes are outside /v1, and they are public',
  )
  expectEvery(t, routes, (r) => r.permission !== 'public', 'no /v1 route is public')

  for (const route of routes) {
    for (const role of ROLES) {
      const granted = route.permission === 'authenticated' || reachFor([role], route.permission as Permission) !== null
      const res = await injectAs(
        { roles: [role] },
        { method: route.method as 'GET', url: concreteUrl(route.url), ...(route.method === 'GET' ? {} : { payload: {} }) },
      )
      const label = `${route.method} ${route.url} as ${role} (${route.permission})`
      if (granted) t.ok(![401, 403].includes(res.statusCode) && res.statusCode < 500, `${label}: allowed (got ${res.statusCode})`)
      else expectStatus(t, res, 403, `${label}: forbidden`)
    }
  }
})

t.test('the access table is data: each permission names only known roles', async (t) => {
  for (const [permission, grants] of Object.entries(ACCESS)) {
    for (const [role, reach] of Object.entries(grants)) {
      t.ok((ROLES as readonly string[]).includes(role), `${permission}: ${role} is a role`)
      t.ok(['own', 'unit', 'all'].includes(reach as string), `${permission}: ${role} has a reach`)
    }
  }
  t.equal(reachFor(['staff', 'supervisor'], 'cases:read'), 'unit', 'the widest reach of several roles wins')
  t.equal(reachFor(['admin'], 'cases:read'), null, 'admins see no case content')
  t.equal(reachFor(['auditor'], 'org_units:write'), null, 'auditors never write')
})
