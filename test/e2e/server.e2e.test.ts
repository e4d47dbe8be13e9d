import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { expectStatus } from '../helpers/expect.ts'
import { startServiceProcess } from '../helpers/process.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * What a new user does: `npm start` (embedded database, no configuration), then a token from
 * `npm run token`, then /v1/me. And a SIGTERM ends it cleanly with exit code 0.
 */
t.test('start on the embedded database, get a token, call the API, stop on SIGTERM', { skip: databaseIndependent }, async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-start-'))
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))
  const env = { ...process.env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', DATABASE_URL: '', AUTH_HS256_SECRET: '', AUTH_ISSUER: '', AUTH_AUDIENCE: '' }

  const server = await startServiceProcess(t, env)
  const base = server.base
  t.match(server.stderr(), /API docs: +http:\/\/\S+\/docs/, 'the banner names the docs page')
  t.match(server.stderr(), /npm run token -- --role supervisor/, 'the banner says how to get a token')

  expectStatus(t, await fetch(`${base}/readyz`), 200, '/readyz answers')

  const token = spawnSync(process.execPath, ['src/cli/token.ts', '--role', 'supervisor'], { env, encoding: 'utf8' })
  t.equal(token.status, 0, token.stderr)
  const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } })
  expectStatus(t, me, 200)
  t.match(await me.json(), { subject: 'dev-supervisor', roles: ['supervisor'] })

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'exit 0 after SIGTERM')
})
