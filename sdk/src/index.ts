/**
 * @madoguchi/sdk: a typed client for the Madoguchi API, generated from its OpenAPI contract.
 *
 *   const api = createMadoguchiClient({ baseUrl, token: () => auth.accessToken() })
 *   const { data, error } = await api.POST('/v1/cases', { body })
 */
export { createMadoguchiClient, MadoguchiProblem, retryDelayMs } from './client.js'
export type { MadoguchiClient, MadoguchiClientOptions, RetryOptions, TokenProvider } from './client.js'
export type {
  ClientErrorStatus,
  DataOf,
  ErrorStatus,
  HttpMethod,
  MadoguchiResponse,
  Operation,
  PagedPath,
  PathsWith,
  Problem,
  ProblemOf,
  Schema,
  ServerErrorStatus,
} from './types.js'
export type { components, operations, paths } from './generated/schema.js'
