import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { DeclaredRoute } from '../../src/kernel/access.plugin.ts'

/**
 * The contract as the running service generates it, and checks of answers against it: the status
 * must be one the operation declares, and the headers the answer carries must be declared for it.
 */
interface Response {
  description: string
  headers?: Record<string, unknown>
}
export interface Operation {
  operationId: string
  summary?: string
  description?: string
  tags?: string[]
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: Record<string, unknown> }>
  responses: Record<string, Response>
}
export interface ContractDocument {
  paths: Record<string, Record<string, Operation>>
  tags?: Array<{ name: string; description?: string }>
  components: { schemas: Record<string, Record<string, unknown>> }
}

export function contractOf(app: FastifyInstance): ContractDocument {
  return app.swagger() as unknown as ContractDocument
}

/** The operation a declared route is in the contract (undefined for hidden routes). */
export function operationOf(document: ContractDocument, route: Pick<DeclaredRoute, 'method' | 'url'>): Operation | undefined {
  const path = route.url.replace(/:(\w+)/g, '{$1}')
  return document.paths[path]?.[route.method.toLowerCase()]
}

// Headers an answer carries that the contract must declare where they are sent.
const DECLARED_HEADERS = ['etag', 'location', 'retry-after', 'idempotent-replayed', 'www-authenticate', 'x-request-id']

/** What is wrong with an answer against the operation's contract (empty when it agrees). */
export function disagreements(operation: Operation, res: LightMyRequestResponse): string[] {
  if (res.statusCode === 304) return []
  const response = operation.responses[String(res.statusCode)]
  if (!response) return [`${operation.operationId} answered ${res.statusCode}, which it does not declare: ${res.body.slice(0, 200)}`]
  const out: string[] = []
  if (res.statusCode >= 400) {
    // The response's description names the codes it can carry.
    const codes = [...response.description.matchAll(/`([a-z-]+)`/g)].map((m) => m[1])
    const code = (JSON.parse(res.body) as { code?: string }).code
    if (!codes.includes(code))
      out.push(`${operation.operationId} ${res.statusCode} answered code ${code}, which it does not document: ${res.body.slice(0, 200)}`)
  }
  for (const name of DECLARED_HEADERS) {
    if (res.headers[name] === undefined) continue
    // Problems carry the ETag @fastify/etag puts on every body; the contract declares it on successes.
    if (name === 'etag' && res.statusCode >= 400) continue
    if (!response.headers?.[name]) out.push(`${operation.operationId} ${res.statusCode} sends ${name}, which it does not declare`)
  }
  return out
}
