import t from 'tap'
import { en } from '../../src/kernel/messages/en.ts'
import { ja } from '../../src/kernel/messages/ja.ts'
import { buildTestApp } from '../helpers/app.ts'
import { caseBody, disclosureRequestBody, register } from '../helpers/fixtures.ts'

/**
 * Japanese for Japanese front ends: Accept-Language picks the language of every problem's title
 * and detail (English by default), the response says which (Content-Language) and that it depends
 * on the header (Vary); both catalogues hold the same messages.
 */

const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/
const placeholders = (template: string) =>
  [...template.matchAll(/\{(\w+)(?:\|[^}]*)?\}/g)]
    .map((m) => m[1])
    .sort()
    .filter((name, i, all) => all.indexOf(name) === i)

t.test('every message has a Japanese template naming the same values, and ja has no message en lacks', async (t) => {
  const enIds = Object.keys(en).sort()
  const jaIds = Object.keys(ja).sort()
  t.same(
    enIds.filter((id) => !(id in ja)),
    [],
    'no message lacks a Japanese template',
  )
  t.same(
    jaIds.filter((id) => !(id in en)),
    [],
    'ja holds no message en lacks',
  )
  const japanese = (id: string) => (ja as Record<string, string>)[id] ?? ''
  t.same(
    enIds.filter((id) => placeholders(japanese(id)).join() !== placeholders((en as Record<string, string>)[id]!).join()),
    [],
    'each Japanese template names the same values as the English one',
  )
  t.same(
    enIds.filter((id) => /\{\w+\|/.test(japanese(id))),
    [],
    'no English plural forms in Japanese',
  )
  // Ids that only name things (a role, a date label) may stay as written; sentences are Japanese.
  const untranslated = enIds.filter(
    (id) =>
      !JAPANESE.test((ja as Record<string, string>)[id]!) &&
      !['when.decided_on', 'holds.item', 'holds.item_until', 'deadline.nothing', 'deadline.reason', 'deadline.holiday'].includes(id),
  )
  t.same(untranslated, [], 'every Japanese template is written in Japanese')
})

t.test('Accept-Language: q-values, ja and ja-JP give Japanese, anything else English; Content-Language and Vary', async (t) => {
  const { injectAs } = await buildTestApp(t)
  const cases: Array<[string | undefined, 'en' | 'ja']> = [
    [undefined, 'en'],
    ['ja', 'ja'],
    ['ja-JP', 'ja'],
    ['JA-jp', 'ja'],
    ['en-US,en;q=0.9,ja;q=0.8', 'en'],
    ['ja;q=0.8, en;q=0.9', 'en'],
    ['fr, ja;q=0.5', 'ja'],
    ['fr-FR, de', 'en'],
    ['ja;q=0', 'en'],
    ['*', 'en'],
    ['garbage;;;q=x', 'en'],
  ]
  for (const [header, language] of cases) {
    const res = await injectAs('staff', {
      method: 'GET',
      url: '/v1/cases/00000000-0000-7000-8000-000000000000',
      headers: header === undefined ? {} : { 'accept-language': header },
    })
    t.equal(res.statusCode, 404)
    t.equal(res.headers['content-language'], language, `${header ?? '(none)'} → ${language}`)
    t.match(String(res.headers.vary), /Accept-Language/i, 'Vary names Accept-Language')
    t.equal(JAPANESE.test(res.json().title), language === 'ja', `${header ?? '(none)'}: the title is in ${language}`)
    t.equal(res.json().code, 'not-found', 'the code stays the same in every language')
  }
  const ok = await injectAs('staff', { method: 'GET', url: '/v1/me', headers: { 'accept-language': 'ja' } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['content-language'], 'ja', 'a successful JSON response says its language too')
  t.match(String(ok.headers.vary), /Accept-Language/i)
})

t.test('a sample of problems comes back in Japanese with Accept-Language: ja', async (t) => {
  const test = await buildTestApp(t, { config: { rateLimitPerMinute: 40 } })
  const { app, injectAs } = test
  const ja = { 'accept-language': 'ja-JP' }
  const inJapanese = (name: string, res: { statusCode: number; headers: Record<string, unknown>; json(): Record<string, unknown> }, status: number) => {
    t.equal(res.statusCode, status, `${name}: ${status}`)
    const body = res.json() as { title: string; detail: string; code: string; errors?: Array<{ message: string }> }
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.equal(res.headers['content-language'], 'ja', `${name}: Content-Language ja`)
    t.ok(JAPANESE.test(body.title), `${name}: title in Japanese (${body.title})`)
    t.ok(JAPANESE.test(body.detail), `${name}: detail in Japanese (${body.detail})`)
    for (const e of body.errors ?? []) t.ok(JAPANESE.test(e.message), `${name}: field message in Japanese (${e.message})`)
    return body
  }

  // 401: no token.
  inJapanese('401', await app.inject({ method: 'GET', url: '/v1/me', headers: ja }), 401)
  // 403: a role without the permission.
  inJapanese('403', await injectAs('auditor', { method: 'POST', url: '/v1/cases', headers: ja, payload: caseBody() }), 403)
  // 404: an unknown case, and an unknown route.
  const missing = inJapanese('404', await injectAs('staff', { method: 'GET', url: '/v1/cases/00000000-0000-7000-8000-000000000000', headers: ja }), 404)
  t.equal(missing.detail, '事案が見つかりません。')
  inJapanese('404 route', await injectAs('staff', { method: 'GET', url: '/v1/nowhere', headers: ja }), 404)
  // 422: schema errors (fields too) and a service rule.
  const invalid = inJapanese(
    '422 schema',
    await injectAs('staff', { method: 'POST', url: '/v1/cases', headers: ja, payload: caseBody({ severity: 3, extra: 1 }) }),
    422,
  )
  t.ok(invalid.errors?.length, 'the failing fields are listed')
  // A case to conflict with.
  const staff = { roles: ['staff' as const], sub: 'staff-ja' }
  const created = await injectAs(staff, { method: 'POST', url: '/v1/cases', payload: caseBody() })
  t.equal(created.statusCode, 201)
  const id = created.json().id as string
  const future = inJapanese(
    '422 rule',
    await injectAs(staff, {
      method: 'POST',
      url: `/v1/cases/${id}/events`,
      headers: ja,
      payload: { type: 'contact', occurred_at: new Date(Date.now() + 3600_000).toISOString(), description: '折り返し電話' },
    }),
    422,
  )
  t.same(future.errors?.[0], { pointer: 'body/occurred_at', message: '未来の日時です' })
  // 428 and 412: If-Match missing or stale.
  inJapanese('428', await injectAs(staff, { method: 'PATCH', url: `/v1/cases/${id}`, headers: ja, payload: { severity: 'low' } }), 428)
  const stale = inJapanese(
    '412',
    await injectAs(staff, { method: 'PATCH', url: `/v1/cases/${id}`, headers: { ...ja, 'if-match': '"v99"' }, payload: { severity: 'low' } }),
    412,
  )
  t.match(stale.detail, /"v1"/, 'the values are filled in')
  // 409: a transition the case's status does not allow, naming what it allows.
  const refused = inJapanese(
    '409',
    await injectAs('supervisor', { method: 'POST', url: `/v1/cases/${id}/transitions`, headers: ja, payload: { to: 'closed', reason: '終結' } }),
    409,
  )
  t.ok(Array.isArray((refused as { allowed?: unknown }).allowed), 'the extension members stay as they are')
  // 400: a bad JSON body.
  inJapanese('400', await injectAs(staff, { method: 'POST', url: '/v1/cases', headers: { ...ja, 'content-type': 'application/json' }, payload: '{"a":' }), 400)
  // 429: the rate limit.
  let limited = await injectAs(staff, { method: 'GET', url: '/v1/me', headers: ja })
  for (let i = 0; i < 60 && limited.statusCode !== 429; i++) limited = await injectAs(staff, { method: 'GET', url: '/v1/me', headers: ja })
  inJapanese('429', limited, 429)

  // English stays the default, with the same code.
  const english = await injectAs('staff', { method: 'GET', url: '/v1/cases/00000000-0000-7000-8000-000000000000' })
  t.equal(english.json().detail, 'case not found')
  t.equal(english.json().title, 'Not found')
  t.equal(english.headers['content-language'], 'en')
})

t.test('the retention and deadline explanations are in Japanese with Accept-Language: ja', async (t) => {
  const test = await buildTestApp(t)
  const ja = { 'accept-language': 'ja' }
  const staff = { roles: ['staff' as const], sub: 'staff-ja' }
  const desk = { roles: ['desk' as const], sub: 'desk-ja' }
  const recording = await register(test, staff)
  const url = `/v1/recordings/${recording.id}/retention`
  const retention = await test.injectAs('records_manager', { method: 'GET', url, headers: ja })
  t.equal(retention.statusCode, 200)
  t.equal(retention.headers['content-language'], 'ja')
  const why = retention.json() as { explanation: string[]; next: { detail: string } }
  t.ok(why.explanation.length >= 5)
  t.same(
    why.explanation.filter((line) => !JAPANESE.test(line)),
    [],
    'every line of the retention explanation is Japanese',
  )
  t.ok(JAPANESE.test(why.next.detail), 'and so is what happens next')
  t.ok(
    why.explanation.some((line) => line.includes('起算日')),
    'the 起算日 is named',
  )
  const english = (await test.injectAs('records_manager', { method: 'GET', url })).json() as { explanation: string[] }
  t.ok(
    english.explanation.some((line) => line.startsWith('Kept through')),
    'English without the header',
  )

  // 2025-06-05 + 30 = 2025-07-05, a Saturday: the deadline moves over the weekend.
  const created = await test.injectAs(desk, { method: 'POST', url: '/v1/disclosure-requests', payload: disclosureRequestBody({ received_date: '2025-06-05' }) })
  t.equal(created.statusCode, 201)
  const deadline = await test.injectAs(desk, { method: 'GET', url: `/v1/disclosure-requests/${created.json().id}/deadline`, headers: ja })
  t.equal(deadline.statusCode, 200)
  t.equal(deadline.headers['content-language'], 'ja')
  const lines = deadline.json().explanation as string[]
  t.same(
    lines.filter((line) => !JAPANESE.test(line)),
    [],
    'every line of the deadline explanation is Japanese',
  )
  t.ok(
    lines.some((line) => line.includes('初日不算入') && line.includes('2025-06-06')),
    'counting from the day after receipt',
  )
  t.ok(
    lines.some((line) => line.includes('2025-07-05') && line.includes('閉庁日') && line.includes('2025-07-07')),
    'the move over the weekend',
  )
})
