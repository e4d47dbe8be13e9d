import t from 'tap'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

/**
 * Tables of two dimensions agree with tables of one, and every table's total with the figures
 * asked without grouping: the service counts the groups and the total in one pass (a case with
 * two categories in each of its categories, and once in the total) and the durations of the
 * groups and the total in another (migrations/0018, issue 16).
 */

type Measures = Record<string, number | null>
interface Table {
  rows: Array<{ group: Record<string, string | number>; measures: Measures }>
  total: Measures
}

const SEVERITIES = ['low', 'medium', 'high'] as const
const CATEGORY_SETS = [['verbal_abuse'], ['verbal_abuse', 'intimidation'], ['intimidation', 'excessive_demand'], ['excessive_demand']]

t.test('two dimensions against one, totals against the ungrouped figures', async (t) => {
  const test = await buildTestApp(t)
  const desk: Identity = { roles: ['desk'], sub: 'desk-2d' }
  const unit = await test.orgUnit('2d')
  const post = async (url: string, payload: Record<string, unknown>) => {
    const res = await test.injectAs(desk, { method: 'POST', url, payload })
    if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  for (let i = 0; i < 12; i += 1) {
    const c = await post(
      '/v1/cases',
      caseBody({
        org_unit_id: unit,
        categories: CATEGORY_SETS[i % CATEGORY_SETS.length],
        severity: SEVERITIES[i % SEVERITIES.length],
        occurred_at: `2024-0${4 + (i % 3)}-1${i % 10}T0${i % 10}:00:00Z`,
      }),
    )
    if (i % 4 !== 3) await post(`/v1/cases/${c.id}/events`, { type: 'stop_request', occurred_at: new Date().toISOString(), description: 'x' })
    if (i % 3 !== 2) {
      await post(`/v1/cases/${c.id}/transitions`, { to: 'escalated', reason: 'x' })
      await post(`/v1/cases/${c.id}/transitions`, { to: 'in_review', reason: 'x' })
      await post(`/v1/cases/${c.id}/events`, { type: 'resolution', occurred_at: new Date().toISOString(), description: 'x' })
      await post(`/v1/cases/${c.id}/transitions`, { to: 'resolved', reason: 'x' })
      await post(`/v1/cases/${c.id}/transitions`, { to: 'closed', reason: 'x' })
    }
  }
  const stats = async (query: string): Promise<Table> => {
    const res = await test.injectAs(desk, { method: 'GET', url: `/v1/statistics/cases?fiscal_year=2024${query}` })
    expectStatus(t, res, 200, query)
    return res.json()
  }
  const ungrouped = await stats('')
  t.equal(ungrouped.total.cases, 12, 'a case with two categories counts once in the total')
  t.equal(ungrouped.total.closed, 8)
  t.not(ungrouped.total.days_to_close_median, null)

  for (const groupBy of ['category', 'month,category', 'category,severity', 'severity,month', 'month']) {
    t.same((await stats(`&group_by=${groupBy}`)).total, ungrouped.total, `group_by=${groupBy}: the total is the ungrouped figures`)
  }

  // Each row of category × severity is the row of that category in the table of that severity.
  const both = await stats('&group_by=category,severity')
  t.ok(both.rows.length >= 6)
  for (const severity of SEVERITIES) {
    const one = await stats(`&severity=${severity}&group_by=category`)
    const mine = both.rows.filter((r) => r.group.severity === severity)
    t.same(
      mine.map((r) => [r.group.category, r.measures]),
      one.rows.map((r) => [r.group.category, r.measures]),
      `severity ${severity}: the same rows, measures and order`,
    )
  }

  // Summed over the months, month × category gives the counts of the table by category.
  const byMonth = await stats('&group_by=month,category')
  const byCategory = await stats('&group_by=category')
  for (const row of byCategory.rows) {
    const parts = byMonth.rows.filter((r) => r.group.category === row.group.category)
    for (const measure of ['cases', 'closed', 'stop_requests', 'escalated']) {
      t.equal(
        parts.reduce((sum, r) => sum + Number(r.measures[measure]), 0),
        row.measures[measure],
        `${row.group.category}: ${measure} summed over the months`,
      )
    }
  }

  // A period without cases: a total of zeros and no rows.
  const empty = await test.injectAs(desk, { method: 'GET', url: '/v1/statistics/cases?fiscal_year=2030&group_by=month,category' })
  expectStatus(t, empty, 200, 'an empty year')
  t.same(empty.json().rows, [])
  t.equal(empty.json().total.cases, 0)
  t.equal(empty.json().total.days_to_close_median, null)
})
