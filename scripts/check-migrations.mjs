// Landed migrations never change (npm run check:migrations; migrations/README.md says why).
// Fails when a file in migrations/landed.sha256 is changed or missing, when a new migration sorts
// before the last landed one (the migrator would refuse it on existing databases), or when a
// 0006 migration appears.
import crypto from 'node:crypto'
import fs from 'node:fs'

const dir = new URL('../migrations/', import.meta.url)
const landed = fs
  .readFileSync(new URL('landed.sha256', dir), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => {
    const [hash, name] = line.split(/\s+\*?/)
    return { hash, name }
  })
const files = fs.readdirSync(dir).filter((name) => name.endsWith('.sql'))
const problems = []
for (const { hash, name } of landed) {
  if (!files.includes(name)) {
    problems.push(`${name}: landed, but the file is gone`)
    continue
  }
  const actual = crypto
    .createHash('sha256')
    .update(fs.readFileSync(new URL(name, dir)))
    .digest('hex')
  if (actual !== hash) problems.push(`${name}: landed migrations never change (sha256 ${actual}, landed as ${hash}); write a new migration instead`)
}
const last =
  landed
    .map((l) => l.name)
    .sort()
    .at(-1) ?? ''
for (const name of files) {
  if (/^0006_/.test(name)) problems.push(`${name}: 0006 is deliberately absent and must never be added (migrations/README.md)`)
  else if (!landed.some((l) => l.name === name) && name < last) problems.push(`${name}: sorts before ${last}, which has landed; the migrator would refuse it`)
}
for (const problem of problems) console.log(problem)
console.log(problems.length ? 'landed migrations changed' : `${landed.length} landed migrations unchanged`)
process.exit(problems.length ? 1 : 0)
