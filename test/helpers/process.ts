import { spawn } from 'node:child_process'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface ServiceProcess {
  child: ReturnType<typeof spawn>
  /** Its exit status, once it has exited. */
  exited: Promise<number | null>
  /** The base URL from its banner. */
  base: string
  port: number
  stderr(): string
  stdout(): string
  /** The time of its first log entry with this message (pino's JSON lines on stdout). */
  loggedAt(msg: string): number | undefined
  /** SIGTERM, then its exit status. */
  stop(): Promise<number | null>
}

/** `npm start` as a process (as in production), once its banner says it listens; killed with the test. */
export async function startServiceProcess(t: Teardown, env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
  // Test files share two cores: a slow event loop there is the machine, not this service's
  // overload, so event-loop shedding is off unless a test sets it.
  const child = spawn(process.execPath, ['src/server.ts'], {
    env: { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const deadline = Date.now() + 90_000
  while (!/listening on (http:\/\/\S+)/.test(stderr)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the service did not start:\n${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const base = /listening on (http:\/\/\S+)/.exec(stderr)![1]!
  return {
    child,
    exited,
    base,
    port: Number(new URL(base).port),
    stderr: () => stderr,
    stdout: () => stdout,
    stop: () => {
      child.kill('SIGTERM')
      return exited
    },
    loggedAt: (msg) =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { time: number; msg: string })
        .find((entry) => entry.msg === msg)?.time,
  }
}

/** Runs a process to its end (a command, or a service expected to refuse to start): status and output. */
export function runProcess(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.on('exit', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
}
