import crypto from 'node:crypto'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import createClient, { type Client } from 'openapi-fetch'
import { buildApp } from '../../src/app.js'
import type { ProtectionConfig } from '../../src/kernel/protection.plugin.js'
import type { Role } from '../../src/kernel/access.js'
import { createTokenVerifier, signHs256Token } from '../../src/kernel/auth.js'
import type { AuthConfig } from '../../src/kernel/auth.js'
import { connectPostgres, type Db } from '../../src/kernel/db.js'
import { createOrgUnit, ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.js'
import type { paths } from '../../openapi/schema.js'
import { createTestDatabase, type TestDatabase } from './database.js'

export const TEST_ISSUER = 'https://idp.test.example'
export const TEST_AUDIENCE = 'madoguchi-test'
export const TEST_SECRET = crypto.randomBytes(32).toString('hex')

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
  /** Protection settings (rate limits, overload, CORS): off unless given. */
  config?: Partial<ProtectionConfig>
}

/** The service on a fresh database of its own, torn down with the test. */
export async function buildTestApp(t: Teardown, options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase()
  const app = await buildApp({
    config: { logLevel: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent', logPretty: false, trustProxy: false, ...options.config },
    database: database.handle,
    verifyToken: await createTokenVerifier(testAuth),
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

export type ApiClient = Client<paths>

/**
 * The service on a real port, called through the SDK generated from the contract
 * (openapi/schema.d.ts with openapi-fetch), as a third-party front end would.
 */
export async function startTestServer(t: Teardown): Promise<TestApp & { baseUrl: string; client(who: Role | Identity): Promise<ApiClient> }> {
  const test = await buildTestApp(t)
  await test.app.listen({ port: 0, host: '127.0.0.1' })
  const address = test.app.server.address()
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  return {
    ...test,
    baseUrl,
    client: async (who) => createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${await tokenFor(who)}` } }),
  }
}

/**
 * A second instance of the service on a test app's database, as another process behind the load
 * balancer would be: on PostgreSQL with a connection pool of its own; on the embedded database
 * sharing its one engine. Its `db` is what that instance's background jobs would run on.
 */
export async function anotherInstance(t: Teardown, test: TestApp): Promise<{ app: FastifyInstance; db: Db }> {
  const handle = test.database.url ? connectPostgres(test.database.url, 5) : test.database.handle
  const app = await buildApp({
    config: { logLevel: 'silent', logPretty: false, trustProxy: false },
    database: handle,
    verifyToken: await createTokenVerifier(testAuth),
  })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    if (test.database.url) await handle.close()
  })
  return { app, db: handle.db }
}
