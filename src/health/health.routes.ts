import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'kysely'
import { Type } from 'typebox'
import type { DatabaseHandle } from '../kernel/db.ts'
import { serviceUnavailable } from '../kernel/errors.ts'
import { pendingMigrations } from '../kernel/migrations.ts'

const HealthSchema = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })

/** Liveness and readiness for load balancers and orchestrators: no token needed. */
const healthRoutes: FastifyPluginAsyncTypebox<{ database: DatabaseHandle }> = async (app, { database }) => {
  app.get('/healthz', {
    config: { permission: 'public' },
    schema: {
      operationId: 'getHealth',
      summary: 'Liveness: the process is up',
      description: 'Answers 200 while the process runs, even under load (never shed), so an orchestrator restarts it only when it is stuck. No token needed.',
      tags: ['health'],
      security: [],
      response: { 200: HealthSchema },
    },
    handler: async () => ({ status: 'ok' as const }),
  })

  app.get('/readyz', {
    config: { permission: 'public' },
    schema: {
      operationId: 'getReadiness',
      summary: 'Readiness: the database answers and every migration is applied',
      description:
        'Answers 200 when the database answers and every migration is applied, 503 otherwise, so a load balancer sends traffic only to ' +
        'instances that can serve it. No token needed.',
      tags: ['health'],
      security: [],
      response: { 200: HealthSchema },
    },
    handler: async () => {
      try {
        await sql`select 1`.execute(database.db)
      } catch {
        throw serviceUnavailable('health.database_unreachable')
      }
      const pending = await pendingMigrations(database)
      if (pending.length > 0) throw serviceUnavailable({ id: 'health.migrations_pending', params: { migrations: pending } })
      return { status: 'ok' as const }
    },
  })
}

export default healthRoutes
