import fs from 'node:fs/promises'
import t from 'tap'
import { DEFAULT_PUBLIC_BASE_URL, loadConfig } from '../../src/config.ts'
import { buildTestApp, startTestServer } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'

/**
 * The contract's `servers`: PUBLIC_BASE_URL when configured, else the address the service
 * listens on; the committed document always names the default listening address, so it is the
 * same wherever it is generated.
 */
t.test('the committed contract names the default listening address', async (t) => {
  const committed = JSON.parse(await fs.readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as { servers: unknown }
  t.same(committed.servers, [{ url: 'http://127.0.0.1:3000', description: 'This service' }])
  t.equal(DEFAULT_PUBLIC_BASE_URL, 'http://127.0.0.1:3000')
})

t.test('PUBLIC_BASE_URL is validated and loses its trailing slash', async (t) => {
  t.equal(loadConfig({ PUBLIC_BASE_URL: 'https://madoguchi.city.example.lg.jp/' }).publicBaseUrl, 'https://madoguchi.city.example.lg.jp')
  t.equal(loadConfig({ PUBLIC_BASE_URL: 'https://city.example.lg.jp/madoguchi' }).publicBaseUrl, 'https://city.example.lg.jp/madoguchi')
  t.equal(loadConfig({}).publicBaseUrl, undefined)
  t.throws(() => loadConfig({ PUBLIC_BASE_URL: 'madoguchi.example.lg.jp' }), { name: 'ConfigError', message: /^PUBLIC_BASE_URL: / })
  t.throws(() => loadConfig({ PUBLIC_BASE_URL: 'https://x.example/?a=1' }), { name: 'ConfigError', message: /^PUBLIC_BASE_URL: / })
})

t.test('the served contract and the docs page name PUBLIC_BASE_URL', async (t) => {
  const { app } = await buildTestApp(t, { config: { publicBaseUrl: 'https://madoguchi.city.example.lg.jp' } })
  for (const url of ['/openapi.json', '/docs/json']) {
    const res = await app.inject({ method: 'GET', url })
    expectStatus(t, res, 200)
    t.same(res.json().servers, [{ url: 'https://madoguchi.city.example.lg.jp', description: 'This service' }], url)
  }
})

t.test('without PUBLIC_BASE_URL, the address the service listens on', async (t) => {
  const server = await startTestServer(t)
  const served = (await (await fetch(`${server.baseUrl}/openapi.json`)).json()) as { servers: Array<{ url: string }> }
  t.equal(served.servers[0]?.url, server.baseUrl)
  const docs = (await (await fetch(`${server.baseUrl}/docs/json`)).json()) as { servers: Array<{ url: string }> }
  t.equal(docs.servers[0]?.url, server.baseUrl)
})
