import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'

/**
 * Request validation with the TypeBox compiler. Bodies are JSON and checked as they are: no
 * coercion, nulls kept, unknown fields refused. Query strings, path parameters and headers
 * arrive as text, so a value is turned into a number or boolean only when the text is exactly
 * one ("12", "true"); "1.5" for an integer, "" or "0x10" stay text and fail validation (400)
 * instead of silently becoming 1, 0 or 16.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = compiled(schema)
  const normalizes = httpPart === 'body' || httpPart === 'querystring'
  return (input: unknown) => {
    const value = normalizes ? normalizePatterned(schema as Schema, input) : input
    if (check.Check(value)) return { value }
    if (httpPart === 'body') return { error: check.Errors(value) as never }
    // Text that fails as text may be a number or a boolean written out (also in a union such
    // as integer | date-time).
    const converted = convertText(schema as Schema, value)
    if (check.Check(converted)) return { value: converted }
    return { error: check.Errors(converted) as never }
  }
}

// Compiled checks by schema object: routes share schemas (an id, a page query), and a process
// that builds the app more than once (the tests build one per database) compiles each once.
const checks = new WeakMap<TSchema, ReturnType<typeof Compile>>()

function compiled(schema: TSchema): ReturnType<typeof Compile> {
  let check = checks.get(schema)
  if (!check) {
    check = Compile(schema)
    checks.set(schema, check)
  }
  return check
}

interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  anyOf?: Schema[]
  items?: Schema
  pattern?: string
}

/**
 * A field with a pattern takes codes, numbers and the like in ASCII (a phone number, an external
 * reference). Typed on a Japanese keyboard they often arrive in full width (０３－１２３４－５６７８):
 * such text is NFKC-normalised before it is checked and stored in that form. Free text (names,
 * descriptions) has no pattern and stays exactly as written: it is evidence.
 */
function normalizePatterned(schema: Schema, value: unknown): unknown {
  if (typeof value === 'string') return patterned(schema) ? value.normalize('NFKC') : value
  if (Array.isArray(value)) return schema.items ? value.map((item) => normalizePatterned(schema.items!, item)) : value
  if (value === null || typeof value !== 'object') return value
  const properties = propertiesOf(schema)
  if (!properties) return value
  let out: Record<string, unknown> | null = null
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const property = properties[key]
    if (!property) continue
    const normalized = normalizePatterned(property, item)
    if (normalized !== item) {
      out ??= { ...(value as Record<string, unknown>) }
      out[key] = normalized
    }
  }
  return out ?? value
}

const patterned = (schema: Schema): boolean => schema.pattern !== undefined || (schema.anyOf ?? []).some(patterned)

/** The properties of an object schema, or of the object member of a union (a nullable object). */
function propertiesOf(schema: Schema): Record<string, Schema> | undefined {
  return schema.properties ?? (schema.anyOf ?? []).find((member) => member.properties)?.properties
}

const INTEGER = /^-?(0|[1-9][0-9]{0,15})$/
const NUMBER = /^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,15})?$/

function typesOf(schema: Schema): string[] {
  const own = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type]
  return [...own, ...(schema.anyOf ?? []).flatMap(typesOf)]
}

function convertText(schema: Schema, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !schema.properties) return value
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const [key, text] of Object.entries(out)) {
    const property = schema.properties[key]
    if (!property || typeof text !== 'string') continue
    const types = typesOf(property)
    if (types.includes('integer') && INTEGER.test(text)) out[key] = Number(text)
    else if (types.includes('number') && NUMBER.test(text)) out[key] = Number(text)
    else if (types.includes('boolean') && (text === 'true' || text === 'false')) out[key] = text === 'true'
  }
  return out
}
