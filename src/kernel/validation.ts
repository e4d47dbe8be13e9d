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
  const check = Compile(schema)
  return (value: unknown) => {
    if (check.Check(value)) return { value }
    if (httpPart === 'body') return { error: check.Errors(value) as never }
    // Text that fails as text may be a number or a boolean written out (also in a union such
    // as integer | date-time).
    const converted = convertText(schema as Schema, value)
    if (check.Check(converted)) return { value: converted }
    return { error: check.Errors(converted) as never }
  }
}

interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  anyOf?: Schema[]
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
