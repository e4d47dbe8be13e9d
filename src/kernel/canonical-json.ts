/**
 * Canonical JSON: object keys sorted at every level, no whitespace (JSON.stringify of the sorted
 * value). The audit chain hashes it (audit-chain.ts) and Idempotency-Key compares requests by it.
 * Python equivalent: json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const object = value as Record<string, unknown>
    return Object.fromEntries(
      Object.keys(object)
        .sort()
        .map((k) => [k, sortKeys(object[k])]),
    )
  }
  return value
}
