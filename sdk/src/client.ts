import createClient, { type ClientOptions, type MaybeOptionalInit, type Middleware } from 'openapi-fetch'
import { operations } from './generated/operations.js'
import type { ClientMethod, ClientPaths as paths, DataOf, InitParam, PagedPath, Problem } from './types.js'

/** A bearer token, or a function that gives one (called before every request, so tokens can refresh). */
export type TokenProvider = string | (() => string | Promise<string>)

export interface RetryOptions {
  /** Attempts in all, the first included (default 3). */
  attempts?: number
  /** Longest wait between attempts; a longer Retry-After gives the answer back instead (default 30 s). */
  maxDelayMs?: number
}

export interface MadoguchiClientOptions extends Omit<ClientOptions, 'fetch' | 'baseUrl'> {
  /** Where the API is, e.g. `https://madoguchi.city.example.lg.jp` (no trailing /v1). */
  baseUrl: string
  /** Sent as `Authorization: Bearer …` on every request. */
  token?: TokenProvider
  /** Bounded retries of 429 and 503 for requests that are safe to repeat; `false` turns them off. */
  retry?: RetryOptions | false
  /** Send an Idempotency-Key on operations that accept one when the call gives none (default true). */
  idempotencyKeys?: boolean
  /** Send If-Match with the ETag of the last read of the record, when the call gives none (default true). */
  ifMatch?: boolean
  /** The fetch to use (default: the global fetch, looked up at call time). */
  fetch?: (request: Request) => Promise<Response>
}

/**
 * The client: openapi-fetch's calls (`api.GET('/v1/cases/{id}', { params })` resolving to
 * `{ data, error, response }`) with the error typed as the operation's problems, and `pages()`.
 */
export interface MadoguchiClient {
  GET: ClientMethod<'get'>
  PUT: ClientMethod<'put'>
  POST: ClientMethod<'post'>
  DELETE: ClientMethod<'delete'>
  PATCH: ClientMethod<'patch'>
  /**
   * Every page of a cursor-paged listing, following `next_cursor` until it is null. A page that
   * fails throws a MadoguchiProblem.
   */
  pages<P extends PagedPath, Init extends MaybeOptionalInit<paths[P], 'get'>>(
    url: P,
    ...init: InitParam<Init>
  ): AsyncGenerator<DataOf<P, 'get'>, void, undefined>
  /** Register openapi-fetch middleware (runs after the client's own). */
  use(...middleware: Middleware[]): void
  eject(...middleware: Middleware[]): void
}

/** A problem thrown where a result cannot carry it (`pages()`). */
export class MadoguchiProblem<P = Problem> extends Error {
  override name = 'MadoguchiProblem'
  readonly problem: P
  readonly response: Response
  constructor(problem: P, response: Response) {
    const p = problem as { status?: number; code?: string; detail?: string }
    super(`${p.status ?? response.status} ${p.code ?? ''}${p.detail ? `: ${p.detail}` : ''}`)
    this.problem = problem
    this.response = response
  }
}

const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 3, maxDelayMs: 30_000 }
const ETAG_CACHE_SIZE = 500

export function createMadoguchiClient(options: MadoguchiClientOptions): MadoguchiClient {
  const { token, retry, idempotencyKeys = true, ifMatch = true, fetch: givenFetch, ...clientOptions } = options
  const retries = retry === false ? { attempts: 1, maxDelayMs: 0 } : { ...DEFAULT_RETRY, ...retry }
  const send = givenFetch ?? ((request: Request) => globalThis.fetch(request))
  const etags = new EtagCache(ETAG_CACHE_SIZE)

  // The token and the retries sit under openapi-fetch, where the final request is sent: each
  // attempt gets a fresh token, and a retry repeats the same request, Idempotency-Key included.
  const fetchWithRetries = async (request: Request): Promise<Response> => {
    const repeatable = request.method === 'GET' || request.headers.has('idempotency-key')
    for (let attempt = 1; ; attempt++) {
      const sent = request.clone()
      if (token !== undefined) sent.headers.set('authorization', `Bearer ${typeof token === 'function' ? await token() : token}`)
      const response = await send(sent)
      if (!repeatable || attempt >= retries.attempts || (response.status !== 429 && response.status !== 503)) return response
      const delay = retryDelayMs(response.headers.get('retry-after'), attempt)
      if (delay > retries.maxDelayMs) return response
      await response.body?.cancel()
      await sleep(delay, request.signal)
    }
  }

  const client = createClient<paths>({ ...clientOptions, fetch: fetchWithRetries })

  // Headers the contract says an operation accepts, filled in when the call leaves them out.
  const contractHeaders: Middleware = {
    onRequest({ request, schemaPath }) {
      const operation = operations[`${request.method.toLowerCase()} ${schemaPath}`]
      if (!operation) return
      if (operation.idempotencyKey && idempotencyKeys && !request.headers.has('idempotency-key')) {
        request.headers.set('idempotency-key', newIdempotencyKey())
      }
      if (operation.etagFrom && ifMatch && !request.headers.has('if-match')) {
        const etag = etags.get(recordPath(request.url, schemaPath, operation.etagFrom))
        if (etag !== undefined) request.headers.set('if-match', etag)
      }
    },
    onResponse({ request, response, schemaPath }) {
      const etag = response.headers.get('etag')
      if (!etag || !response.ok) return
      const method = request.method.toLowerCase()
      const etagFrom = operations[`${method} ${schemaPath}`]?.etagFrom
      if (etagFrom) etags.set(recordPath(request.url, schemaPath, etagFrom), etag)
      else if (method === 'get' && READ_PATHS.has(schemaPath)) etags.set(new URL(request.url).pathname, etag)
      else if (response.status === 201 && response.headers.has('location')) {
        etags.set(new URL(response.headers.get('location')!, request.url).pathname, etag)
      }
    },
  }
  client.use(contractHeaders)

  async function* pages(url: PagedPath, init?: { params?: { query?: Record<string, unknown> } }) {
    let cursor = init?.params?.query?.cursor as string | null | undefined
    for (;;) {
      const query = { ...init?.params?.query, ...(cursor ? { cursor } : {}) }
      const result = await (client.GET as (u: string, i: unknown) => Promise<{ data?: { next_cursor: string | null }; error?: unknown; response: Response }>)(
        url,
        { ...init, params: { ...init?.params, query } },
      )
      if (result.error !== undefined || result.data === undefined) throw new MadoguchiProblem(result.error, result.response)
      yield result.data
      cursor = result.data.next_cursor
      if (!cursor) return
    }
  }

  return Object.assign(client, { pages }) as unknown as MadoguchiClient
}

/** Paths whose GET gives the ETag that a change elsewhere sends back as If-Match. */
const READ_PATHS = new Set(Object.values(operations).flatMap((o) => (o.etagFrom ? [o.etagFrom] : [])))

/**
 * The path of the record an operation changes: the request's path cut to the depth of the
 * read path (PUT /v1/recordings/1/classification → /v1/recordings/1). Any base path of
 * `baseUrl` stays in front.
 */
function recordPath(url: string, schemaPath: string, etagFrom: string): string {
  const segments = new URL(url).pathname.split('/')
  const drop = schemaPath.split('/').length - etagFrom.split('/').length
  return segments.slice(0, segments.length - drop).join('/')
}

/** Retry-After in seconds or as an HTTP date; without it, 0.5 s doubling with each attempt. */
export function retryDelayMs(retryAfter: string | null, attempt: number): number {
  if (retryAfter !== null) {
    if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter) * 1000
    const at = Date.parse(retryAfter)
    if (!Number.isNaN(at)) return Math.max(0, at - Date.now())
  }
  return 500 * 2 ** (attempt - 1)
}

function sleep(ms: number, signal: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** A random UUID; crypto.randomUUID is missing outside secure contexts (plain http pages). */
function newIdempotencyKey(): string {
  if (typeof globalThis.crypto.randomUUID === 'function') return globalThis.crypto.randomUUID()
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The last ETag seen per record path, the most recently used few hundred. */
class EtagCache {
  readonly #entries = new Map<string, string>()
  readonly size: number
  constructor(size: number) {
    this.size = size
  }
  get(path: string): string | undefined {
    const etag = this.#entries.get(path)
    if (etag !== undefined) {
      this.#entries.delete(path)
      this.#entries.set(path, etag)
    }
    return etag
  }
  set(path: string, etag: string): void {
    this.#entries.delete(path)
    this.#entries.set(path, etag)
    if (this.#entries.size > this.size) this.#entries.delete(this.#entries.keys().next().value!)
  }
}
