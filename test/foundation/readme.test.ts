import fs from 'node:fs/promises'
import t from 'tap'
import { ACCESS, ROLES } from '../../src/kernel/access.ts'

const read = (file: string) => fs.readFile(new URL(`../../${file}`, import.meta.url), 'utf8')

// The access table in the docs is the access table: rendered from the data and compared.
t.test('docs/access.md shows the access table as it is in src/kernel/access.ts', async (t) => {
  const doc = await read('docs/access.md')
  const section = /<!-- access-table:start[^>]*-->\n([\s\S]*?)<!-- access-table:end -->/.exec(doc)?.[1]
  t.ok(section, 'docs/access.md has the access table markers')
  const grants = ACCESS as Record<string, Partial<Record<string, string>>>
  const rendered = [
    `| permission | ${ROLES.join(' | ')} |`,
    `|---|${ROLES.map(() => ':-:').join('|')}|`,
    ...Object.keys(ACCESS).map((p) => `| \`${p}\` | ${ROLES.map((r) => grants[p]![r] ?? '').join(' | ')} |`),
  ].join('\n')
  t.equal(section?.trim(), rendered, 'update the table in docs/access.md from src/kernel/access.ts')
})

t.test('docs/configuration.md documents every configuration variable, in one table', async (t) => {
  const doc = await read('docs/configuration.md')
  const source = await read('src/config.ts')
  const schema = source.slice(source.indexOf('const EnvSchema'), source.indexOf('type Env'))
  const variables = [...schema.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!)
  t.ok(variables.length > 10)
  // A Markdown table ends at the first line that is not a row: a blank line inside it leaves the
  // rows after it as raw text.
  const lines = doc.split('\n')
  const header = lines.findIndex((l) => l.startsWith('| variable |'))
  t.ok(header >= 0, 'the table is there')
  let end = header
  while (end < lines.length && lines[end]!.startsWith('|')) end++
  const table = lines.slice(header, end).join('\n')
  for (const v of variables) t.match(table, new RegExp(`^\\| \`${v}\` \\|`, 'm'), `${v} is in the configuration table`)
})

t.test('the README links every guide in docs/, and every link it has leads somewhere', async (t) => {
  const readme = await read('README.md')
  const guides = (await fs.readdir(new URL('../../docs/', import.meta.url))).filter((f) => f.endsWith('.md'))
  for (const guide of guides) t.match(readme, `](docs/${guide})`, `docs/${guide} is linked`)
  for (const file of ['README.md', ...guides.map((g) => `docs/${g}`)]) {
    const text = await read(file)
    const base = new URL(`../../${file}`, import.meta.url)
    for (const [, target] of text.matchAll(/\]\(((?:\.\.\/|docs\/|sdk\/|[a-z-]+\.md)[^)#\s]*)\)/g)) {
      const exists = await fs.access(new URL(target!, base)).then(
        () => true,
        () => false,
      )
      t.ok(exists, `${file} → ${target}`)
    }
  }
})
