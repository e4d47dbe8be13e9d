import crypto from 'node:crypto'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { createMadoguchiClient, type MadoguchiClient, type MadoguchiClientOptions } from '@madoguchi/sdk'
import { buildApp, type AppDependencies } from '../../src/app.ts'
import type { Role } from '../../src/kernel/access.ts'
import { createTokenVerifier, signHs256Token } from '../../src/kernel/auth.ts'
import { connectPostgres, type Db } from '../../src/kernel/db.ts'
import type { AuthConfig } from '../../src/kernel/auth.ts'
import { KeyEncryptionKey } from '../../src/keys/key-encryption.ts'
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts'
import { createOrgUnit, ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { createTestDatabase, type TestDatabase } from './database.ts'

export const TEST_ISSUER = 'https://idp.test.example'
export const TEST_AUDIENCE = 'madoguchi-test'
export const TEST_SECRET = crypto.randomBytes(32).toString('hex')
/** The key-encryption secret tests run with (the server takes it from KEY_ENCRYPTION_SECRET). */
const TEST_KEY_ENCRYPTION_SECRET = crypto.randomBytes(32).toString('hex')
export const testKeyEncryption = KeyEncryptionKey.fromSecret(TEST_KEY_ENCRYPTION_SECRET)

export const testAuth: AuthConfig = {
  mode: 'hs256',
  secret: TEST_SECRET,
  issuer: TEST_ISSUER,
  audience: TEST_AUDIENCE,
  algorithms: ['HS256'],
  clockToleranceSeconds: 30,
}

export interface Identity {
  roles: Role[]
  unit?: string
  sub?: string
  name?: string
  familyName?: string
  businessName?: string
}

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface TestApp {
  app: FastifyInstance
  db: Db
  database: TestDatabase
  /** With `metrics: true`. */
  metrics: Metrics | undefined
  /** A token for a role (in the root unit) or a full identity. */
  token(who: Role | Identity): Promise<string>
  /** app.inject with a bearer token for `who`. */
  injectAs(who: Role | Identity, options: InjectOptions): Promise<LightMyRequestResponse>
  /** Creates an org unit under `parent` (default: the root) and returns its id. */
  orgUnit(code: string, parent?: string): Promise<string>
}

function identity(who: Role | Identity): Identity {
  return typeof who === 'string' ? { roles: [who] } : who
}

export async function tokenFor(who: Role | Identity, overrides: { expiresIn?: number } = {}): Promise<string> {
  const id = identity(who)
  return signHs256Token(new TextEncoder().encode(TEST_SECRET), TEST_ISSUER, TEST_AUDIENCE, {
    subject: id.sub ?? `user-${id.roles.join('-')}`,
    name: id.name ?? `Test ${id.roles.join('+')}`,
    familyName: id.familyName,
    businessName: id.businessName,
    roles: id.roles,
    orgUnit: id.unit ?? ROOT_ORG_UNIT_ID,
    ...overrides,
  })
}

export interface TestAppOptions {
  /** Protection settings (rate limits, overload, CORS): off unless given; PUBLIC_BASE_URL, webhook targets. */
  config?: Partial<AppDependencies['config']>
  /** Prometheus metrics, with the database-derived ones read afresh on every scrape. */
  metrics?: boolean
}

/** The service on a fresh database of its own, torn down with the test. */
export async function buildTestApp(t: Teardown, options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase()
  const metrics = options.metrics ? createMetrics(database.handle, { databaseReadEveryMs: 0 }) : undefined
  const app = await buildApp({
    config: { logLevel: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent', logPretty: false, trustProxy: false, ...options.config },
    database: database.handle,
    verifyToken: await createTokenVerifier(testAuth),
    metrics,
    keyEncryption: testKeyEncryption,
  })
  t.teardown(async () => {
    await app.close()
    await database.drop()
  })
  await app.ready()
  const db = database.handle.db
  return {
    app,
    db,
    database,
    metrics,
    token: (who) => tokenFor(who),
    injectAs: async (who, options) => {
      const headers = { ...(options.headers ?? {}), authorization: `Bearer ${await tokenFor(who)}` }
      return app.inject({ ...options, headers })
    },
    orgUnit: async (code, parent = ROOT_ORG_UNIT_ID) => {
      const unit = await createOrgUnit(db, { parentId: parent, code, name: code, createdBy: 'test' })
      if (!unit) throw new Error(`no parent unit ${parent}`)
      return unit.id
    },
  }
}

export type ApiClient = MadoguchiClient

/**
 * The service on a real port, called through the SDK package (@madoguchi/sdk), as a third-party
 * front end would: a token provider signs a token for `who` before every request.
 */
export async function startTestServer(
  t: Teardown,
  options: TestAppOptions = {},
): Promise<TestApp & { baseUrl: string; client(who: Role | Identity, options?: Partial<MadoguchiClientOptions>): Promise<ApiClient> }> {
  const test = await buildTestApp(t, options)
  await test.app.listen({ port: 0, host: '127.0.0.1' })
  const address = test.app.server.address()
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  return {
    ...test,
    baseUrl,
    client: async (who, options = {}) => createMadoguchiClient({ baseUrl, token: () => tokenFor(who), ...options }),
  }
}

/**
 * Another instance of the service on the same database, on a real port, as another process behind
 * the load balancer would be: its own connection pool on PostgreSQL (the embedded database has one
 * connection, which both share). Its `db` is what that instance's background jobs would run on.
 */
export async function startSecondInstance(
  t: Teardown,
  first: TestApp,
): Promise<{ app: FastifyInstance; db: Db; baseUrl: string; client(who: Role | Identity): Promise<ApiClient> }> {
  const handle = first.database.url ? connectPostgres(first.database.url, 4) : first.database.handle
  const app = await buildApp({
    config: { logLevel: 'silent', logPretty: false, trustProxy: false },
    database: handle,
    verifyToken: await createTokenVerifier(testAuth),
    keyEncryption: testKeyEncryption,
  })
  t.teardown(async () => {
    await app.close()
    if (handle !== first.database.handle) await handle.close().catch(() => {})
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  return {
    app,
    db: handle.db,
    baseUrl,
    client: async (who) => createMadoguchiClient({ baseUrl, token: () => tokenFor(who) }),
  }
}
