import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { createTestDatabase, testDatabaseUrl } from '../helpers/database.ts'
import { startServiceProcess } from '../helpers/process.ts'

/**
 * The README's "First ten minutes", run from its own code blocks against the service on a real
 * port, started as `npm start` starts it: every ```sh block in order in one bash, and what each
 * prints compared with the ```text block after it (… stands for anything). It needs curl and jq,
 * as the README says; without them the test is skipped, unless REQUIRE_TEST_TOOLS is set (CI).
 */
const README_BASE = 'http://127.0.0.1:3000'
const hasTools = ['curl', 'jq'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0)

interface Step {
  script: string
  expected: string
}

async function journey(): Promise<Step[]> {
  const readme = await fs.readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const section = /<!-- first-ten-minutes:start -->([\s\S]*?)<!-- first-ten-minutes:end -->/.exec(readme)?.[1]
  if (!section) throw new Error('README has no first-ten-minutes markers')
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, body: m[2]! }))
  const steps: Step[] = []
  blocks.forEach((block, i) => {
    if (block.lang !== 'sh') return
    const next = blocks[i + 1]
    steps.push({ script: block.body, expected: next?.lang === 'text' ? next.body : '' })
  })
  return steps
}

/** The expected output as a pattern: exact lines, with … matching anything within a line. */
function pattern(expected: string): RegExp {
  const escaped = expected
    .trimEnd()
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^\\n]*')
  return new RegExp(`^${escaped}$`)
}

t.test("the README's first ten minutes run as written", { skip: hasTools || process.env.REQUIRE_TEST_TOOLS ? false : 'needs curl and jq' }, async (t) => {
  const steps = await journey()
  t.ok(steps.length >= 6, `${steps.length} steps`)

  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'madoguchi-readme-'))
  const database = testDatabaseUrl ? await createTestDatabase() : null
  t.teardown(async () => {
    await fs.rm(dataDir, { recursive: true, force: true })
    await database?.drop()
  })
  // As a newcomer has it: no key source configured, so the development secret in DATA_DIR signs
  // the tokens `npm run token` prints.
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database?.url ?? '',
    AUTH_HS256_SECRET: '',
    AUTH_JWKS_URL: '',
    AUTH_JWKS_FILE: '',
    AUTH_ISSUER: '',
    AUTH_AUDIENCE: '',
    // Several test files share two cores: a slow event loop here is the machine, not overload.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
  }
  const server = await startServiceProcess(t, env)
  const base = server.base

  // One shell for the whole journey (variables carry over), a marker after each step.
  const script = ['set -euo pipefail', ...steps.flatMap((step, i) => [step.script.replaceAll(README_BASE, base), `echo "@@step ${i}@@"`])].join('\n')
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const bash = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let errors = ''
    bash.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    bash.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()))
    bash.on('exit', (code) => resolve({ code, stdout, stderr: errors }))
  })
  t.equal(run.code, 0, `the journey ran to the end${run.stderr ? `:\n${run.stderr}` : ''}`)
  const outputs = run.stdout.split(/^@@step \d+@@\n/m)
  steps.forEach((step, i) => {
    const printed = (outputs[i] ?? '').trimEnd()
    const wanted = pattern(step.expected)
    t.ok(wanted.test(printed), `step ${i + 1} prints what the README shows`, {
      found: printed,
      wanted: step.expected.trimEnd(),
      log: server.stderr().slice(-4000),
    })
  })

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})
