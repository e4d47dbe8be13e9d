import fs from 'node:fs/promises'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { benchCaseList } from './cases-list.js'

/**
 * `npm run bench`: measurements against a real PostgreSQL (BENCH_DATABASE_URL, default the
 * local one), never timing assertions in tests. Each scenario creates its own database.
 * Results are printed and written as JSON under bench/results/.
 *
 *   npm run bench                          every scenario with the default sizes
 *   npm run bench -- --only cases-list     one scenario
 *   npm run bench -- --cases 10000 --events-per-case 10 --requests 200
 */
const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    cases: { type: 'string', default: '10000' },
    'events-per-case': { type: 'string', default: '10' },
    requests: { type: 'string', default: '200' },
  },
})
const wanted = (name: string) => !values.only || values.only.includes(name)

const results: Record<string, unknown> = {
  started_at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
}
if (wanted('cases-list')) {
  results['cases-list'] = await benchCaseList({ cases: Number(values.cases), eventsPerCase: Number(values['events-per-case']), requests: Number(values.requests) })
}

await fs.mkdir(new URL('./results/', import.meta.url), { recursive: true })
const file = new URL(`./results/bench-${results.started_at as string}.json`.replace(/:/g, '-'), import.meta.url)
await fs.writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
process.stdout.write(`\nresults: ${file.pathname}\n`)
