/**
 * Text PostgreSQL can store: a `text` or `jsonb` value cannot hold U+0000 (NUL), and a lone
 * UTF-16 surrogate has no UTF-8 form at all. Such characters in a request (a path parameter, a
 * query value, a header or a JSON body) are refused with 400 before anything reaches the database,
 * and the audit trail writes them escaped so that the refusal is recorded like any other.
 */
// NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const PATTERN = '\\u0000|[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]'
const UNSTORABLE = new RegExp(PATTERN)
const UNSTORABLE_ALL = new RegExp(PATTERN, 'g')

/** Whether the text holds a character PostgreSQL cannot store. */
function hasUnstorableText(text: string): boolean {
  return UNSTORABLE.test(text)
}

/** The text with each unstorable character written as its escape (`\u0000`), for the audit trail. */
export function storableText(text: string): string {
  return hasUnstorableText(text) ? text.replace(UNSTORABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : text
}

/**
 * The JSON pointer of the first string (or object key) in `value` that holds an unstorable
 * character, or null. Walks at most `budget` nodes (bodies are bounded by the body limit).
 */
export function findUnstorable(value: unknown, pointer = '', budget = { nodes: 100_000 }): string | null {
  if (--budget.nodes < 0) return null
  if (typeof value === 'string') return hasUnstorableText(value) ? pointer : null
  if (value === null || typeof value !== 'object') return null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], `${pointer}/${i}`, budget)
      if (found !== null) return found
    }
    return null
  }
  for (const [key, item] of Object.entries(value)) {
    const here = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
    if (hasUnstorableText(key)) return here
    const found = findUnstorable(item, here, budget)
    if (found !== null) return found
  }
  return null
}
