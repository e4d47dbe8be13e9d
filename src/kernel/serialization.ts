import type { FastifySerializerCompiler } from 'fastify'
import fastJsonStringify from 'fast-json-stringify'

/**
 * Response serialisation: fast-json-stringify, as Fastify's default, with each distinct schema
 * compiled once per process. Compiling is the dearest part of building the app (many routes answer
 * the same problem and page shapes), and a process that builds it more than once (the tests build
 * one per database) would otherwise compile every schema again each time.
 */
const serializers = new Map<string, (data: unknown) => string>()

export const cachedSerializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  const key = JSON.stringify(schema)
  let serialize = serializers.get(key)
  if (!serialize) {
    serialize = fastJsonStringify(schema as object)
    serializers.set(key, serialize)
  }
  return serialize
}
