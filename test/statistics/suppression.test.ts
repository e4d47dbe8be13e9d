import t from 'tap'
import { type Published, suppressCell, suppressTotal } from '../../src/statistics/suppression.ts'
import { buildTestApp, type Identity } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

/**
 * Small-cell suppression for auditors and admins, and the subtraction attack: on a table where
 * naive suppression (1 or 2 → "<3", everything else exact) gives the hidden cell away as
 * total − visible cells, the published figures stay consistent with both 1 and 2.
 */

type Row = { group: { channel: string }; measures: { cases: Published } }

/** Every (hidden, visible) pair of true counts behind a published cell pair and total, as the attacker would enumerate them. */
function explanations(visible: Published, total: Published): Set<number> {
  const hidden = new Set<number>()
  for (let c = 0; c <= 200; c += 1) {
    for (const s of [1, 2]) if (suppressCell(c) === visible && suppressTotal(c + s) === total) hidden.add(s)
  }
  return hidden
}

t.test('the rule, for every count up to 200: a hidden cell is always 1 or 2 as far as the figures tell', async (t) => {
  t.equal(suppressCell(0), 0)
  t.equal(suppressCell(1), '<3')
  t.equal(suppressCell(2), '<3')
  t.equal(suppressCell(3), 5)
  t.equal(suppressCell(12), 10)
  t.equal(suppressCell(13), 15)
  t.equal(suppressTotal(2), 5, 'a total is never "<3"')
  let leaks = 0
  for (let c = 0; c <= 195; c += 1) {
    for (const s of [1, 2]) if (explanations(suppressCell(c), suppressTotal(c + s)).size !== 2) leaks += 1
  }
  t.equal(leaks, 0, 'no visible count and total pins the hidden cell down')
  // Two hidden cells and their total: the total alone must not say "both are 1".
  t.not(suppressTotal(2), '<3')
})

t.test('the subtraction attack through the API', async (t) => {
  const test = await buildTestApp(t)
  const unit = await test.orgUnit('shiyakusho')
  const desk: Identity = { roles: ['desk'], sub: 'desk-s' }
  const at = '2023-07-03T01:00:00Z'
  for (let i = 0; i < 12; i += 1) {
    const res = await test.injectAs(desk, { method: 'POST', url: '/v1/cases', payload: caseBody({ org_unit_id: unit, channel: 'counter', occurred_at: at }) })
    expectStatus(t, res, 201)
  }
  expectStatus(
    t,
    await test.injectAs(desk, { method: 'POST', url: '/v1/cases', payload: caseBody({ org_unit_id: unit, channel: 'phone', occurred_at: at }) }),
    201,
  )

  const get = async (who: Identity, query: string) => {
    const res = await test.injectAs(who, { method: 'GET', url: `/v1/statistics/cases?fiscal_year=2023&${query}` })
    expectStatus(t, res, 200, query)
    return res.json()
  }
  const exact = await get(desk, 'group_by=channel')
  const exactCells = Object.fromEntries(exact.rows.map((r: Row) => [r.group.channel, r.measures.cases]))
  t.same(exactCells, { counter: 12, phone: 1 }, 'the desk sees the table exactly')
  t.equal(exact.total.cases - exactCells.counter, 1, 'naive suppression (exact total and counter, phone "<3") would leak: 13 − 12 = 1')

  const auditor: Identity = { roles: ['auditor'] }
  const grouped = await get(auditor, 'group_by=channel')
  const cells = Object.fromEntries(grouped.rows.map((r: Row) => [r.group.channel, r.measures.cases]))
  t.same(cells, { counter: 10, phone: '<3' })
  t.equal(grouped.total.cases, 15)
  t.same([...explanations(cells.counter, grouped.total.cases)].sort(), [1, 2], 'the hidden cell could be 1 or 2')
  const ungrouped = await get(auditor, '')
  t.equal(ungrouped.total.cases, grouped.total.cases, 'the total asked without grouping is the same figure: nothing to subtract across tables')
  const counterOnly = await get(auditor, 'channel=counter')
  t.equal(counterOnly.total.cases, 10, 'nor through a filter')
})
