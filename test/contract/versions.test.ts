import fs from 'node:fs/promises'
import t from 'tap'
import { breakingChangesBetween } from '../../src/cli/contract-versions.ts'
import { databaseIndependent } from '../helpers/database.ts'

/**
 * `npm run openapi:check` refuses a breaking change within a version (src/cli/openapi.ts): the
 * comparison it relies on finds removed operations, newly required input and narrowed values,
 * and lets compatible growth through.
 */
t.test('breaking changes are found; compatible growth is not one', { skip: databaseIndependent }, async (t) => {
  const committed = JSON.parse(await fs.readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
  const changed = (edit: (document: typeof committed) => void) => {
    const copy = structuredClone(committed)
    edit(copy)
    return breakingChangesBetween(committed, copy)
  }
  t.same(
    changed(() => {}),
    [],
    'no change, nothing breaking',
  )
  t.match(
    changed((d) => {
      delete d.paths['/v1/me']
    }),
    [/v1\/me/],
    'a removed operation',
  )
  t.ok(changed((d) => d.components.schemas.CreateCase.required.push('location')).length > 0, 'a field of a request body that becomes required')
  t.same(
    changed((d) => {
      d.paths['/v1/me'].get.description = 'another description'
    }),
    [],
    'a new description is no break',
  )
})
