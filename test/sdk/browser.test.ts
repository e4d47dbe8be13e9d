import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { serveExample } from '../../sdk/examples/browser/serve.ts'
import { startTestServer } from '../helpers/app.ts'
import { expectStatus } from '../helpers/expect.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * A real browser: headless Chromium opens the example page (sdk/examples/browser) on its own
 * origin, a token is pasted in, and the page creates a case and an event through the built
 * package, across CORS, against the service on a real port. The API then shows the case.
 * Chromium is Debian's package (.ci/run installs it); without it the test is skipped, unless
 * REQUIRE_TEST_TOOLS is set (as in CI).
 */
const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
]

const hasChromium = await fs.access(CHROMIUM).then(
  () => true,
  () => false,
)

t.test(
  'the browser example creates a case and an event through the built SDK',
  { skip: databaseIndependent || (hasChromium || process.env.REQUIRE_TEST_TOOLS ? false : `no ${CHROMIUM}`) },
  async (t) => {
    // The page imports the built package: build it now, so it is never stale.
    const build = spawnSync('npm', ['run', '-s', 'sdk:build'], { encoding: 'utf8' })
    t.equal(build.status, 0, `npm run sdk:build: ${build.stderr}`)

    const example = await serveExample(0)
    t.teardown(() => example.close())
    const server = await startTestServer(t, { config: { corsOrigins: [example.origin] } })
    const unit = await server.orgUnit('browser-ka')
    const staff = { roles: ['staff' as const], unit, sub: 'staff-browser', name: '窓口 花子' }

    const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-chromium-'))
    const browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: FLAGS })
    t.teardown(async () => {
      await browser.close()
      await fs.rm(userDataDir, { recursive: true, force: true })
    })
    const page = await browser.newPage()
    const consoleErrors: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
    page.on('response', (response) => {
      if (response.status() >= 400) consoleErrors.push(`${response.status()} ${response.url()}`)
    })

    await page.goto(`${example.origin}/?api=${encodeURIComponent(server.baseUrl)}`)
    await page.fill('#token', await server.token(staff))
    await page.fill('#summary', 'ブラウザから記録: 窓口で大声')
    await page.selectOption('#event', 'limited_apology')
    await page.click('#create')
    await page.waitForSelector('#result[data-case-id], #error:not(:empty)', { timeout: 30_000 })
    t.equal(await page.textContent('#error'), '', 'no error shown')
    const caseId = await page.getAttribute('#result', 'data-case-id')
    t.match(caseId, /^[0-9a-f-]{36}$/, `the page shows the case: ${await page.textContent('#result')}`)
    t.same(consoleErrors, [], 'no errors in the console (CORS included)')

    // Through the API, as the supervisor of the unit: the case and its event exist.
    const supervisor = await server.client({ roles: ['supervisor'], unit, sub: 'sup-browser' })
    const kase = await supervisor.GET('/v1/cases/{id}', { params: { path: { id: caseId! } } })
    expectStatus(t, kase, 200)
    t.match(kase.data, { summary: 'ブラウザから記録: 窓口で大声', created_by: { id: 'staff-browser' } })
    const events = await supervisor.GET('/v1/cases/{id}/events', { params: { path: { id: caseId! } } })
    t.ok(
      events.data?.items.some((e) => e.type === 'limited_apology'),
      'the event was appended',
    )

    // A page on an origin the service does not list gets no answer it may read.
    const stranger = await serveExample(0)
    t.teardown(() => stranger.close())
    await page.goto(`${stranger.origin}/?api=${encodeURIComponent(server.baseUrl)}`)
    await page.fill('#token', await server.token(staff))
    await page.click('#create')
    await page.waitForSelector('#error:not(:empty)', { timeout: 30_000 })
    t.match(await page.textContent('#error'), /could not reach/, 'CORS refuses other origins')
  },
)
