import type { FastifyReply, FastifyRequest } from 'fastify'
import Negotiator from 'negotiator'

/** The languages the service answers in; the first is the default (English). */
const LANGUAGES = ['en', 'ja'] as const
export type Language = (typeof LANGUAGES)[number]

const kLanguage = Symbol('language')
type WithLanguage = FastifyRequest & { [kLanguage]?: Language }

/**
 * The language of the response, from Accept-Language with its q-values (RFC 9110 §12.5.4):
 * `ja`, `ja-JP` and any other `ja-*` give Japanese, anything else English. Computed once per request.
 */
export function languageOf(request: FastifyRequest): Language {
  const r = request as WithLanguage
  if (r[kLanguage] === undefined) {
    const header = request.headers['accept-language']
    const best =
      typeof header === 'string' && header.length <= 1000 ? new Negotiator({ headers: { 'accept-language': header } }).language([...LANGUAGES]) : undefined
    r[kLanguage] = best === 'ja' ? 'ja' : 'en'
  }
  return r[kLanguage]
}

const TEXT_TYPES = /^(text\/|application\/([\w.+-]*\+)?json|application\/x-ndjson)/i

/**
 * Response headers for the negotiated language: Content-Language on every response whose body is
 * text (JSON, problems, CSV, NDJSON), and Vary: Accept-Language on every response, since any of
 * them may be a problem in the caller's language (caches must not serve one language to another).
 */
export function languageHeaders(request: FastifyRequest, reply: FastifyReply, payload: unknown): void {
  const vary = reply.getHeader('vary')
  const varied = typeof vary === 'string' ? vary.split(',').map((v) => v.trim().toLowerCase()) : []
  if (!varied.includes('accept-language') && !varied.includes('*')) reply.header('vary', varied.length > 0 ? `${vary}, Accept-Language` : 'Accept-Language')
  const type = reply.getHeader('content-type')
  if (payload !== null && payload !== undefined && typeof type === 'string' && TEXT_TYPES.test(type)) reply.header('content-language', languageOf(request))
}
