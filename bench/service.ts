import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Role } from '../src/kernel/access.ts'
import { signHs256Token } from '../src/kernel/auth.ts'
import { ROOT_ORG_UNIT_ID } from '../src/org-units/org-units.repository.ts'

/** Starts a process (the service, or the ceiling server) on a free port and waits until it answers. */
export interface RunningServer {
  baseUrl: string
  process: ChildProcess
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** `inherited`: the environment the process starts from (default this one's), before `env`. */
export async function startServer(script: string, env: Record<string, string>, readyPath: string, inherited = process.env): Promise<RunningServer> {
  const port = await freePort()
  const root = fileURLToPath(new URL('../', import.meta.url))
  const child = spawn(process.execPath, [script], {
    cwd: root,
    env: { ...inherited, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited: ${stderr}`)
    const ok = await fetch(`${baseUrl}${readyPath}`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) break
    if (Date.now() > deadline) throw new Error(`${script} did not start: ${stderr}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    baseUrl,
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

const ISSUER = 'madoguchi-bench'
const AUDIENCE = 'madoguchi'

/**
 * What a benchmarked service starts with: a fresh token secret and a signer for it, a key-encryption
 * secret, and no per-minute rate limit (one subject drives all the load). `settings` names the
 * database (DATABASE_URL or DATA_DIR) and anything else the bench sets.
 */
export function benchService(settings: Record<string, string>, keyEncryptionSecret = crypto.randomBytes(32).toString('hex')) {
  const secret = crypto.randomBytes(32).toString('hex')
  const env: Record<string, string> = {
    AUTH_HS256_SECRET: secret,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    KEY_ENCRYPTION_SECRET: keyEncryptionSecret,
    RATE_LIMIT_PER_MINUTE: '0',
    ...settings,
  }
  /** An Authorization header value for a staff member of the root unit. */
  const bearer = async (roles: Role[], subject = `bench-${roles[0]}`) => {
    const claims = { subject, roles, orgUnit: ROOT_ORG_UNIT_ID, name: 'ベンチ 太郎', expiresIn: 3600 }
    return `Bearer ${await signHs256Token(new TextEncoder().encode(secret), ISSUER, AUDIENCE, claims)}`
  }
  return { env, bearer }
}
