import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { linkPendingEntries } from './kernel/audit-chain.js'
import { createTokenVerifier } from './kernel/auth.js'
import { purgeExpiredIdempotencyKeys } from './kernel/idempotency.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { openDatabase } from './kernel/db.js'
import { migrateToLatest } from './kernel/migrations.js'
import { startBackgroundJobs } from './kernel/background-jobs.js'
import { sweepRetention } from './recordings/retention-sweep.js'
import { runDeadlineRound } from './disclosure-requests/deadline-notices.js'
import { sequenceAllPendingChanges } from './kernel/sequencer.js'
import { TargetPolicy } from './webhooks/targets.js'
import { runWebhookRound } from './webhooks/worker.js'

/** The process: configuration, database and migrations, the app, background work, shutdown. */
async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`madoguchi: configuration error: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }

  const database = await openDatabase(config)
  await migrateToLatest(database)
  const verifyToken = await createTokenVerifier(config.auth)
  const app = await buildApp({ config, database, verifyToken })

  const webhookTargets = new TargetPolicy(config.webhooks.privateNetworks)
  const stopJobs = config.backgroundJobs
    ? startBackgroundJobs(
        [
          { name: 'audit-chain', intervalMs: config.auditChainIntervalMs, run: () => linkPendingEntries(database.db) },
          { name: 'idempotency-keys', intervalMs: 15 * 60_000, run: () => purgeExpiredIdempotencyKeys(database.db) },
          { name: 'retention-sweep', intervalMs: config.retentionSweepIntervalMs, run: () => sweepRetention(database.db) },
          { name: 'disclosure-deadlines', intervalMs: config.disclosureDeadlineIntervalMs, run: () => runDeadlineRound(database.db) },
          { name: 'change-feed', intervalMs: config.changeFeedIntervalMs, run: () => sequenceAllPendingChanges(database.db) },
          {
            name: 'webhooks',
            intervalMs: config.webhooks.intervalMs,
            run: () => runWebhookRound(database.db, { ...config.webhooks, targets: webhookTargets }),
          },
        ],
        app.log,
      )
    : async () => {}

  // SIGTERM/SIGINT: stop accepting, let in-flight requests finish, stop background work,
  // close the database, exit 0.
  closeWithGrace({ delay: 25_000, logger: { error: (m: string) => app.log.error(m) } }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
    await stopJobs()
    await database.close()
    app.log.info('stopped')
  })

  await app.listen({ port: config.port, host: config.host })
  printBanner(config, app.server.address())
}

function printBanner(config: Config, address: ReturnType<import('node:net').Server['address']>): void {
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const lines = [
    '',
    `  Madoguchi is listening on ${base}`,
    `  API docs:   ${base}/docs   (contract: ${base}/openapi.json)`,
    `  Database:   ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded, in ${config.dataDir}/pgdata`}`,
  ]
  if (config.auth.mode === 'dev') {
    lines.push(
      `  Auth:       local development secret in ${config.auth.secretFile}`,
      '  Get a token: npm run token -- --role supervisor      (roles: staff supervisor desk records_manager auditor admin integration)',
      `  Try it:      curl -H "Authorization: Bearer $(npm run -s token -- --role supervisor)" ${base}/v1/me`,
    )
  } else {
    lines.push(`  Auth:       ${config.auth.mode} (issuer ${config.auth.issuer}, audience ${config.auth.audience})`)
  }
  process.stderr.write(`${lines.join('\n')}\n\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`madoguchi: failed to start: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
