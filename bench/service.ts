import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

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
  const child = spawn(process.execPath, ['--import=tsx', script], {
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
