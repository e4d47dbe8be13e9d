import { spawnSync } from 'node:child_process'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.ts'

const SECRET = 'x'.repeat(40)

t.test('configuration is validated, and one line names the wrong variable', async (t) => {
  const fails = (env: Record<string, string>, variable: RegExp) => t.throws(() => loadConfig(env), { name: 'ConfigError', message: variable })

  fails({ PORT: 'abc' }, /^PORT: /)
  fails({ PORT: '70000' }, /^PORT: /)
  fails({ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /)
  fails({ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: /)
  fails({ AUTH_HS256_SECRET: 'short' }, /^AUTH_HS256_SECRET: /)
  fails({ AUTH_HS256_SECRET: SECRET }, /^AUTH_ISSUER: required/)
  fails({ AUTH_HS256_SECRET: SECRET, AUTH_ISSUER: 'i' }, /^AUTH_AUDIENCE: required/)
  fails({ AUTH_HS256_SECRET: SECRET, AUTH_JWKS_URL: 'https://idp/jwks', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' }, /set only one/)
  fails({ AUTH_CLOCK_TOLERANCE_SECONDS: '120' }, /^AUTH_CLOCK_TOLERANCE_SECONDS: /)
  fails({ AUTH_JWKS_URL: 'https://idp/jwks', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', AUTH_ALGORITHMS: 'HS256' }, /^AUTH_ALGORITHMS: HS256 is not allowed/)
  fails({ AUTH_JWKS_URL: 'https://idp/jwks', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', AUTH_ALGORITHMS: 'none' }, /^AUTH_ALGORITHMS: none is not allowed/)
  fails({ NODE_ENV: 'production' }, /required when NODE_ENV=production/)
  fails({ AUTH_ISSUER: 'i' }, /^AUTH_ISSUER: set together/)

  const defaults = loadConfig({})
  t.match(defaults, { port: 3000, host: '127.0.0.1', databaseUrl: undefined, logLevel: 'info', auth: { mode: 'dev', algorithms: ['HS256'] } })
  const configured = loadConfig({ AUTH_HS256_SECRET: SECRET, AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', PORT: '8080', DATA_DIR: '/tmp/m' })
  t.match(configured, { port: 8080, dataDir: '/tmp/m', auth: { mode: 'hs256', issuer: 'i', audience: 'a' } })
  t.type(new ConfigError('x'), Error)
})

t.test('KEY_ENCRYPTION_SECRET: at least 32 bytes, never echoed; required in production; a development secret otherwise', async (t) => {
  const short = 'too-short-a-secret'
  const error = t.throws(() => loadConfig({ KEY_ENCRYPTION_SECRET: short })) as Error
  t.match(error.message, /^KEY_ENCRYPTION_SECRET: must be at least 32 bytes/)
  t.notMatch(error.message, short, 'the value is not repeated in the error')
  const production = { NODE_ENV: 'production', AUTH_HS256_SECRET: SECRET, AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' }
  t.throws(() => loadConfig(production), { name: 'ConfigError', message: /^KEY_ENCRYPTION_SECRET: required when NODE_ENV=production/ })
  t.match(loadConfig({ ...production, KEY_ENCRYPTION_SECRET: SECRET }), { production: true, keyEncryption: { mode: 'secret', secret: SECRET } })
  t.match(loadConfig({ DATA_DIR: '/tmp/m' }), {
    keyEncryption: { mode: 'dev', secretFile: '/tmp/m/dev-key-encryption-secret' },
    auditCheckpointIntervalMs: 300_000,
  })
  t.throws(() => loadConfig({ AUDIT_CHECKPOINT_INTERVAL_MS: '10' }), { message: /^AUDIT_CHECKPOINT_INTERVAL_MS: / })
})

t.test('the service refuses to start on a bad value, with one clear line', async (t) => {
  const result = spawnSync(process.execPath, ['src/server.ts'], {
    env: { ...process.env, PORT: 'not-a-port', DATABASE_URL: '' },
    encoding: 'utf8',
    timeout: 30_000,
  })
  t.equal(result.status, 1)
  const lines = result.stderr.trim().split('\n')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], /^madoguchi: configuration error: PORT: /)
})

t.test('EXPENSIVE_REQUESTS_PER_SUBJECT: 2 exports or verifications at once by default, 0 for no limit', async (t) => {
  t.equal(loadConfig({}).expensiveRequestsPerSubject, 2)
  t.equal(loadConfig({ EXPENSIVE_REQUESTS_PER_SUBJECT: '0' }).expensiveRequestsPerSubject, 0)
  t.equal(loadConfig({ EXPENSIVE_REQUESTS_PER_SUBJECT: '5' }).expensiveRequestsPerSubject, 5)
  t.throws(() => loadConfig({ EXPENSIVE_REQUESTS_PER_SUBJECT: '-1' }), { name: 'ConfigError', message: /^EXPENSIVE_REQUESTS_PER_SUBJECT: / })
  t.throws(() => loadConfig({ EXPENSIVE_REQUESTS_PER_SUBJECT: 'two' }), { name: 'ConfigError', message: /^EXPENSIVE_REQUESTS_PER_SUBJECT: / })
})
