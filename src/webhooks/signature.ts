import crypto from 'node:crypto'

/**
 * Delivery signatures: `Madoguchi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
 * The receiver recomputes the HMAC over the raw body it received, compares in constant time and
 * refuses timestamps far from its clock (replays). docs/webhooks.md shows the receiver's side.
 */
export const SIGNATURE_HEADER = 'madoguchi-signature'

export function signDelivery(secret: string, body: string, timestamp: number): string {
  const mac = crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
  return `t=${timestamp},v1=${mac}`
}

/** The receiver's check (used by the tests the way a receiver would). */
export function verifyDeliverySignature(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]))
  const t = Number(parts.t)
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !parts.v1) return false
  const expected = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest()
  const given = Buffer.from(parts.v1, 'hex')
  return given.length === expected.length && crypto.timingSafeEqual(given, expected)
}

export function generateSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64url')}`
}
