import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { caseBody } from '../helpers/fixtures.ts'

/**
 * Issue 10 item 15: input a Japanese user types. A phone number in full-width digits and hyphens
 * is normalised (NFKC) before it is checked and stored normalised; a value still wrong gets one
 * clear message, not one per member of a nullable union; an enum error lists what is allowed.
 * Free text stays exactly as typed: it is evidence.
 */
t.test('full-width input', async (t) => {
  const { injectAs } = await buildTestApp(t)

  const name = '顧客　一郎 ①' // an ideographic space and a circled digit: NFKC would change both
  const created = await injectAs('staff', {
    method: 'POST',
    url: '/v1/cases',
    payload: caseBody({ customer: { name, phone: '０３－１２３４－５６７８' }, summary: 'ﾊﾝｶｸ の要旨 ①' }),
  })
  expectStatus(t, created, 201)
  t.equal(created.json().customer.phone, '03-1234-5678', 'the phone number is stored normalised')
  const read = await injectAs('staff', { method: 'GET', url: `/v1/cases/${created.json().id}` })
  expectStatus(t, read, 200)
  t.equal(read.json().customer.phone, '03-1234-5678', 'and read back so')
  t.equal(read.json().customer.name, name, 'a name (free text) is kept exactly as typed')
  t.equal(read.json().summary, 'ﾊﾝｶｸ の要旨 ①', 'so is the summary')

  const wrong = await injectAs('staff', { method: 'POST', url: '/v1/cases', payload: caseBody({ customer: { name, phone: '電話なし' } }) })
  expectStatus(t, wrong, 422)
  const errors = wrong.json().errors as Array<{ pointer: string; message: string }>
  t.equal(errors.length, 1, `one message, not three: ${JSON.stringify(errors)}`)
  t.equal(errors[0]?.pointer, 'body/customer/phone')
  t.match(errors[0]?.message, /^must match pattern/)
  t.notMatch(wrong.body, /must be null|anyOf/, 'neither the null member nor the union is mentioned')

  const japanese = await injectAs('staff', {
    method: 'POST',
    url: '/v1/cases',
    headers: { 'accept-language': 'ja' },
    payload: caseBody({ customer: { name, phone: '電話なし' } }),
  })
  expectStatus(t, japanese, 422)
  t.equal(japanese.json().errors.length, 1, 'one message in Japanese too')

  const severity = await injectAs('staff', { method: 'POST', url: '/v1/cases', payload: caseBody({ severity: 'urgent' }) })
  expectStatus(t, severity, 422)
  const message = (severity.json().errors as Array<{ pointer: string; message: string }>).find((e) => e.pointer === 'body/severity')?.message ?? ''
  for (const allowed of ['low', 'medium', 'high', 'critical']) t.match(message, allowed, `the enum error lists ${allowed}`)

  const channel = await injectAs('staff', {
    method: 'POST',
    url: '/v1/cases',
    headers: { 'accept-language': 'ja' },
    payload: caseBody({ channel: 'fax' }),
  })
  expectStatus(t, channel, 422)
  t.match(JSON.stringify(channel.json().errors), /counter/, 'the allowed values are listed in Japanese messages too')
})
