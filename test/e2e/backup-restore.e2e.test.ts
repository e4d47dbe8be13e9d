import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { signHs256Token } from '../../src/kernel/auth.ts'
import { ROOT_ORG_UNIT_ID } from '../../src/org-units/org-units.repository.ts'
import { createEmbeddedDataDir, testDatabaseUrl } from '../helpers/database.ts'
import { runProcess, startServiceProcess } from '../helpers/process.ts'
import { expectStatus } from '../helpers/expect.ts'

// Several processes start one after another here; a loaded two-core machine needs more than the
// default 120 s for the file.
t.setTimeout(300_000)

/**
 * The way back for the embedded database: a backup of a stopped service's folder, a folder
 * damaged on purpose that the service reports in one clear line (never a bare "Aborted()"), and
 * a restore that brings back the records with an audit chain that verifies.
 */
t.test(
  'backup, a damaged data folder reported in one line, and a restore whose audit chain verifies',
  { skip: testDatabaseUrl ? 'the embedded database only (DATA_DIR)' : false },
  async (t) => {
    const secret = crypto.randomBytes(32).toString('hex')
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-backup-'))
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))
    await createEmbeddedDataDir(dataDir)
    const folder = path.join(dataDir, 'pgdata')
    const backupFile = path.join(dataDir, 'backups', 'madoguchi.tar.gz')
    const env = {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      AUTH_HS256_SECRET: secret,
      AUTH_ISSUER: 'backup-test',
      AUTH_AUDIENCE: 'madoguchi',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
    }
    const headers = async (role: string) => ({
      authorization: `Bearer ${await signHs256Token(new TextEncoder().encode(secret), 'backup-test', 'madoguchi', {
        subject: `${role}-1`,
        roles: [role],
        orgUnit: ROOT_ORG_UNIT_ID,
      })}`,
      'content-type': 'application/json',
    })

    // Records worth keeping: a case and an event (each with its audit entries).
    const first = await startServiceProcess(t, env)
    const desk = await headers('desk')
    const created = await fetch(`${first.base}/v1/cases`, {
      method: 'POST',
      headers: desk,
      body: JSON.stringify({
        channel: 'phone',
        occurred_at: new Date().toISOString(),
        categories: ['intimidation'],
        severity: 'medium',
        summary: '電話で威圧',
      }),
    })
    expectStatus(t, created, 201)
    const kase = (await created.json()) as { id: string; number: string }
    const event = await fetch(`${first.base}/v1/cases/${kase.id}/events`, {
      method: 'POST',
      headers: desk,
      body: JSON.stringify({ type: 'note', occurred_at: new Date().toISOString(), description: '記録' }),
    })
    expectStatus(t, event, 201)
    first.child.kill('SIGTERM')
    t.equal(await first.exited, 0)

    const backup = await runProcess('src/cli/backup.ts', ['--out', backupFile], env)
    t.equal(backup.status, 0, backup.stderr)
    t.match(backup.stdout, `backed up ${folder} to ${backupFile}`)

    // Damage: the write-ahead log is gone (what a second process on the folder did before).
    for (const name of await fs.readdir(path.join(folder, 'pg_wal'))) {
      const file = path.join(folder, 'pg_wal', name)
      if ((await fs.stat(file)).isFile()) await fs.truncate(file, 0)
    }
    // (A second backup to the same file is refused before it touches the folder: run beside.)
    const [damaged, again] = await Promise.all([runProcess('src/server.ts', [], env), runProcess('src/cli/backup.ts', ['--out', backupFile], env)])
    t.not(again.status, 0, 'an existing backup file is not overwritten without --force')
    t.match(again.stderr, /exists: choose another file, or add --force/)
    t.not(damaged.status, 0)
    const line = damaged.stderr.trimEnd()
    t.equal(line.split('\n').length, 1, `one line: ${line}`)
    t.ok(line.startsWith(`madoguchi: failed to start: the embedded database in ${folder} could not be opened (`), 'naming the folder')
    t.match(line, /restore your last backup into it with npm run restore -- --from <file> --force \(README, "Backup and restore"\)$/, 'and the way back')
    t.notMatch(line, /Aborted\(\)|-sASSERTIONS/, 'not the engine’s bare abort')
    t.match(await fs.readFile('README.md', 'utf8'), /^### Backup and restore$/m, 'the README section it points to exists')
    const migrate = await runProcess('src/cli/migrate.ts', [], env)
    t.match(
      migrate.stderr.trimEnd(),
      new RegExp(`^migrate: the embedded database in ${folder} could not be opened \\([^\\n]*\\)[^\\n]*Backup and restore"\\)$`),
      'a command says the same',
    )

    // Restore: not over a folder with something in it unless told so, and never from a file that is no backup.
    const [refused, notABackup] = await Promise.all([
      runProcess('src/cli/restore.ts', ['--from', backupFile], env),
      runProcess('src/cli/restore.ts', ['--from', 'package.json', '--force'], env),
    ])
    t.not(refused.status, 0)
    t.match(refused.stderr, `restore: ${folder} is not empty: restoring would replace it; add --force`)
    t.not(notABackup.status, 0)
    t.match(notABackup.stderr, /is not a backup made by npm run backup \(not a tar archive\); nothing was changed/)
    t.same(
      (await fs.readdir(dataDir)).filter((n) => n.includes('replaced')),
      [],
      'the damaged folder is still where it was',
    )

    const restored = await runProcess('src/cli/restore.ts', ['--from', backupFile, '--force'], env)
    t.equal(restored.status, 0, restored.stderr)
    const aside = (await fs.readdir(dataDir)).filter((n) => n.startsWith('pgdata.replaced-'))
    t.equal(aside.length, 1, 'the damaged folder is kept aside, not deleted')
    t.match(restored.stdout, `restored ${backupFile} into ${folder}`)

    const second = await startServiceProcess(t, env)
    const read = await fetch(`${second.base}/v1/cases/${kase.id}/events`, { headers: desk })
    expectStatus(t, read, 200)
    t.match(await read.json(), { items: [{ type: 'note', description: '記録' }] }, 'the case and its event are back')
    const verified = (await (await fetch(`${second.base}/v1/audit-events/verify`, { headers: await headers('auditor') })).json()) as {
      valid: boolean
      checked: number
    }
    t.match(verified, { valid: true }, 'the restored audit chain verifies')
    t.ok(verified.checked >= 2, `${verified.checked} entries checked`)
    second.child.kill('SIGTERM')
    t.equal(await second.exited, 0)
  },
)
