import type { FastifyReply } from 'fastify'
import { preconditionFailed, preconditionRequired } from './errors.ts'

/**
 * Optimistic concurrency with ETags (RFC 9110): a record's ETag is its version. GET sets it
 * (and @fastify/etag answers If-None-Match with 304); a change needs If-Match with the current
 * ETag: 428 without one, 412 when it is stale.
 */
function etagOf(version: number): string {
  return `"v${version}"`
}

export function setEtag(reply: FastifyReply, version: number): void {
  reply.header('etag', etagOf(version))
}

/** Checks If-Match (the header's value as sent, undefined when absent) against the record's current version. */
export function requireIfMatch(header: string | undefined, currentVersion: number): void {
  if (header === undefined || header === '') throw preconditionRequired('precondition.send_if_match')
  const current = etagOf(currentVersion)
  const tags = header.split(',').map((t) => t.trim().replace(/^W\//, ''))
  if (!tags.includes('*') && !tags.includes(current)) {
    throw preconditionFailed({ id: 'precondition.changed', params: { etag: current } })
  }
}
