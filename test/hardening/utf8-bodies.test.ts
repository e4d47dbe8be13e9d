import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

// JSON bodies are UTF-8 and stored exactly as sent: invalid UTF-8 and unpaired surrogates are 400,
// a charset other than UTF-8 is 415, and nothing is stored (issue 10, item 4).
t.test('a JSON body that is not UTF-8 is refused, and nothing is stored', async (t) => {
  const { injectAs, db } = await buildTestApp(t)
  const json = (summary: string) => JSON.stringify(caseBody({ summary }))
  const send = (payload: string | Buffer, contentType = 'application/json') =>
    injectAs('staff', { method: 'POST', url: '/v1/cases', headers: { 'content-type': contentType }, payload })
  const stored = async (prefix: string) => (await db.selectFrom('cases').select('summary').where('summary', 'like', `${prefix}%`).execute()).length

  const [before, after] = json('壊れた-MARK').split('MARK') as [string, string]
  const invalid = Buffer.concat([Buffer.from(before, 'utf8'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(after, 'utf8')])
  const bad = await send(invalid)
  expectStatus(t, bad, 400, 'invalid UTF-8 bytes')
  t.match(bad.json(), { code: 'bad-request', detail: /UTF-8/ })

  const surrogate = await send(json('壊れた-x').replace('-x', '-\\ud800'))
  expectStatus(t, surrogate, 400, 'a lone surrogate')

  const latin1 = await send(Buffer.from(json('latin1-caf\u00e9'), 'latin1'), 'application/json; charset=latin1')
  expectStatus(t, latin1, 415, 'charset=latin1')
  t.match(latin1.json(), { code: 'unsupported-media-type' })
  expectStatus(t, await send(json('latin1-x'), 'application/json; charset=ISO-8859-1'), 415, 'charset=ISO-8859-1')

  t.equal(await stored('壊れた'), 0, 'nothing stored')
  t.equal(await stored('latin1'), 0, 'nothing stored')

  expectStatus(t, await send(json('正しい-UTF-8 😀'), 'application/json; charset=utf-8'), 201, 'charset=utf-8 is fine')
  expectStatus(t, await send(json('正しい-無指定'), 'application/json; charset="UTF-8"'), 201, 'quoted, any case')
  const rows = await db.selectFrom('cases').select('summary').where('summary', 'like', '正しい%').orderBy('summary').execute()
  t.same(rows.map((r) => r.summary).sort(), ['正しい-UTF-8 😀', '正しい-無指定'].sort(), 'stored exactly as sent')
  expectStatus(t, await send('{"summary": '), 400, 'broken JSON is still 400')
  expectStatus(t, await send('{"__proto__": {"x": 1}}'), 400, 'prototype poisoning is still refused')
})
