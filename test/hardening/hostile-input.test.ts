import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { sql } from 'kysely'
import t from 'tap'
import { ACCESS, ROLES, type Permission, type Role } from '../../src/kernel/access.ts'
import type { DeclaredRoute } from '../../src/kernel/access.plugin.ts'
import { buildTestApp, type TestApp } from '../helpers/app.ts'
import { hostileOf, type JsonSchema } from '../helpers/arbitrary.ts'
import { createCase, register } from '../helpers/fixtures.ts'

/**
 * Every route gets inputs generated from its own schemas — valid ones, and the same with one
 * hostile mutation: wrong types, huge and odd strings, deep nesting, injection strings,
 * impossible dates, missing and unknown fields. Whatever comes in, the answer is never a 500,
 * never a stack trace, and a refused request changes nothing in the database.
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 25)

/** The role that holds a permission with the widest reach. */
function roleFor(permission: DeclaredRoute['permission']): Role {
  if (permission === 'authenticated' || permission === 'public') return 'staff'
  const grants = ACCESS[permission as Permission] as Partial<Record<Role, string>>
  return ROLES.find((r) => grants[r] === 'all') ?? ROLES.find((r) => grants[r] !== undefined)!
}

async function writeFingerprint(test: TestApp): Promise<string> {
  // Row counts of every table but the audit trail (refusals are audited, and the linker chains the
  // entries whenever it runs) and the migrator's.
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
     where table_schema = 'public' and table_type = 'BASE TABLE'
       and table_name not in ('audit_events', 'audit_chain', 'kysely_migration', 'kysely_migration_lock')
     order by table_name`.execute(test.db)
  const counts = sql.join(tables.rows.map((r) => sql`(select count(*) from ${sql.table(r.name)})`))
  const row = await sql<{ counts: unknown }>`select array[${counts}]::bigint[] as counts`.execute(test.db)
  return JSON.stringify(row.rows[0]!.counts)
}

// A URL cannot carry a lone surrogate: it is sent as U+FFFD, as a browser would.
const encode = (text: string) => encodeURIComponent(text.toWellFormed())

function queryString(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `q=${encode(JSON.stringify(value) ?? '')}`
  return Object.entries(value as Record<string, unknown>)
    .filter(([k]) => k !== 'wait') // long polls would only slow the test down
    .map(([k, v]) => `${encode(k)}=${encode(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))}`)
    .join('&')
}

t.test('hostile input on every route: never a 500, never a partial write', async (t) => {
  const test = await buildTestApp(t)
  const desk = { roles: ['desk' as Role], sub: 'desk-fixture' }
  const theCase = await createCase(test, desk)
  const recording = await register(test, { roles: ['records_manager'], sub: 'rm-fixture' }, { case_id: theCase.id })
  const hold = (
    await test.injectAs(
      { roles: ['records_manager'], sub: 'rm-fixture' },
      { method: 'POST', url: `/v1/recordings/${recording.id}/holds`, payload: { type: 'litigation', reference: '令和7年(ワ)第1号' } },
    )
  ).json()
  const ids: Record<string, string> = { holdId: hold.id, type: 'case' }
  const idFor = (url: string) => (url.startsWith('/v1/recordings') ? recording.id : theCase.id)

  const internal = await internalNames(test)
  t.ok(internal.test('org_units_code_key') && internal.test('recordings_storage_uri'), 'the database names the contract does not use are known')

  const routes = test.app.declaredRoutes.filter((r) => r.url.startsWith('/v1/'))
  for (const route of routes) {
    const role = roleFor(route.permission)
    const body = route.schema.body as JsonSchema | undefined
    const query = route.schema.querystring as JsonSchema | undefined
    await t.test(`${route.method} ${route.url}`, async (t) => {
      let checked = 0
      await fc.assert(
        fc.asyncProperty(
          body ? hostileOf(body) : fc.constant(undefined),
          query ? hostileOf(query) : fc.constant(undefined),
          fc.boolean(),
          async (payload, qs, realIds) => {
            const path = route.url.replace(/:(\w+)/g, (_m, name: string) =>
              realIds ? (name === 'id' ? idFor(route.url) : (ids[name] ?? theCase.id)) : encodeURIComponent(name === 'type' ? 'case' : crypto.randomUUID()),
            )
            const url = qs === undefined ? path : `${path}?${queryString(qs)}`
            const before = await writeFingerprint(test)
            const res = await test.injectAs(
              { roles: [role], sub: `fuzz-${role}` },
              {
                method: route.method as 'GET',
                url,
                ...(route.method === 'GET' || route.method === 'DELETE'
                  ? {}
                  : { payload: payload === undefined ? {} : JSON.stringify(payload), headers: { 'content-type': 'application/json' } }),
              },
            )
            checked += 1
            if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${url} ${JSON.stringify(payload)?.slice(0, 300)}: ${res.body.slice(0, 300)}`)
            if (/node_modules|at .*\.(ts|js):\d+|syntax error at|violates .*constraint/.test(res.body))
              throw new Error(`internals leaked: ${res.body.slice(0, 300)}`)
            // Problems speak the API's words (exports and the feed carry data, not problems).
            const named = res.statusCode >= 400 ? internal.exec(res.body) : null
            if (named) throw new Error(`the database name ${named[0]} leaked: ${res.body.slice(0, 300)}`)
            if (res.statusCode >= 400) {
              if (!/application\/problem\+json/.test(String(res.headers['content-type']))) throw new Error(`${res.statusCode} without problem+json`)
              const after = await writeFingerprint(test)
              if (after !== before) throw new Error(`partial write on ${res.statusCode} for ${url}: ${before} → ${after}`)
            }
          },
        ),
        { numRuns: RUNS, endOnFailure: true },
      )
      t.ok(checked >= RUNS, `${checked} requests, none a 500`)
    })
  }
})

/**
 * The names of the database's tables, indexes, constraints and columns that the contract never
 * uses, as one pattern: a response that contains one speaks the database's words, not the API's.
 */
async function internalNames(test: TestApp): Promise<RegExp> {
  const contract = readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')
  const { rows } = await sql<{ name: string }>`
    select relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'i', 'p', 'S', 'v')
    union select conname from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = current_schema()
    union select column_name from information_schema.columns where table_schema = current_schema()`.execute(test.db)
  const names = rows.map((r) => r.name).filter((name) => name.length >= 4 && !new RegExp(`\\b${name}\\b`).test(contract))
  return new RegExp(`\\b(${names.join('|')})\\b`)
}
