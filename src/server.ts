import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { linkEntriesRound } from './kernel/audit-chain.ts'
import { runCheckpointRound } from './audit/checkpoints.service.ts'
import { createTokenVerifier } from './kernel/auth.ts'
import { purgeExpiredIdempotencyKeys } from './kernel/idempotency.ts'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { dataFolderProblem } from './kernel/data-folder.ts'
import { openDatabase } from './kernel/db.ts'
import { migrateToLatest } from './kernel/migrations.ts'
import { startBackgroundJobs, type BackgroundJob } from './kernel/background-jobs.ts'
import { createMetrics, serveMetrics } from './metrics/metrics.ts'
import { loadKeyEncryptionKey } from './keys/key-encryption.ts'
import { checkKeyEncryption, SigningKeys } from './keys/keys.service.ts'
import { warnIncidentDeadlines } from './incidents/deadline-warnings.ts'
import { sweepRetention } from './recordings/retention-sweep.ts'
import { runDeadlineRound } from './disclosure-requests/deadline-notices.ts'
import { sequenceAllPendingChanges } from './kernel/sequencer.ts'
import { TargetPolicy } from './webhooks/targets.ts'
import { runWebhookRound } from './webhooks/worker.ts'

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

  // The embedded database's folder is locked for as long as this process lives (data-folder.ts).
  const database = await openDatabase(config, 'madoguchi service')
  await migrateToLatest(database)
  const verifyToken = await createTokenVerifier(config.auth)
  const keyEncryption = await loadKeyEncryptionKey(config.keyEncryption)
  try {
    // A wrong KEY_ENCRYPTION_SECRET stops the service here, not at the first signature.
    const secretName =
      config.keyEncryption.mode === 'secret'
        ? 'KEY_ENCRYPTION_SECRET'
        : `KEY_ENCRYPTION_SECRET (unset: the development secret in ${config.keyEncryption.secretFile})`
    await checkKeyEncryption(database.db, keyEncryption, secretName)
  } catch (error) {
    await database.close()
    if (error instanceof ConfigError) {
      process.stderr.write(`madoguchi: configuration error: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
  const metrics = config.metricsPort === null ? undefined : createMetrics(database)
  const app = await buildApp({ config, database, verifyToken, metrics, keyEncryption })
  const keys = new SigningKeys(keyEncryption)

  const webhookTargets = new TargetPolicy(config.webhooks.privateNetworks)
  const jobs: BackgroundJob[] = [
    { name: 'audit-chain', intervalMs: config.auditChainIntervalMs, run: (signal) => linkEntriesRound(database.db, { signal }) },
    { name: 'audit-checkpoints', intervalMs: config.auditCheckpointIntervalMs, run: () => runCheckpointRound(database.db, keys) },
    { name: 'idempotency-keys', intervalMs: 15 * 60_000, run: () => purgeExpiredIdempotencyKeys(database.db) },
    {
      name: 'retention-sweep',
      intervalMs: config.retentionSweepIntervalMs,
      run: async () => {
        const result = await sweepRetention(database.db)
        metrics?.recordSweep(result)
        return result
      },
    },
    { name: 'incident-deadlines', intervalMs: config.incidentDeadlinesIntervalMs, run: () => warnIncidentDeadlines(database.db) },
    { name: 'disclosure-deadlines', intervalMs: config.disclosureDeadlineIntervalMs, run: () => runDeadlineRound(database.db) },
    { name: 'change-feed', intervalMs: config.changeFeedIntervalMs, run: () => sequenceAllPendingChanges(database.db) },
    {
      name: 'webhooks',
      intervalMs: config.webhooks.intervalMs,
      run: (signal) => runWebhookRound(database.db, { ...config.webhooks, targets: webhookTargets }, signal),
    },
  ]
  const stopJobs = config.backgroundJobs ? startBackgroundJobs(metrics ? jobs.map((job) => metrics.instrument(job)) : jobs, app.log) : async () => true
  // Prometheus metrics on their own port, never on the API's.
  const metricsListener = metrics && config.metricsPort !== null ? await serveMetrics(metrics, config.metricsPort, config.host) : null

  // SIGTERM/SIGINT: stop accepting and let in-flight requests finish; meanwhile stop background
  // work: webhook attempts in flight are aborted at once and their deliveries put back for the
  // next instance, and rounds in progress get BACKGROUND_SHUTDOWN_TIMEOUT_MS at most. Then close
  // the database (and so free the data folder), exit 0.
  closeWithGrace({ delay: 25_000, logger: { error: (m: string) => app.log.error(m) } }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    const jobsStopped = stopJobs(config.backgroundShutdownTimeoutMs)
    await app.close()
    await metricsListener?.close()
    await jobsStopped
    await database.close()
    app.log.info('stopped')
  })

  await app.listen({ port: config.port, host: config.host })
  const address = app.server.address()
  if (typeof address === 'object' && address) database.dataFolderLock?.setPort(address.port)
  printBanner(config, address, metricsListener?.url ?? null, keyEncryption.id)
}

function printBanner(config: Config, address: ReturnType<import('node:net').Server['address']>, metricsUrl: string | null, kekId: string): void {
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const lines = [
    '',
    `  Madoguchi is listening on ${base}`,
    `  API docs:   ${base}/docs   (contract: ${base}/openapi.json)`,
    `  Database:   ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded, in ${config.dataDir}/pgdata`}`,
  ]
  if (metricsUrl) lines.push(`  Metrics:    ${metricsUrl}   (Prometheus; METRICS_PORT)`)
  if (config.auth.mode === 'dev') {
    lines.push(
      `  Auth:       local development secret in ${config.auth.secretFile}`,
      '  Get a token: npm run token -- --role supervisor      (roles: staff supervisor desk records_manager auditor admin integration)',
      `  Try it:      curl -H "Authorization: Bearer $(npm run -s token -- --role supervisor)" ${base}/v1/me`,
    )
  } else {
    lines.push(`  Auth:       ${config.auth.mode} (issuer ${config.auth.issuer}, audience ${config.auth.audience})`)
  }
  if (config.keyEncryption.mode === 'dev') {
    lines.push(
      `  Keys:       signing keys encrypted with a development key-encryption secret in ${config.keyEncryption.secretFile} (key id ${kekId});`,
      '              a database dump alone is useless, but DATA_DIR holds both: set KEY_ENCRYPTION_SECRET beyond a trial',
    )
  } else {
    lines.push(`  Keys:       signing keys encrypted with KEY_ENCRYPTION_SECRET (key id ${kekId})`)
  }
  process.stderr.write(`${lines.join('\n')}\n\n`)
}

main().catch((error: unknown) => {
  const message = dataFolderProblem(error, 'service') ?? (error instanceof Error ? error.message : String(error))
  process.stderr.write(`madoguchi: failed to start: ${message}\n`)
  process.exit(1)
})
