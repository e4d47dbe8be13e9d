import type { FastifyInstance } from 'fastify'
import auditRoutes from './audit/audit.routes.ts'
import checkpointRoutes, { checkpointJwksRoutes } from './audit/checkpoints.routes.ts'
import historyRoutes from './audit/history.routes.ts'
import changeRoutes from './changes/changes.routes.ts'
import type { DatabaseHandle } from './kernel/db.ts'
import caseRoutes from './cases/cases.routes.ts'
import eventRoutes from './cases/events.routes.ts'
import healthRoutes from './health/health.routes.ts'
import incidentRoutes from './incidents/incidents.routes.ts'
import meRoutes from './me/me.routes.ts'
import keyRoutes from './keys/keys.routes.ts'
import type { SigningKeys } from './keys/keys.service.ts'
import jwksRoutes from './media-grants/jwks.routes.ts'
import type { MediaGrantSettings } from './media-grants/media-grants.service.ts'
import orgUnitRoutes from './org-units/org-units.routes.ts'
import policyRoutes from './policies/policies.routes.ts'
import calendarRoutes from './calendar/calendar.routes.ts'
import disclosureRequestRoutes from './disclosure-requests/disclosure-requests.routes.ts'
import derivativeRoutes from './recordings/derivatives.routes.ts'
import dispositionRoutes from './recordings/dispositions.routes.ts'
import recordingRoutes from './recordings/recordings.routes.ts'
import statisticsRoutes from './statistics/statistics.routes.ts'
import type { TargetPolicy } from './webhooks/targets.ts'
import webhookRoutes from './webhooks/webhooks.routes.ts'

/**
 * The route surface, in one list: each domain module with its prefix.
 * A module is a folder in src/ with its schemas, routes and repository.
 */
export async function registerModules(
  app: FastifyInstance,
  {
    database,
    mediaGrants,
    keys,
    webhookTargets,
  }: { database: DatabaseHandle; mediaGrants: MediaGrantSettings; keys: SigningKeys; webhookTargets: TargetPolicy },
): Promise<void> {
  await app.register(healthRoutes, { database })
  await app.register(meRoutes, { prefix: '/v1/me' })
  await app.register(orgUnitRoutes, { prefix: '/v1/org-units' })
  await app.register(caseRoutes, { prefix: '/v1/cases' })
  await app.register(eventRoutes, { prefix: '/v1/cases' })
  await app.register(policyRoutes, { prefix: '/v1/policies' })
  await app.register(calendarRoutes, { prefix: '/v1/calendar' })
  await app.register(recordingRoutes, { prefix: '/v1/recordings', mediaGrants, keys })
  await app.register(derivativeRoutes, { prefix: '/v1/recordings' })
  await app.register(dispositionRoutes, { prefix: '/v1/dispositions' })
  await app.register(disclosureRequestRoutes, { prefix: '/v1/disclosure-requests', mediaGrants, keys })
  await app.register(incidentRoutes, { prefix: '/v1/incidents' })
  await app.register(statisticsRoutes, { prefix: '/v1/statistics' })
  await app.register(jwksRoutes, { keys })
  await app.register(auditRoutes, { prefix: '/v1/audit-events', keys })
  await app.register(checkpointRoutes, { prefix: '/v1/audit-events', keys })
  await app.register(checkpointJwksRoutes, { keys })
  await app.register(historyRoutes, { prefix: '/v1/records' })
  await app.register(changeRoutes, { prefix: '/v1/changes' })
  await app.register(webhookRoutes, { prefix: '/v1/webhooks', targets: webhookTargets })
  await app.register(keyRoutes, { prefix: '/v1/keys', keys })
}
