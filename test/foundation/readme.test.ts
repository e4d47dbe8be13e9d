import fs from 'node:fs/promises'
import t from 'tap'
import { ACCESS, ROLES } from '../../src/kernel/access.js'

// The README's access table is the access table: rendered from the data and compared.
t.test('the README shows the access table as it is in src/kernel/access.ts', async (t) => {
  const readme = await fs.readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const section = /<!-- access-table:start[^>]*-->\n([\s\S]*?)<!-- access-table:end -->/.exec(readme)?.[1]
  t.ok(section, 'the README has the access table markers')
  const grants = ACCESS as Record<string, Partial<Record<string, string>>>
  const rendered = [
    `| permission | ${ROLES.join(' | ')} |`,
    `|---|${ROLES.map(() => ':-:').join('|')}|`,
    ...Object.keys(ACCESS).map((p) => `| \`${p}\` | ${ROLES.map((r) => grants[p]![r] ?? '').join(' | ')} |`),
  ].join('\n')
  t.equal(section?.trim(), rendered, 'update the README table from src/kernel/access.ts')
})

t.test('the README documents every configuration variable', async (t) => {
  const readme = await fs.readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const source = await fs.readFile(new URL('../../src/config.ts', import.meta.url), 'utf8')
  const schema = source.slice(source.indexOf('const EnvSchema'), source.indexOf('type Env'))
  const variables = [...schema.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!)
  t.ok(variables.length > 10)
  for (const v of variables) t.match(readme, new RegExp(`\\| \`${v}\` \\|`), `${v} is in the configuration table`)
})
