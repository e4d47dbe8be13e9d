import dns from 'node:dns'
import net from 'node:net'
import { type Message, render } from '../kernel/messages/index.ts'

/**
 * Where webhooks may be delivered (server-side request forgery guard).
 *
 * Public addresses: https only. Loopback, private, link-local (cloud metadata at
 * 169.254.169.254), carrier-grade NAT, unique-local, multicast and reserved addresses are
 * refused unless an administrator listed the range in WEBHOOK_PRIVATE_NETWORKS (municipal
 * systems often live on private networks such as LGWAN; tests use 127.0.0.1); to those,
 * plain http is allowed too. The check runs on the address actually connected to, at every
 * delivery (a name that resolves elsewhere later cannot slip through), and on address literals
 * at registration for an early answer.
 */
const SPECIAL_V4: Array<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
]
const SPECIAL_V6: Array<[string, number]> = [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
]

class TargetRefused extends Error {
  override name = 'TargetRefused'
}

export class TargetPolicy {
  private readonly special = new net.BlockList()
  private readonly allowed = new net.BlockList()

  readonly privateNetworks: readonly string[]
  constructor(privateNetworks: readonly string[] = []) {
    this.privateNetworks = privateNetworks
    for (const [address, prefix] of SPECIAL_V4) this.special.addSubnet(address, prefix, 'ipv4')
    for (const [address, prefix] of SPECIAL_V6) this.special.addSubnet(address, prefix, 'ipv6')
    for (const network of privateNetworks) {
      const [address = '', prefix] = network.split('/')
      const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4'
      this.allowed.addSubnet(address, prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix), family)
    }
  }

  /** Why the address may not be used with this scheme, or null when it may. */
  refusal(address: string, protocol: string): Message | null {
    const plain = unmapped(address)
    const family = net.isIP(plain) === 6 ? 'ipv6' : 'ipv4'
    if (this.allowed.check(plain, family)) return null
    if (this.special.check(plain, family)) return { id: 'webhooks.private_address', params: { address: plain } }
    if (protocol !== 'https:') return 'webhooks.public_needs_https'
    return null
  }

  /** Checks a URL at registration: scheme, no credentials, and literal addresses. */
  checkUrl(raw: string): Message | null {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      return 'webhooks.not_a_url'
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'webhooks.only_http'
    if (url.username || url.password) return 'webhooks.no_credentials'
    if (url.hash) return 'webhooks.no_fragment'
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (net.isIP(host)) return this.refusal(host, url.protocol)
    if (host === 'localhost' || host.endsWith('.localhost')) return this.refusal('127.0.0.1', url.protocol)
    return null
  }

  /**
   * A `lookup` for http(s).request that resolves the name and connects only to an address the
   * policy allows (so the check and the connection use the same address).
   */
  lookupFor(protocol: string): net.LookupFunction {
    return (hostname, options, callback) => {
      dns.lookup(hostname, { all: true, family: typeof options === 'object' ? options.family : undefined }, (error, addresses) => {
        if (error) return callback(error, '', 0)
        let reason = 'no address'
        for (const { address, family } of addresses) {
          const refused = this.refusal(address, protocol)
          if (refused === null) {
            if (typeof options === 'object' && options.all)
              return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address, family }])
            return callback(null, address, family)
          }
          reason = render(refused, 'en')
        }
        callback(new TargetRefused(reason), '', 0)
      })
    }
  }
}

function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return mapped ? mapped[1]! : address
}
