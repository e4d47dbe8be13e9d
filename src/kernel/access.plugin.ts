import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { isPermission, reachFor, type Permission, type Reach, type RouteAccess } from './access.ts'
import { TokenRejected, type Caller, type TokenVerifier } from './auth.ts'
import { forbidden, unauthorized } from './errors.ts'

/** What the authorisation hook established for the request. */
interface RequestAccess {
  caller: Caller
  /** The route's permission, or null on routes that only need a valid token. */
  permission: Permission | null
  /** The reach of that permission for this caller ('all' on token-only routes). */
  reach: Reach
  /** The caller's reach for any other permission, from the same table. */
  can(permission: Permission): Reach | null
}

/** A route and what it needs, as declared. */
export interface DeclaredRoute {
  method: string
  url: string
  permission: RouteAccess
  /** The route's request schemas (tests derive inputs from them). */
  schema: { body?: unknown; querystring?: unknown; params?: unknown; headers?: unknown }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its declared access, in registration order (tests walk it). */
    readonly declaredRoutes: DeclaredRoute[]
  }
  interface FastifyContextConfig {
    /** Required on every route: the permission it needs, 'authenticated' or 'public'. */
    permission?: RouteAccess
    /** The kind of record the route acts on, for the audit trail (default: from the permission). */
    resourceType?: string
  }
  interface FastifyRequest {
    /** The authorised caller. Throws on public routes, where there is none. */
    readonly access: RequestAccess
  }
}

const kAccess = Symbol('access')
type WithAccess = FastifyRequest & { [kAccess]?: RequestAccess }

// Routes other plugins register for us (the docs page) are public by nature; everything else
// must say what it needs, or the service refuses to start.
const PLUGIN_ROUTE_PREFIXES = ['/docs']

interface AccessPluginOptions {
  verifyToken: TokenVerifier
}

export default fp<AccessPluginOptions>(
  async function access(app: FastifyInstance, { verifyToken }) {
    app.decorateRequest('access', {
      getter(this: WithAccess) {
        const found = this[kAccess]
        if (!found) throw new Error(`route ${this.routeOptions.url} has no authorised caller (is it public?)`)
        return found
      },
    })

    const declaredRoutes: DeclaredRoute[] = []
    app.decorate('declaredRoutes', declaredRoutes)

    app.addHook('onRoute', (route: RouteOptions) => {
      let declared = route.config?.permission
      // CORS preflights (OPTIONS *) answer for every route and carry no data.
      if (declared === undefined && route.url === '*' && route.method === 'OPTIONS') {
        declared = 'public'
        route.config = { ...route.config, permission: declared }
      }
      if (declared === undefined && PLUGIN_ROUTE_PREFIXES.some((p) => route.url.startsWith(p))) {
        declared = 'public'
        // The docs page brings its own Content-Security-Policy (protection.plugin.ts skips it).
        route.config = { ...route.config, permission: declared, securityHeaders: false }
      }
      if (declared === undefined) throw new Error(`route ${route.method} ${route.url} declares no permission (config.permission)`)
      if (declared !== 'public' && declared !== 'authenticated' && !isPermission(declared)) {
        throw new Error(`route ${route.method} ${route.url} declares an unknown permission '${String(declared)}'`)
      }
      const { body, querystring, params, headers } = (route.schema ?? {}) as DeclaredRoute['schema']
      for (const method of toArray(route.method))
        declaredRoutes.push({ method, url: route.url, permission: declared, schema: { body, querystring, params, headers } })
      if (declared === 'public') return
      // Authenticate and authorise before anything else runs (parsing, validation), so an
      // anonymous or unauthorised caller learns nothing about the route's schema.
      const authorise = async (request: FastifyRequest) => {
        const caller = await authenticate(request, verifyToken)
        const permission = declared === 'authenticated' ? null : declared
        const reach = permission === null ? 'all' : reachFor(caller.roles, permission)
        ;(request as WithAccess)[kAccess] = {
          caller,
          permission,
          reach: reach ?? 'own',
          can: (p) => reachFor(caller.roles, p),
        }
        if (reach === null) throw forbidden({ id: 'access.permission_missing', params: { permission: String(permission) } })
      }
      route.onRequest = [authorise, ...toArray(route.onRequest)] as RouteOptions['onRequest']
    })
  },
  { name: 'access' },
)

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

// The scheme name is case-insensitive (RFC 9110 §11.1): "bearer" and "BEARER" are Bearer too.
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i

async function authenticate(request: FastifyRequest, verifyToken: TokenVerifier): Promise<Caller> {
  const header = request.headers.authorization
  if (header === undefined) throw unauthorized('access.send_bearer_token')
  const match = BEARER.exec(header)
  if (!match?.[1]) throw unauthorized('access.not_bearer_token', true)
  try {
    return await verifyToken(match[1])
  } catch (error) {
    if (error instanceof TokenRejected) throw unauthorized(error.reason, true)
    throw error
  }
}

/** The caller, or null when the request was not (or not yet) authenticated. */
export function callerOf(request: FastifyRequest): Caller | null {
  return (request as WithAccess)[kAccess]?.caller ?? null
}
