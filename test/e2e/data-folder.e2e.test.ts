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
 * One data folder serves one process. Before, a second `npm start` on the same DATA_DIR ran
 * beside the first: both handed out the same case number, their audit chains split, and the
 * folder never opened again. Now the second service and every command are refused while the
 * first runs, and the first's data stays whole; after the holder is killed with SIGKILL, the
 * operating system has released the lock and the next start succeeds.
 */
t.test(
  'a second service and commands on a running service’s data folder are refused and change nothing; after kill -9 the next start succeeds',
  { skip: testDatabaseUrl ? 'the embedded database only (DATA_DIR)' : false },
  async (t) => {
    const secret = crypto.randomBytes(32).toString('hex')
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-data-folder-'))
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))
    await createEmbeddedDataDir(dataDir)
    const folder = path.join(dataDir, 'pgdata')
    const env = {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      AUTH_HS256_SECRET: secret,
      AUTH_ISSUER: 'data-folder-test',
      AUTH_AUDIENCE: 'madoguchi',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
    }
    const tokenFor = (roles: string[]) =>
      signHs256Token(new TextEncoder().encode(secret), 'data-folder-test', 'madoguchi', { subject: `${roles[0]}-1`, roles, orgUnit: ROOT_ORG_UNIT_ID })
    const desk = { authorization: `Bearer ${await tokenFor(['desk'])}`, 'content-type': 'application/json' }
    const newCase = (base: string) =>
      fetch(`${base}/v1/cases`, {
        method: 'POST',
        headers: desk,
        body: JSON.stringify({
          channel: 'counter',
          occurred_at: new Date().toISOString(),
          categories: ['verbal_abuse'],
          severity: 'low',
          summary: '窓口で大声',
        }),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as { id: string; number: string } }))

    const first = await startServiceProcess(t, env)
    const created = await newCase(first.base)
    t.equal(created.status, 201)

    // Everyday mistakes, all at once: a second `npm start`, and commands beside the service.
    const [second, migrate, sweep, backup] = await Promise.all([
      runProcess('src/server.ts', [], { ...env, PORT: '0' }),
      runProcess('src/cli/migrate.ts', [], env),
      runProcess('src/cli/retention-sweep.ts', [], env),
      runProcess('src/cli/backup.ts', ['--out', path.join(dataDir, 'backup.tar.gz')], env),
    ])
    const holder = `the data folder ${folder} is in use by pid ${first.child.pid} (madoguchi service, port ${first.port}, since `
    t.not(second.status, 0, 'the second service exits with a failure status')
    t.same(second.stderr.trimEnd().split('\n').length, 1, 'in one line')
    t.ok(second.stderr.startsWith(`madoguchi: failed to start: ${holder}`), `naming the folder and the holder: ${second.stderr.trim()}`)
    t.match(second.stderr, /one data folder serves one process/)
    t.notMatch(second.stderr, /listening/, 'it never listened')
    for (const [name, run] of [
      ['migrate', migrate],
      ['retention:sweep', sweep],
    ] as const) {
      t.not(run.status, 0, `${name} exits with a failure status`)
      t.equal(run.stderr.trimEnd().split('\n').length, 1, `${name}: one line`)
      t.ok(run.stderr.startsWith(`${name}: ${holder}`), `${name}: naming the folder and the holder`)
      t.match(run.stderr.trimEnd(), /\): stop the service, or set DATABASE_URL$/, `${name}: and what to do`)
    }
    t.not(backup.status, 0)
    t.match(backup.stderr.trim(), /^backup: the data folder .* is in use by pid \d+ \(madoguchi service, .*\): stop the service first$/)
    await t.rejects(fs.stat(path.join(dataDir, 'backup.tar.gz')), 'no backup file was written')

    // The running service is untouched: its case is there, and numbering goes on from it.
    expectStatus(t, await fetch(`${first.base}/readyz`), 200)
    const read = await fetch(`${first.base}/v1/cases/${created.body.id}`, { headers: desk })
    expectStatus(t, read, 200)
    const next = await newCase(first.base)
    t.equal(next.status, 201)
    const serial = (n: string) => Number(n.split('-')[1])
    t.equal(serial(next.body.number), serial(created.body.number) + 1, 'the next case number follows, no number handed out twice')

    // kill -9: no chance to clean up. The lock goes with the process.
    first.child.kill('SIGKILL')
    await first.exited
    const third = await startServiceProcess(t, env)
    t.pass('the next start after kill -9 succeeds')
    for (const c of [created.body, next.body]) {
      const res = await fetch(`${third.base}/v1/cases/${c.id}`, { headers: desk })
      expectStatus(t, res, 200, `case ${c.number} is there`)
    }
    const auditor = { authorization: `Bearer ${await tokenFor(['auditor'])}` }
    const verified = (await (await fetch(`${third.base}/v1/audit-events/verify`, { headers: auditor })).json()) as { valid: boolean; checked: number }
    t.match(verified, { valid: true }, 'one audit chain, and it verifies')
    t.ok(verified.checked > 0)
    third.child.kill('SIGTERM')
    t.equal(await third.exited, 0)
  },
)
