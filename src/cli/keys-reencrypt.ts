import fs from 'node:fs/promises'
import { ConfigError, loadConfig } from '../config.ts'
import { dataFolderProblem } from '../kernel/data-folder.ts'
import { openDatabase } from '../kernel/db.ts'
import { pendingMigrations } from '../kernel/migrations.ts'
import { KeyEncryptionKey, loadKeyEncryptionKey, MIN_SECRET_BYTES } from '../keys/key-encryption.ts'
import { reencryptKeys } from '../keys/keys.service.ts'

/**
 * Re-encrypts every private signing key for a new key-encryption secret, in one transaction.
 *
 *   KEY_ENCRYPTION_SECRET_OLD=<the secret in use> KEY_ENCRYPTION_SECRET=<the new one> npm run keys:reencrypt
 *
 * The new secret is the configured one (KEY_ENCRYPTION_SECRET, or the development secret in
 * DATA_DIR when that is unset); the old one comes from KEY_ENCRYPTION_SECRET_OLD, or, when that
 * is unset, from the development secret file in DATA_DIR (moving a trial installation to a
 * configured secret). Refuses, changing nothing, when a key is not encrypted with the old secret.
 * Then restart every instance with the new secret. Prints the result as JSON.
 */
async function main(): Promise<void> {
  const config = loadConfig()
  const to = await loadKeyEncryptionKey(config.keyEncryption)
  const from = await oldKey(process.env.KEY_ENCRYPTION_SECRET_OLD, config.dataDir)
  if (from.id === to.id) throw new ConfigError('KEY_ENCRYPTION_SECRET_OLD: is the same secret as the new one; nothing to re-encrypt')
  const database = await openDatabase(config, 'npm run keys:reencrypt')
  try {
    const pending = await pendingMigrations(database)
    if (pending.length > 0) throw new Error(`migrations not yet applied (${pending.join(', ')}): run npm run migrate first`)
    const result = await reencryptKeys(database.db, from, to)
    process.stdout.write(`${JSON.stringify({ ...result, from_kek_id: from.id, to_kek_id: to.id })}\n`)
  } finally {
    await database.close()
  }
}

async function oldKey(secret: string | undefined, dataDir: string): Promise<KeyEncryptionKey> {
  if (secret !== undefined && secret !== '') {
    if (Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) throw new ConfigError(`KEY_ENCRYPTION_SECRET_OLD: must be at least ${MIN_SECRET_BYTES} bytes`)
    return KeyEncryptionKey.fromSecret(secret)
  }
  const { keyEncryption } = loadConfig({ DATA_DIR: dataDir })
  if (keyEncryption.mode !== 'dev') throw new Error('unreachable: without KEY_ENCRYPTION_SECRET the configuration names the development secret')
  const existing = await fs.readFile(keyEncryption.secretFile).catch(() => null)
  if (!existing)
    throw new ConfigError(`KEY_ENCRYPTION_SECRET_OLD: required (the secret the keys are encrypted with now); there is no ${keyEncryption.secretFile}`)
  return KeyEncryptionKey.fromSecret(new Uint8Array(existing))
}

main().catch((error: unknown) => {
  const message =
    dataFolderProblem(error, 'command') ??
    (error instanceof ConfigError ? `configuration error: ${error.message}` : error instanceof Error ? error.message : String(error))
  process.stderr.write(`keys:reencrypt: ${message}\n`)
  process.exit(1)
})
