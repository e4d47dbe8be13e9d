import type { FastifyInstance, FastifyRequest } from 'fastify'
import { badRequest, HttpProblem } from './errors.ts'

/**
 * JSON bodies are UTF-8 (RFC 8259 §8.1) and are taken exactly as sent: bytes that are not UTF-8
 * are 400, never decoded into U+FFFD and stored damaged (these are evidence records), and a body
 * declared in another charset is 415. Unpaired surrogates written as escapes (`\ud800`) are
 * refused after parsing, with the other text PostgreSQL cannot store (problems.plugin.ts).
 * Fastify's own parser then does the parsing, with its prototype-poisoning protection.
 */
export function useUtf8JsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request: FastifyRequest, body: Buffer | string, done) => {
    const charset = charsetOf(request.headers['content-type'])
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      done(new HttpProblem(415, 'unsupported-media-type', { id: 'problem.charset_not_utf8', params: { charset } }), undefined)
      return
    }
    let text: string
    try {
      text = typeof body === 'string' ? body : utf8.decode(body)
    } catch {
      done(badRequest('problem.body_not_utf8', [{ pointer: 'body', message: 'field.not_utf8' }]), undefined)
      return
    }
    parseJson(request, text, done)
  })
}

function charsetOf(contentType: string | undefined): string | null {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '')
  return match?.[1] ? match[1].toLowerCase() : null
}
