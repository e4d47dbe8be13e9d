import net from 'node:net'
import path from 'node:path'
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'
import type { AuthConfig } from './kernel/auth.ts'
import { ConfigError } from './kernel/errors.ts'
import type { ProtectionConfig } from './kernel/protection.plugin.ts'
import type { KeyEncryptionConfig } from './keys/key-encryption.ts'
import type { MediaGrantSettings } from './media-grants/media-grants.service.ts'

/** Exports and verifications of the audit chain one subject may run at once (EXPENSIVE_REQUESTS_PER_SUBJECT's default). */
export const EXPENSIVE_REQUESTS_PER_SUBJECT = 2

// Every setting the service reads, in one schema. Values come from the environment only,
// are validated once at start, and a wrong one stops the service with one line naming it.
const EnvSchema = Type.Object({
  NODE_ENV: Type.Optional(Type.Enum(['development', 'production', 'test'])),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  PUBLIC_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' })),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  AUTH_JWKS_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  AUTH_JWKS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  AUTH_HS256_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  AUTH_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  AUTH_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  AUTH_ALGORITHMS: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]+(,[A-Za-z0-9]+)*$' })),
  AUTH_CLOCK_TOLERANCE_SECONDS: Type.Integer({ minimum: 0, maximum: 60, default: 30 }),
  TRUST_PROXY: Type.Optional(Type.String({ minLength: 1 })),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  LOG_PRETTY: Type.Enum(['true', 'false'], { default: 'false' }),
  BACKGROUND_JOBS: Type.Enum(['true', 'false'], { default: 'true' }),
  BACKGROUND_SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 5000 }),
  AUDIT_CHAIN_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 600000, default: 1000 }),
  AUDIT_CHECKPOINT_INTERVAL_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 300000 }),
  // Checked in bytes below, never echoed in an error.
  KEY_ENCRYPTION_SECRET: Type.Optional(Type.String()),
  CORS_ORIGINS: Type.Optional(Type.String({ pattern: '^https?://[^,\\s/]+(,https?://[^,\\s/]+)*$' })),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, maximum: 1000000, default: 600 }),
  EXPENSIVE_REQUESTS_PER_SUBJECT: Type.Integer({ minimum: 0, maximum: 100, default: EXPENSIVE_REQUESTS_PER_SUBJECT }),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000 }),
  OVERLOAD_MAX_WAITING_QUERIES: Type.Integer({ minimum: 0, maximum: 100000, default: 200 }),
  RETENTION_SWEEP_INTERVAL_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 3600000 }),
  DISCLOSURE_DEADLINE_INTERVAL_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 60000 }),
  MEDIA_GRANT_TTL_SECONDS: Type.Integer({ minimum: 30, maximum: 3600, default: 300 }),
  MEDIA_GRANT_ISSUER: Type.String({ minLength: 1, maxLength: 200, default: 'madoguchi' }),
  MEDIA_GRANT_AUDIENCE: Type.String({ minLength: 1, maxLength: 200, default: 'madoguchi-media' }),
  CHANGE_FEED_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 600000, default: 500 }),
  INCIDENT_DEADLINES_INTERVAL_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 300000 }),
  WEBHOOK_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 600000, default: 1000 }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 10000 }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 12 }),
  WEBHOOK_RETRY_BASE_SECONDS: Type.Integer({ minimum: 1, maximum: 86400, default: 10 }),
  WEBHOOK_RETRY_MAX_SECONDS: Type.Integer({ minimum: 1, maximum: 604800, default: 3600 }),
  WEBHOOK_PARALLEL_PER_WEBHOOK: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  WEBHOOK_PRIVATE_NETWORKS: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?(,[0-9A-Fa-f:.]+(/[0-9]{1,3})?)*$' })),
})
type Env = Static<typeof EnvSchema>

const checkEnv = Compile(EnvSchema)

/**
 * The server the contract names when PUBLIC_BASE_URL is unset and the service is not listening
 * (the committed openapi.json): the default listening address.
 */
export const DEFAULT_PUBLIC_BASE_URL = 'http://127.0.0.1:3000'

export interface Config {
  production: boolean
  port: number
  host: string
  /** Where clients reach the service (the contract's `servers`); unset: the listening address. */
  publicBaseUrl: string | undefined
  /** Port of the Prometheus metrics listener (on HOST, apart from the API); null: no metrics. */
  metricsPort: number | null
  databaseUrl: string | undefined
  databasePoolSize: number
  dataDir: string
  auth: AuthConfig
  /** Fastify's trustProxy: whether, which, or how many proxies set X-Forwarded-For (for client addresses). */
  trustProxy: boolean | string | ((address: string, hop: number) => boolean)
  logLevel: Env['LOG_LEVEL']
  logPretty: boolean
  backgroundJobs: boolean
  /** How long shutdown waits for background rounds in progress (after aborting webhook attempts). */
  backgroundShutdownTimeoutMs: number
  auditChainIntervalMs: number
  /** How often this instance signs a checkpoint of the audit chain (when the chain has grown). */
  auditCheckpointIntervalMs: number
  keyEncryption: KeyEncryptionConfig
  /** Browser origins allowed to call the API (CORS); empty: none. */
  corsOrigins: string[]
  /** Requests per subject per minute (0: no limit). */
  rateLimitPerMinute: number
  /** Exports and verifications of the audit chain one subject may run at once, across instances (0: no limit). */
  expensiveRequestsPerSubject: number
  overload: NonNullable<ProtectionConfig['overload']>
  /** How often this instance runs the retention sweep (every instance may; one sweeps at a time). */
  retentionSweepIntervalMs: number
  /** How often this instance publishes due disclosure-deadline notices (every instance may; each notice goes out once). */
  disclosureDeadlineIntervalMs: number
  mediaGrants: MediaGrantSettings
  /** How often committed changes get their feed positions (readers also do it on demand). */
  changeFeedIntervalMs: number
  /** How often this instance looks for incident report deadlines to warn about (each warning goes out once). */
  incidentDeadlinesIntervalMs: number
  webhooks: WebhookConfig
}

/** Webhook delivery: where it may go, how long it waits, how it retries. */
export interface WebhookConfig {
  intervalMs: number
  timeoutMs: number
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  /** Deliveries of one webhook in flight at once: 1 keeps feed order; more is faster and unordered. */
  parallelPerWebhook: number
  /** CIDRs of private or loopback addresses webhooks may target (with plain http too); public addresses need https. */
  privateNetworks: string[]
}

export { ConfigError }

/** The issuer and audience that `npm run token` and the development secret use. */
export const DEV_ISSUER = 'madoguchi-dev'
export const DEV_AUDIENCE = 'madoguchi'

const MIN_KEY_ENCRYPTION_SECRET_BYTES = 32

const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as in most deployment tools.
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const env = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw)) as Env
  const firstError = checkEnv.Errors(env)[0]
  if (firstError) {
    const name = firstError.instancePath.replace(/^\//, '') || String(Object.values(firstError.params)[0] ?? '')
    const got = name && name in raw ? ` (got ${JSON.stringify(raw[name])})` : ''
    throw new ConfigError(`${name}: ${firstError.message}${got}`)
  }

  const dataDir = path.resolve(env.DATA_DIR)
  const production = env.NODE_ENV === 'production'
  return {
    production,
    port: env.PORT,
    host: env.HOST,
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    metricsPort: metricsPort(env),
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    dataDir,
    auth: authConfig(env, dataDir, production),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    logLevel: env.LOG_LEVEL,
    logPretty: env.LOG_PRETTY === 'true',
    backgroundJobs: env.BACKGROUND_JOBS === 'true',
    backgroundShutdownTimeoutMs: env.BACKGROUND_SHUTDOWN_TIMEOUT_MS,
    auditChainIntervalMs: env.AUDIT_CHAIN_INTERVAL_MS,
    auditCheckpointIntervalMs: env.AUDIT_CHECKPOINT_INTERVAL_MS,
    keyEncryption: keyEncryptionConfig(env, dataDir, production),
    corsOrigins: env.CORS_ORIGINS ? env.CORS_ORIGINS.split(',') : [],
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    expensiveRequestsPerSubject: env.EXPENSIVE_REQUESTS_PER_SUBJECT,
    overload: { maxEventLoopDelayMs: env.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, maxWaitingQueries: env.OVERLOAD_MAX_WAITING_QUERIES },
    retentionSweepIntervalMs: env.RETENTION_SWEEP_INTERVAL_MS,
    disclosureDeadlineIntervalMs: env.DISCLOSURE_DEADLINE_INTERVAL_MS,
    mediaGrants: { ttlSeconds: env.MEDIA_GRANT_TTL_SECONDS, issuer: env.MEDIA_GRANT_ISSUER, audience: env.MEDIA_GRANT_AUDIENCE },
    changeFeedIntervalMs: env.CHANGE_FEED_INTERVAL_MS,
    incidentDeadlinesIntervalMs: env.INCIDENT_DEADLINES_INTERVAL_MS,
    webhooks: {
      intervalMs: env.WEBHOOK_INTERVAL_MS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: env.WEBHOOK_RETRY_BASE_SECONDS * 1000,
      retryMaxMs: Math.max(env.WEBHOOK_RETRY_MAX_SECONDS, env.WEBHOOK_RETRY_BASE_SECONDS) * 1000,
      parallelPerWebhook: env.WEBHOOK_PARALLEL_PER_WEBHOOK,
      privateNetworks: privateNetworks(env.WEBHOOK_PRIVATE_NETWORKS),
    },
  }
}

// Metrics never share the API's port: they are not for the public.
function metricsPort(env: Env): number | null {
  if (env.METRICS_PORT === undefined) return null
  if (env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) throw new ConfigError(`METRICS_PORT: must differ from PORT (${env.PORT})`)
  return env.METRICS_PORT
}

// Validated here so a typo stops the service at start rather than blocking deliveries later.
function privateNetworks(value: string | undefined): string[] {
  if (value === undefined) return []
  const networks = value.split(',')
  for (const network of networks) {
    const [address, prefix] = network.split('/')
    const family = net.isIP(address ?? '')
    const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix)
    if (family === 0 || bits > (family === 4 ? 32 : 128)) throw new ConfigError(`WEBHOOK_PRIVATE_NETWORKS: ${network} is not an address or CIDR range`)
  }
  return networks
}

function keyEncryptionConfig(env: Env, dataDir: string, production: boolean): KeyEncryptionConfig {
  const secret = env.KEY_ENCRYPTION_SECRET
  if (secret === undefined) {
    if (production) throw new ConfigError('KEY_ENCRYPTION_SECRET: required when NODE_ENV=production (at least 32 bytes, e.g. openssl rand -hex 32)')
    return { mode: 'dev', secretFile: path.join(dataDir, 'dev-key-encryption-secret') }
  }
  if (Buffer.byteLength(secret, 'utf8') < MIN_KEY_ENCRYPTION_SECRET_BYTES) {
    throw new ConfigError(`KEY_ENCRYPTION_SECRET: must be at least ${MIN_KEY_ENCRYPTION_SECRET_BYTES} bytes (e.g. openssl rand -hex 32)`)
  }
  return { mode: 'secret', secret }
}

function authConfig(env: Env, dataDir: string, production: boolean): AuthConfig {
  const sources = (['AUTH_JWKS_URL', 'AUTH_JWKS_FILE', 'AUTH_HS256_SECRET'] as const).filter((k) => env[k] !== undefined)
  if (sources.length > 1) {
    throw new ConfigError(`${sources.join(', ')}: set only one of AUTH_JWKS_URL, AUTH_JWKS_FILE, AUTH_HS256_SECRET`)
  }
  const clockToleranceSeconds = env.AUTH_CLOCK_TOLERANCE_SECONDS
  const source = sources[0]
  if (source === undefined) {
    // No key source configured: local development with a secret kept in DATA_DIR.
    if (production) throw new ConfigError('AUTH_JWKS_URL: one of AUTH_JWKS_URL, AUTH_JWKS_FILE, AUTH_HS256_SECRET is required when NODE_ENV=production')
    if (env.AUTH_ISSUER !== undefined || env.AUTH_AUDIENCE !== undefined) {
      throw new ConfigError('AUTH_ISSUER: set together with one of AUTH_JWKS_URL, AUTH_JWKS_FILE, AUTH_HS256_SECRET')
    }
    return {
      mode: 'dev',
      secretFile: path.join(dataDir, 'dev-jwt-secret'),
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      algorithms: ['HS256'],
      clockToleranceSeconds,
    }
  }
  if (env.AUTH_ISSUER === undefined) throw new ConfigError(`AUTH_ISSUER: required when ${source} is set`)
  if (env.AUTH_AUDIENCE === undefined) throw new ConfigError(`AUTH_AUDIENCE: required when ${source} is set`)
  const common = { issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE, clockToleranceSeconds }
  if (source === 'AUTH_HS256_SECRET') {
    if (Buffer.byteLength(env.AUTH_HS256_SECRET!, 'utf8') < 32) throw new ConfigError('AUTH_HS256_SECRET: must be at least 32 bytes')
    return { mode: 'hs256', secret: env.AUTH_HS256_SECRET!, algorithms: algorithms(env, ['HS256'], ['HS256']), ...common }
  }
  const allowed = algorithms(env, ASYMMETRIC_ALGORITHMS, ['RS256', 'PS256', 'ES256', 'EdDSA'])
  if (source === 'AUTH_JWKS_URL') return { mode: 'jwks-url', url: new URL(env.AUTH_JWKS_URL!), algorithms: allowed, ...common }
  return { mode: 'jwks-file', file: path.resolve(env.AUTH_JWKS_FILE!), algorithms: allowed, ...common }
}

// The allow-list of signature algorithms; `none` and algorithms of the other key kind never pass.
function algorithms(env: Env, permitted: string[], defaults: string[]): string[] {
  if (env.AUTH_ALGORITHMS === undefined) return defaults
  const wanted = env.AUTH_ALGORITHMS.split(',')
  const bad = wanted.find((a) => !permitted.includes(a))
  if (bad !== undefined) throw new ConfigError(`AUTH_ALGORITHMS: ${bad} is not allowed here (allowed: ${permitted.join(', ')})`)
  return wanted
}

function parseTrustProxy(value: string | undefined): Config['trustProxy'] {
  if (value === undefined || value === 'false') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) {
    const hops = Number(value) // trust that many proxies in front of the service
    return (_address, hop) => hop < hops
  }
  return value // addresses or CIDR ranges, comma separated, as Fastify accepts them
}
