import type { LightMyRequestResponse } from 'fastify'
import type tap from 'tap'

/**
 * Assertions that say what they found when they fail: a status assertion prints the problem body
 * the service answered with, a list assertion the items that broke it.
 */

// The part of a tap test these helpers use.
type Assert = Pick<typeof tap, 'equal' | 'same' | 'ok'>

/** An answer: from app.inject, from the generated SDK (openapi-fetch: { response, error }), or from fetch. */
type Answer = LightMyRequestResponse | { response: Response; error?: unknown } | Response

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))?.slice(0, 2000) ?? String(value)

/** Asserts the answer's status; on failure the message carries the body (the problem's detail and errors). */
export function expectStatus(t: Assert, answer: Answer, status: number, message?: string): boolean {
  const found = 'statusCode' in answer ? answer.statusCode : 'response' in answer ? answer.response.status : answer.status
  const label = message ?? `status ${status}`
  if (found === status) return t.equal(found, status, label)
  // A fetch body is a stream that may already be read: its status text then.
  const body = 'statusCode' in answer ? answer.body : 'response' in answer ? answer.error : answer.statusText
  return t.equal(found, status, `${label}: answered ${found} ${shown(body)}`)
}

/** Asserts that every item satisfies the predicate, showing those that do not. */
export function expectEvery<T>(t: Assert, items: readonly T[], predicate: (item: T, index: number) => unknown, message = 'every item'): boolean {
  return t.same(
    items.filter((item, index) => !predicate(item, index)),
    [],
    message,
  )
}

/** Asserts that some item satisfies the predicate, showing the items when none does. */
export function expectSome<T>(t: Assert, items: readonly T[] | undefined, predicate: (item: T) => unknown, message = 'some item'): boolean {
  const found = (items ?? []).some(predicate)
  return t.ok(found, found ? message : `${message}: none of ${shown(items)}`)
}
