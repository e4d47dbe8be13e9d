import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startServiceProcess } from '../helpers/process.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * The key-encryption secret as an operator meets it: a trial on the development secret, a
 * restart with another secret refused in one line, `npm run keys:reencrypt` to a configured
 * secret, and a start with it signing with the same keys.
 */

const kids = async (url: string) => ((await (await fetch(url)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort()

t.test('development secret, a wrong secret refused at start, re-encryption to a configured secret', { skip: databaseIndependent }, async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-keys-'))
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))
  const env = { ...process.env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', DATABASE_URL: '', KEY_ENCRYPTION_SECRET: '', BACKGROUND_JOBS: 'false' }

  const trial = await startServiceProcess(t, env)
  t.match(trial.stderr(), /Keys: +signing keys encrypted with a development key-encryption secret in \S+dev-key-encryption-secret \(key id [0-9a-f]{16}\)/)
  t.match(trial.stderr(), /a database dump alone is useless, but DATA_DIR holds both/)
  const secretFile = path.join(dataDir, 'dev-key-encryption-secret')
  t.equal((await fs.stat(secretFile)).mode & 0o777, 0o600, 'the development secret is readable by its owner only')
  const grantKeys = await kids(`${trial.base}/.well-known/jwks.json`)
  const checkpointKeys = await kids(`${trial.base}/.well-known/audit-checkpoint-jwks.json`)
  t.equal(grantKeys.length, 1)
  t.equal(checkpointKeys.length, 1)
  t.equal(await trial.stop(), 0)

  const next = crypto.randomBytes(32).toString('hex')
  const wrong = spawnSync(process.execPath, ['src/server.ts'], {
    env: { ...env, KEY_ENCRYPTION_SECRET: next },
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.equal(wrong.status, 1, 'another secret: the service does not start')
  const lines = wrong.stderr.trim().split('\n')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], /^madoguchi: configuration error: KEY_ENCRYPTION_SECRET: the signing keys do not open with it .*npm run keys:reencrypt/)

  const cli = (extra: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['src/cli/keys-reencrypt.ts'], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 })
  const refused = cli({ KEY_ENCRYPTION_SECRET: next, KEY_ENCRYPTION_SECRET_OLD: crypto.randomBytes(32).toString('hex') })
  t.equal(refused.status, 1, 'a wrong old secret is refused')
  t.match(refused.stderr, /^keys:reencrypt: .*not the one in use; nothing was changed/)
  const done = cli({ KEY_ENCRYPTION_SECRET: next })
  t.equal(done.status, 0, done.stderr)
  t.match(JSON.parse(done.stdout), { already: [], to_kek_id: /^[0-9a-f]{16}$/ })
  t.same(JSON.parse(done.stdout).reencrypted.sort(), [...grantKeys, ...checkpointKeys].sort(), 'from the development secret in DATA_DIR to the new one')

  const configured = await startServiceProcess(t, { ...env, KEY_ENCRYPTION_SECRET: next })
  t.match(configured.stderr(), new RegExp(`Keys: +signing keys encrypted with KEY_ENCRYPTION_SECRET \\(key id ${JSON.parse(done.stdout).to_kek_id}\\)`))
  t.same(await kids(`${configured.base}/.well-known/jwks.json`), grantKeys, 'the same keys, now sealed with the configured secret')
  t.equal(await configured.stop(), 0)
})
