import type { FetchResponse, MaybeOptionalInit } from 'openapi-fetch'
import type { components, paths as contractPaths } from './generated/schema.js'

/**
 * Types derived from the contract (generated/schema.ts). Nothing here names a route, a status or
 * a problem code by hand: when the contract declares more precise errors, these types follow.
 */

/**
 * The contract's paths as the client takes them: If-Match, which the contract declares required
 * where the server answers 428 without it, is optional in a call because the client sends the
 * ETag of the last read by itself (a call without one, and without a read, still gets 428).
 */
type WithOptionalIfMatch<O> = O extends { parameters: { header: infer H } }
  ? H extends { 'if-match': infer V }
    ? Omit<O, 'parameters'> & { parameters: Omit<O['parameters'], 'header'> & { header?: Omit<H, 'if-match'> & { 'if-match'?: V } } }
    : O
  : O
export type ClientPaths = { [P in keyof contractPaths]: { [M in keyof contractPaths[P]]: WithOptionalIfMatch<contractPaths[P][M]> } }
type paths = ClientPaths

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head' | 'patch' | 'trace'
type MediaType = `${string}/${string}`

/** A named schema of the contract: `Schema<'CreateCase'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name]

/** The paths that have an operation for `M`. */
export type PathsWith<M extends HttpMethod> = {
  [P in keyof paths]: paths[P] extends { [K in M]: object } ? P : never
}[keyof paths]

/** The operation object of `M path`. */
// biome-ignore lint/suspicious/noExplicitAny: openapi-fetch's own constraint on operation objects (FetchResponse<T extends Record<string | number, any>>)
export type Operation<P extends keyof paths, M extends HttpMethod> = paths[P] extends { [K in M]: infer O extends Record<string | number, any> } ? O : never

type Digit = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9
type ToNumber<S> = S extends `${infer N extends number}` ? N : never
export type ClientErrorStatus = ToNumber<`4${Digit}${Digit}`>
export type ServerErrorStatus = ToNumber<`5${Digit}${Digit}`>
export type ErrorStatus = ClientErrorStatus | ServerErrorStatus

type Responses<O> = O extends { responses: infer R } ? R : never
/** Statuses the operation declares one by one (404, 409, …). */
type DeclaredStatus<R> = { [K in keyof R]: K extends number ? K : ToNumber<K> }[keyof R]
/** The statuses a response key stands for: itself, or a range (4XX, 5XX, default) minus the statuses declared one by one. */
type StatusesOf<K, R> = K extends number
  ? K
  : K extends `${number}`
    ? ToNumber<K>
    : K extends '4XX'
      ? Exclude<ClientErrorStatus, DeclaredStatus<R>>
      : K extends '5XX'
        ? Exclude<ServerErrorStatus, DeclaredStatus<R>>
        : K extends 'default'
          ? Exclude<ErrorStatus, DeclaredStatus<R>>
          : never
type BodyOf<Response> = Response extends { content: infer C } ? C[keyof C] : never

/**
 * The problems (RFC 9457) an operation can answer, one member per declared error response, each
 * with its `status` narrowed to the statuses of that response: `if (error?.status === 409)` picks
 * the 409 member, and `code` narrows as far as the contract types it.
 */
export type ProblemOf<O> = {
  [K in keyof Responses<O>]: [StatusesOf<K, Responses<O>> & ErrorStatus] extends [never]
    ? never
    : BodyOf<Responses<O>[K]> & { status: StatusesOf<K, Responses<O>> & ErrorStatus }
}[keyof Responses<O>]

/** Any problem the API can answer. */
export type Problem = Schema<'Problem'>

type Success<F> = F extends { error: unknown } ? never : F

/**
 * What a call resolves to, as in openapi-fetch: `data` on success, else `error` (a typed problem);
 * `response` always.
 */
// biome-ignore lint/suspicious/noExplicitAny: openapi-fetch's own constraint on operation objects
export type MadoguchiResponse<O extends Record<string | number, any>, Init, Media extends MediaType = MediaType> =
  | Success<FetchResponse<O, Init, Media>>
  | { data?: never; error: ProblemOf<O>; response: Response }

/** The data of a successful call of `M path`. */
// biome-ignore lint/complexity/noBannedTypes: `{}` is openapi-fetch's "no init options" (as in its own FetchResponse uses)
export type DataOf<P extends keyof paths, M extends HttpMethod> = NonNullable<Success<FetchResponse<Operation<P, M>, {}, MediaType>>['data']>

// Whether the call's second argument may be left out: only when nothing in it is required.
// biome-ignore lint/complexity/noBannedTypes: `{} extends Pick<T, K>` is the test for an optional key
type RequiredKeysOfEach<T> = { [K in keyof T]: {} extends Pick<T, K> ? never : K }[keyof T]
type RequiredKeysOf<T> = RequiredKeysOfEach<T> extends undefined ? never : RequiredKeysOfEach<T>
export type InitParam<Init> = RequiredKeysOf<Init> extends never ? [(Init & { [key: string]: unknown })?] : [Init & { [key: string]: unknown }]

export type ClientMethod<M extends HttpMethod> = <P extends PathsWith<M>, Init extends MaybeOptionalInit<paths[P], M>>(
  url: P,
  ...init: InitParam<Init>
) => Promise<MadoguchiResponse<Operation<P, M>, Init>>

/** GET paths that page with `cursor` and answer `next_cursor`. */
export type PagedPath = {
  [P in PathsWith<'get'>]: Operation<P, 'get'> extends { parameters: { query?: infer Q } }
    ? 'cursor' extends keyof NonNullable<Q>
      ? DataOf<P, 'get'> extends { next_cursor: string | null }
        ? P
        : never
      : never
    : never
}[PathsWith<'get'>]
