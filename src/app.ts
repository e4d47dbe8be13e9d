import fastifyEtag from '@fastify/etag'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify'
import { Settings } from 'typebox/system'
import type { TokenVerifier } from './kernel/auth.ts'
import { DEFAULT_PUBLIC_BASE_URL, EXPENSIVE_REQUESTS_PER_SUBJECT, type Config, type WebhookConfig } from './config.ts'
import type { DatabaseHandle } from './kernel/db.ts'
import { problemResponsesOf, declaredResponseHeaders, SUCCESS_HEADERS, successHeadersOf } from './kernel/contract-responses.ts'
import { cachedSerializerCompiler } from './kernel/serialization.ts'
import { strictValidatorCompiler } from './kernel/validation.ts'
import { useUtf8JsonBodies } from './kernel/json-body.ts'
import { newId } from './kernel/ids.ts'
import { languageHeaders } from './kernel/language.ts'
import accessPlugin from './kernel/access.plugin.ts'
import problemsPlugin from './kernel/problems.plugin.ts'
import protectionPlugin, { type ProtectionConfig } from './kernel/protection.plugin.ts'
import unitOfWorkPlugin from './kernel/unit-of-work.plugin.ts'
import type { KeyEncryptionKey } from './keys/key-encryption.ts'
import { SigningKeys } from './keys/keys.service.ts'
import { MEDIA_GRANT_DEFAULTS } from './media-grants/media-grants.service.ts'
import { registerModules } from './modules.ts'
import { rememberStaff } from './staff/staff.repository.ts'
import { TargetPolicy } from './webhooks/targets.ts'
import { markedRequiredParameters, markSharedSchemas, namedComponents } from './kernel/openapi-components.ts'
import { metricsPlugin, type Metrics } from './metrics/metrics.ts'

export interface AppDependencies {
  /**
   * Protection settings default to off when absent (tests), mediaGrants to MEDIA_GRANT_DEFAULTS,
   * webhooks.privateNetworks to none; the server passes them all.
   */
  config: Pick<Config, 'logLevel' | 'logPretty' | 'trustProxy'> &
    Partial<ProtectionConfig> &
    Partial<Pick<Config, 'mediaGrants' | 'publicBaseUrl'>> & { webhooks?: Pick<WebhookConfig, 'privateNetworks'> }
  database: DatabaseHandle
  verifyToken: TokenVerifier
  /** Prometheus metrics (src/metrics): requests are counted and timed when given. */
  metrics?: Metrics
  /**
   * Seals and opens private signing keys (media grants, audit checkpoints). The server always
   * passes one; without it (contract generation) nothing can be signed.
   */
  keyEncryption?: KeyEncryptionKey
}

// Bumped when the contract breaks (src/cli/openapi.ts refuses a breaking change within a version).
const API_VERSION = '0.3.0'

/** Every tag an operation uses, described once (the docs page groups operations by them). */
const CONTRACT_TAGS = [
  { name: 'session', description: 'The caller as the token says: subject, roles, org unit and the permissions they grant' },
  { name: 'org-units', description: 'Org units (所属): the tree that scopes what supervisors and integrations reach' },
  { name: 'cases', description: 'Customer-harassment cases (カスハラ事案): intake, changes, status, responders' },
  { name: 'events', description: "A case's chronological record (時系列): append-only events and the timeline report" },
  { name: 'integration', description: "Operations for the municipality's own systems: upserts by their ids" },
  {
    name: 'policies',
    description: 'Versioned policies with effective dates (施行日): recording, names, escalation, retention, calendar, incidents, disclosure',
  },
  { name: 'calendar', description: 'Office holidays and deadlines counted the way the law counts them (初日不算入, holidays move a deadline)' },
  { name: 'recordings', description: 'Recordings (録音・録画): metadata, classification, retention, holds, media grants, redacted derivatives' },
  { name: 'dispositions', description: 'Disposal (廃棄) and transfer (移管) when retention ends: proposals, approvals, the permanent records' },
  { name: 'disclosure-requests', description: 'Disclosure requests (開示請求): deadlines, records covered, decisions, hand-overs, appeals' },
  { name: 'incidents', description: 'Leak incidents (漏えい等): facts, one owner and a team, actions, reports and notifications with their deadlines' },
  { name: 'audit', description: 'The tamper-evident audit trail: queries, verification, export, signed checkpoints, record histories' },
  { name: 'changes', description: 'The ordered feed of domain changes for integrating systems' },
  { name: 'webhooks', description: 'Webhooks that push the change feed to other systems, with their deliveries' },
  { name: 'keys', description: 'Signing keys for media grants and audit checkpoints: their state and rotation' },
  { name: 'statistics', description: 'Figures on cases and recordings for a period, filtered and grouped (JSON or CSV)' },
  { name: 'health', description: 'Liveness and readiness probes for the load balancer and the orchestrator' },
]
const BODY_LIMIT_BYTES = 1024 * 1024
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Builds the service: Fastify with its validation, error, access and transaction plumbing,
 * then every domain module (src/modules.ts). Does not listen, migrate or start background
 * work: src/server.ts does that, and tests call this directly.
 */
export async function buildApp({ config, database, verifyToken, metrics, keyEncryption }: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config),
    trustProxy: config.trustProxy,
    bodyLimit: BODY_LIMIT_BYTES,
    // x-request-id is accepted when it looks like an id, generated (UUIDv7) otherwise, and echoed.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId()
    },
    return503OnClosing: true,
    // HEAD twins of GET routes would run the access and transaction wrappers twice.
    exposeHeadRoutes: false,
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Strict validation: no coercion of bodies, nulls kept, formats enforced, and text in query
  // strings turned into numbers only when it is exactly one.
  app.setValidatorCompiler(strictValidatorCompiler)
  app.setSerializerCompiler(cachedSerializerCompiler)
  // TypeBox stops collecting errors at 8 by default, and one wrong value in a union spends
  // several: raise it so a 422 names every failing field (problems.plugin keeps at most 50).
  Settings.Set({ maxErrors: 64 })
  // The API speaks JSON only: any other body is 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain')
  useUtf8JsonBodies(app)

  // Closing (SIGTERM): requests already in flight finish, and their connections close after
  // the response instead of idling in keep-alive, which would hold the shutdown open.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id)
    languageHeaders(request, reply, payload)
    if (closing) reply.header('connection', 'close')
  })

  // First, so a request's timing and its statements' route cover every hook after it.
  if (metrics) await app.register(metricsPlugin, { metrics })
  // Conditional GET: records set their version as ETag; If-None-Match then answers 304.
  await app.register(fastifyEtag)
  await app.register(problemsPlugin)
  await app.register(accessPlugin, { verifyToken })
  // Staff appear under the names their tokens carry: remembered once per write request.
  await app.register(unitOfWorkPlugin, {
    db: database.db,
    beforeWrite: (ctx) => rememberStaff(ctx.db, ctx.caller),
    listen: database.listen,
  })
  await app.register(protectionPlugin, {
    database,
    onShed: metrics?.recordShed,
    config: {
      corsOrigins: config.corsOrigins ?? [],
      rateLimitPerMinute: config.rateLimitPerMinute ?? 0,
      // On unless configured otherwise, in tests too: it is a rule of the API, not a machine's limit.
      expensiveRequestsPerSubject: config.expensiveRequestsPerSubject ?? EXPENSIVE_REQUESTS_PER_SUBJECT,
      // Load shedding is on when configured (the server always configures it), off in tests
      // that do not ask for it.
      overload: config.overload ?? null,
    },
  })

  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.schema || route.schema.hide) return
    // Every operation documents the problems it can answer, one status at a time, derived from
    // what the route declares (contract-responses.ts), so the SDK types each error; and the
    // headers its answers carry.
    route.schema = markSharedSchemas({
      ...route.schema,
      response: { ...(route.schema.response as object), ...problemResponsesOf(route) },
      [SUCCESS_HEADERS]: successHeadersOf(route),
    }) as RouteOptions['schema']
  })

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Madoguchi API',
        version: API_VERSION,
        description:
          'Customer-harassment (カスハラ) case handling for Japanese local governments: cases and their ' +
          'chronological record, recordings and their retention, policies with effective dates, audit trail. ' +
          'Errors are RFC 9457 problem+json.',
        license: { name: 'MIT', identifier: 'MIT' },
        contact: { name: 'The office that operates this Madoguchi service (see its docs page)' },
      },
      tags: CONTRACT_TAGS,
      // The committed contract names the default listening address; the served copies name
      // PUBLIC_BASE_URL, or the address the service listens on (servedContract below).
      servers: [{ url: DEFAULT_PUBLIC_BASE_URL, description: 'This service' }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      security: [{ bearer: [] }],
    },
    // Schemas with an $id become named components.schemas, referenced wherever they appear.
    transformObject: (documentObject) =>
      declaredResponseHeaders(markedRequiredParameters(namedComponents((documentObject as { openapiObject: Record<string, unknown> }).openapiObject))),
  })
  // The docs page sets its own Content-Security-Policy for its scripts and styles.
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformSpecification: (document) => servedContract(app, document, config.publicBaseUrl),
  })

  await registerModules(app, {
    database,
    mediaGrants: config.mediaGrants ?? MEDIA_GRANT_DEFAULTS,
    keys: new SigningKeys(keyEncryption ?? null),
    webhookTargets: new TargetPolicy(config.webhooks?.privateNetworks ?? []),
  })

  app.get('/openapi.json', {
    config: { permission: 'public' },
    schema: { hide: true },
    handler: async () => servedContract(app, app.swagger(), config.publicBaseUrl),
  })

  return app
}

/** The contract as served: its server is PUBLIC_BASE_URL, else where the service listens. */
function servedContract(app: FastifyInstance, document: object, publicBaseUrl: string | undefined): Record<string, unknown> {
  return { ...document, servers: [{ url: publicBaseUrl ?? listeningAddress(app) ?? DEFAULT_PUBLIC_BASE_URL, description: 'This service' }] }
}

function listeningAddress(app: FastifyInstance): string | null {
  const address = app.server.address()
  if (!address || typeof address === 'string') return null
  // Listening on every interface: name the loopback address, as the start-up banner does.
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
}

function loggerOptions(config: AppDependencies['config']): FastifyServerOptions['logger'] {
  if (config.logLevel === 'silent') return false
  return {
    level: config.logLevel,
    // Tokens and cookies never reach the log.
    redact: ['req.headers.authorization', 'req.headers.cookie'],
    ...(config.logPretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } } : {}),
  }
}
