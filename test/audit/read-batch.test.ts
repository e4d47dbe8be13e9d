import t from 'tap'
import type { Metrics } from '../../src/metrics/metrics.ts'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

/** Reads' audit entries are written together (group commit), each before its response. */

async function statementsOf(metrics: Metrics, method: string, route: string): Promise<number> {
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (metric.name !== 'madoguchi_db_statements_total') continue
    for (const value of metric.values) if (value.labels.method === method && value.labels.route === route) return value.value
  }
  return 0
}

t.test('concurrent reads share audit inserts, and each entry is written before its response', async (t) => {
  const { injectAs, db, metrics } = await buildTestApp(t, { metrics: true })
  const created = await injectAs('desk', { method: 'POST', url: '/v1/cases', payload: caseBody() })
  expectStatus(t, created, 201)
  const url = `/v1/cases/${created.json().id}`
  const before = await statementsOf(metrics!, 'GET', '/v1/cases/:id')
  const reads = 20
  const answers = await Promise.all(
    Array.from({ length: reads }, () =>
      injectAs('desk', { method: 'GET', url }).then(async (res) => {
        // Looked up the moment the response arrives: the entry has committed by then.
        const entry = await db
          .selectFrom('audit_events')
          .select('id')
          .where('request_id', '=', res.headers['x-request-id'] as string)
          .executeTakeFirst()
        return { status: res.statusCode, audited: entry !== undefined }
      }),
    ),
  )
  t.same(
    answers,
    answers.map(() => ({ status: 200, audited: true })),
    'every read answered, its entry committed first',
  )
  const sent = (await statementsOf(metrics!, 'GET', '/v1/cases/:id')) - before
  t.ok(sent < 2 * reads, `fewer statements than a case query and an insert per read (${sent} for ${reads} reads)`)
})
