import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

// The authentication scheme name is case-insensitive (RFC 9110 §11.1; issue 10, item 5).
t.test('Authorization: the Bearer scheme is accepted in any case', async (t) => {
  const { app, token } = await buildTestApp(t)
  const jwt = await token('staff')
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const res = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `${scheme} ${jwt}` } })
    expectStatus(t, res, 200, `${scheme} <token>`)
  }
  const basic = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Basic ${jwt}` } })
  expectStatus(t, basic, 401, 'another scheme is still refused')
})
