import type { FastifyInstance } from 'fastify'
import auditRoutes from './audit/audit.routes.js'
import historyRoutes from './audit/history.routes.js'
import changeRoutes from './changes/changes.routes.js'
import type { DatabaseHandle } from './core/db.js'
import healthRoutes from './health/health.routes.js'
import meRoutes from './me/me.routes.js'
import orgUnitRoutes from './org-units/org-units.routes.js'
import type { TargetPolicy } from './webhooks/targets.js'
import webhookRoutes from './webhooks/webhooks.routes.js'

/**
 * The route surface, in one list: each domain module with its prefix.
 * A module is a folder in src/ with its schemas, routes and repository.
 */
export async function registerModules(app: FastifyInstance, { database, webhookTargets }: { database: DatabaseHandle; webhookTargets: TargetPolicy }): Promise<void> {
  await app.register(healthRoutes, { database })
  await app.register(meRoutes, { prefix: '/v1/me' })
  await app.register(orgUnitRoutes, { prefix: '/v1/org-units' })
  await app.register(auditRoutes, { prefix: '/v1/audit-events' })
  await app.register(historyRoutes, { prefix: '/v1/records' })
  await app.register(changeRoutes, { prefix: '/v1/changes' })
  await app.register(webhookRoutes, { prefix: '/v1/webhooks', targets: webhookTargets })
}
