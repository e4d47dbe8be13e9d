import t from 'tap'
import type { Identity } from '../helpers/app.ts'
import { buildTestApp } from '../helpers/app.ts'
import { linkEverything } from '../audit/helpers.ts'
import { caseBody } from '../helpers/fixtures.ts'
import { parseCsv } from '../helpers/csv.ts'

/**
 * The CSV a clerk opens in Excel: times in Japan time with the offset (JSON stays UTC), the
 * timeline names what a status change led to and who was added as responder, and one function
 * defuses every cell a spreadsheet would run as a formula, whatever precedes the operator.
 */

const JAPAN_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00$/
const staffA: Identity = { roles: ['staff'], sub: 'staff-a', familyName: '山田', name: '山田 太郎' }
const staffB: Identity = { roles: ['staff'], sub: 'staff-b', familyName: '佐藤', name: '佐藤 花子' }
const supervisor: Identity = { roles: ['supervisor'], sub: 'sup-1', familyName: '鈴木', name: '鈴木 一郎' }

// What a spreadsheet would run as a formula once the leading space, zero-width space or BOM is skipped.
const HOSTILE = [' =1+1', '＝1+1', '\u200B=1+1', '\uFEFF=1+1', '＋1+1', '－1+1', '＠SUM(A1)', '\t=1+1', '  \u3000@cmd']

t.test('the timeline CSV: Japan time, the target of status changes and responders, every formula defused', async (t) => {
  const { injectAs } = await buildTestApp(t)
  await injectAs(staffB, { method: 'POST', url: '/v1/cases', payload: caseBody() }) // so the service knows staff-b's name
  const created = await injectAs(staffA, { method: 'POST', url: '/v1/cases', payload: caseBody() })
  t.equal(created.statusCode, 201)
  const id = created.json().id as string
  for (const value of HOSTILE) {
    const res = await injectAs(staffA, {
      method: 'POST',
      url: `/v1/cases/${id}/events`,
      payload: { type: 'contact', occurred_at: new Date(Date.now() - 60_000).toISOString(), description: value },
    })
    t.equal(res.statusCode, 201, JSON.stringify(value))
  }
  t.equal((await injectAs(supervisor, { method: 'POST', url: `/v1/cases/${id}/responders`, payload: { subject: 'staff-b' } })).statusCode, 200)
  t.equal((await injectAs(supervisor, { method: 'POST', url: `/v1/cases/${id}/transitions`, payload: { to: 'escalated', reason: '威圧' } })).statusCode, 200)

  const json = await injectAs(staffA, { method: 'GET', url: `/v1/cases/${id}/timeline` })
  const first = json.json().entries[0] as { occurred_at: string; recorded_at: string }
  t.match(first.recorded_at, /Z$/, 'JSON stays RFC 3339 UTC')

  const res = await injectAs(staffA, { method: 'GET', url: `/v1/cases/${id}/timeline`, headers: { accept: 'text/csv' } })
  t.equal(res.statusCode, 200)
  const [header, ...rows] = parseCsv(res.body.replace(/^\uFEFF/, ''))
  t.same(header, ['occurred_at', 'recorded_at', 'seq', 'type', 'actor', 'description', 'quote', 'corrects_seq', 'corrected_by_seq', 'target'])
  for (const row of rows) {
    t.match(row[0], JAPAN_TIME, `occurred_at ${row[0]} in Japan time`)
    t.match(row[1], JAPAN_TIME, `recorded_at ${row[1]} in Japan time`)
  }
  const utc = new Date(first.occurred_at)
  const tokyo = new Date(utc.getTime() + 9 * 3600_000).toISOString().slice(0, 19)
  t.ok(
    rows.some((r) => r[0] === `${tokyo}+09:00`),
    'the same instant, written in Japan time',
  )

  const descriptions = rows.filter((r) => r[3] === 'contact').map((r) => r[5])
  t.equal(descriptions.length, HOSTILE.length)
  // The embedded database may drop a leading BOM on storage; the cell is defused either way.
  t.same(
    descriptions.filter((d) => !d?.startsWith("'")),
    [],
    'every formula-looking cell is prefixed with an apostrophe',
  )
  t.same(descriptions.filter((d) => d?.startsWith("' =") || d?.startsWith("'＝")).length, 2, 'the value itself is kept after the apostrophe')
  const responder = rows.find((r) => r[3] === 'responder_added')
  t.equal(responder?.[9], '佐藤', 'the person added as responder, by the name the policy allows')
  t.notMatch(res.body, /佐藤 花子|山田 太郎/, 'never a legal name')
  const escalation = rows.find((r) => r[3] === 'escalation')
  t.equal(escalation?.[9], 'escalated', 'the status the change led to')
})

t.test('the audit export CSV gives the readable time in Japan time; content keeps the exact UTC value', async (t) => {
  const { db, injectAs } = await buildTestApp(t)
  await injectAs(staffA, { method: 'POST', url: '/v1/cases', payload: caseBody() })
  await linkEverything(db)
  const res = await injectAs('auditor', { method: 'GET', url: '/v1/audit-events/export', headers: { accept: 'text/csv' } })
  t.equal(res.statusCode, 200)
  const [header, ...rows] = parseCsv(res.body)
  const at = header!.indexOf('occurred_at')
  const content = header!.indexOf('content')
  t.ok(rows.length > 0)
  for (const row of rows) {
    t.match(row[at], JAPAN_TIME)
    const exact = JSON.parse(row[content]!).occurred_at as string
    t.match(exact, /Z$/, 'the hashed content stays UTC')
    t.equal(new Date(row[at]!).getTime(), Math.floor(new Date(exact).getTime() / 1000) * 1000, 'the same instant')
  }
})
