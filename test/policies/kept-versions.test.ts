import { sql } from 'kysely'
import t from 'tap'
import { todayInTokyo } from '../../src/kernel/time.ts'
import type { Metrics } from '../../src/metrics/metrics.ts'
import { insertPolicyVersion } from '../../src/policies/policies.repository.ts'
import { buildTestApp, startSecondInstance, tokenFor } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

/**
 * Every instance keeps the policy versions and drops its copy when a version is added
 * (LISTEN/NOTIFY, migration 0017): no request reads them, and a new version is in force at once
 * on the instance that added it, and on every other as soon as the notification arrives.
 */

const DEFAULT_NAME_DISPLAY = '00000000-0000-7000-8000-0000000000a2'
const caseBody = {
  channel: 'phone',
  occurred_at: new Date(Date.now() - 3600_000).toISOString(),
  categories: ['verbal_abuse'],
  severity: 'low',
  summary: 'kept',
}

async function statementsOf(metrics: Metrics, method: string, route: string): Promise<number> {
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (metric.name !== 'madoguchi_db_statements_total') continue
    for (const value of metric.values) if (value.labels.method === method && value.labels.route === route) return value.value
  }
  return 0
}

/** Asks until `check` holds (a notification crosses a connection), at most 5 s. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + 5000
  for (;;) {
    if (await check()) return true
    if (Date.now() > until) return false
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('no request reads the policies: a case read is the case and its audit entry', async (t) => {
  const { injectAs, metrics } = await buildTestApp(t, { metrics: true })
  const created = await injectAs('desk', { method: 'POST', url: '/v1/cases', payload: caseBody })
  expectStatus(t, created, 201)
  const url = `/v1/cases/${created.json().id}`
  expectStatus(t, await injectAs('desk', { method: 'GET', url }), 200)
  const before = await statementsOf(metrics!, 'GET', '/v1/cases/:id')
  for (let i = 0; i < 5; i++) expectStatus(t, await injectAs('desk', { method: 'GET', url }), 200)
  t.equal((await statementsOf(metrics!, 'GET', '/v1/cases/:id')) - before, 5 * 2, 'two statements per read, none for the policies')
})

t.test('a new version is in force at once where it was added, and on the other instances when they hear of it', async (t) => {
  const test = await buildTestApp(t)
  const other = await startSecondInstance(t, test)
  const created = await test.injectAs('desk', { method: 'POST', url: '/v1/cases', payload: caseBody })
  const url = `/v1/cases/${created.json().id}`
  const policyOnOther = async () => {
    const res = await fetch(`${other.baseUrl}${url}`, { headers: { authorization: `Bearer ${await tokenFor('desk')}` } })
    return ((await res.json()) as { name_display_policy_version_id: string }).name_display_policy_version_id
  }
  const policyHere = async () => (await test.injectAs('desk', { method: 'GET', url })).json().name_display_policy_version_id as string
  t.equal(await policyOnOther(), DEFAULT_NAME_DISPLAY, 'the other instance keeps the default')
  t.equal(await policyHere(), DEFAULT_NAME_DISPLAY)

  const added = await test.injectAs(
    { roles: ['admin'], sub: 'admin-1' },
    {
      method: 'POST',
      url: '/v1/policies/name_display/versions',
      payload: { effective_from: todayInTokyo(), body: { mode: 'business_name' }, note: 'kept' },
    },
  )
  expectStatus(t, added, 201)
  t.equal(await policyHere(), added.json().id, 'in force at once on the instance that added it')
  t.ok(await eventually(async () => (await policyOnOther()) === added.json().id), 'and on the other once notified')
})

t.test('a version inserted straight into the database by another tool', async (t) => {
  const test = await buildTestApp(t)
  const created = await test.injectAs('desk', { method: 'POST', url: '/v1/cases', payload: caseBody })
  const url = `/v1/cases/${created.json().id}`
  const policyHere = async () => (await test.injectAs('desk', { method: 'GET', url })).json().name_display_policy_version_id as string
  t.equal(await policyHere(), DEFAULT_NAME_DISPLAY)
  const first = await insertPolicyVersion(test.db, {
    type: 'name_display',
    effectiveFrom: todayInTokyo(),
    body: { mode: 'business_name' },
    note: 'tool',
    createdBy: 't',
  })
  t.ok(await eventually(async () => (await policyHere()) === first.id), 'a version another tool inserted is in force')
})

t.test('a listening connection that breaks: nothing is kept until it listens again', async (t) => {
  const test = await buildTestApp(t)
  if (test.database.handle.kind !== 'postgres') return t.pass('the embedded database listens on its one session')
  const created = await test.injectAs('desk', { method: 'POST', url: '/v1/cases', payload: caseBody })
  const url = `/v1/cases/${created.json().id}`
  const policyHere = async () => (await test.injectAs('desk', { method: 'GET', url })).json().name_display_policy_version_id as string
  t.equal(await policyHere(), DEFAULT_NAME_DISPLAY)
  const listeners = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'LISTEN%'`.execute(test.db))
      .rows[0]!.n
  // The service listens once it is ready, on a connection of its own: wait for its LISTEN to show.
  t.ok(await eventually(async () => (await listeners()) === 1), 'one listening connection')
  await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'LISTEN%'`.execute(test.db)
  // Written while nobody listens: its notification is lost.
  const unheard = await insertPolicyVersion(test.db, {
    type: 'name_display',
    effectiveFrom: todayInTokyo(),
    body: { mode: 'business_name' },
    note: 'x',
    createdBy: 't',
  })
  t.ok(await eventually(async () => (await policyHere()) === unheard.id), 'the copy was dropped with the connection')
  t.ok(await eventually(async () => (await listeners()) === 1), 'it listens again')
})
