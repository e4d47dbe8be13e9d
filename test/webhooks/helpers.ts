import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../src/app.ts'
import type { Role } from '../../src/kernel/access.ts'
import { createTokenVerifier } from '../../src/kernel/auth.ts'
import { connectPostgres, type DatabaseHandle } from '../../src/kernel/db.ts'
import { TargetPolicy } from '../../src/webhooks/targets.ts'
import type { DeliveryOptions } from '../../src/webhooks/worker.ts'
import { testAuth, testKeyEncryption, tokenFor, type Identity } from '../helpers/app.ts'
import type { TestDatabase } from '../helpers/database.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** Tests deliver to a receiver on 127.0.0.1, so that address is allowed (WEBHOOK_PRIVATE_NETWORKS). */
export const LOOPBACK = ['127.0.0.1/32']

export const workerOptions = (over: Partial<DeliveryOptions> = {}): DeliveryOptions => ({
  timeoutMs: 2000,
  maxAttempts: 3,
  retryBaseMs: 200,
  retryMaxMs: 800,
  targets: new TargetPolicy(LOOPBACK),
  ...over,
})

export interface ServiceInstance {
  app: FastifyInstance
  handle: DatabaseHandle
  injectAs(who: Role | Identity, options: InjectOptions): Promise<LightMyRequestResponse>
  /** Stops this instance like a shutdown: the app, and its own connection pool. */
  stop(): Promise<void>
}

/**
 * One instance of the service on a test database: on PostgreSQL with a connection pool of its
 * own (as a restarted process would have); on the embedded database sharing its one engine.
 */
export async function startInstance(t: Teardown, database: TestDatabase): Promise<ServiceInstance> {
  const handle = database.url ? connectPostgres(database.url, 5) : database.handle
  const app = await buildApp({
    config: { logLevel: 'silent', logPretty: false, trustProxy: false, webhooks: { privateNetworks: LOOPBACK } },
    database: handle,
    verifyToken: await createTokenVerifier(testAuth),
    keyEncryption: testKeyEncryption,
  })
  await app.ready()
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await app.close()
    if (database.url) await handle.close()
  }
  t.teardown(stop)
  return {
    app,
    handle,
    stop,
    injectAs: async (who, options) => app.inject({ ...options, headers: { ...(options.headers ?? {}), authorization: `Bearer ${await tokenFor(who)}` } }),
  }
}

export interface Received {
  headers: http.IncomingHttpHeaders
  body: string
  at: number
}

/**
 * A webhook receiver on 127.0.0.1; `respond` decides each answer's status, now or later (a
 * promise), or hangs with null.
 */
export async function startReceiver(t: Teardown, respond: (request: Received, index: number) => number | null | Promise<number | null> = () => 200, port = 0) {
  const received: Received[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
    req.on('end', async () => {
      const entry = { headers: req.headers, body, at: Date.now() }
      received.push(entry)
      const status = await respond(entry, received.length - 1)
      if (status === null) return // hang: the sender's timeout has to end it
      if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  t.teardown(close)
  const address = server.address() as AddressInfo
  return { received, url: `http://127.0.0.1:${address.port}/hooks/madoguchi`, port: address.port, close }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls until `check` holds (or fails the wait after `ms`). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(50)
  }
  return false
}
