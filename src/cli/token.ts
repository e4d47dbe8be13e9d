import { parseArgs } from 'node:util'
import { ROLES } from '../kernel/access.ts'
import { ensureDevSecret, signHs256Token } from '../kernel/auth.ts'
import { ConfigError, loadConfig } from '../config.ts'
import { ROOT_ORG_UNIT_ID } from '../org-units/org-units.repository.ts'

/**
 * Prints a JWT that the local service accepts, for trying the API:
 *   npm run token -- --role supervisor [--role desk] [--unit <org unit id>] [--sub id] [--name 名前] [--ttl seconds]
 * Works with the development secret (no auth configured) or AUTH_HS256_SECRET; with a JWKS,
 * tokens come from the identity provider instead.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string', multiple: true },
      unit: { type: 'string' },
      sub: { type: 'string' },
      name: { type: 'string' },
      ttl: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  const roles = (values.role ?? []).flatMap((r) => r.split(','))
  if (values.help || roles.length === 0) {
    process.stderr.write(
      'usage: npm run token -- --role <role> [--role <role>] [--unit <org unit id>] [--sub <subject>] [--name <name>] [--ttl <seconds>]\n' +
        `roles: ${ROLES.join(', ')}\n`,
    )
    process.exit(values.help ? 0 : 2)
  }
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r))
  if (unknown.length > 0) throw new ConfigError(`unknown role ${unknown.join(', ')} (known: ${ROLES.join(', ')})`)
  const ttl = values.ttl === undefined ? 8 * 3600 : Number(values.ttl)
  if (!Number.isInteger(ttl) || ttl <= 0) throw new ConfigError('--ttl must be a whole number of seconds')

  const { auth } = loadConfig()
  let secret: Uint8Array
  if (auth.mode === 'dev') secret = await ensureDevSecret(auth.secretFile)
  else if (auth.mode === 'hs256') secret = new TextEncoder().encode(auth.secret)
  else throw new ConfigError(`the service verifies tokens with ${auth.mode}: get a token from your identity provider`)

  const token = await signHs256Token(secret, auth.issuer, auth.audience, {
    subject: values.sub ?? `dev-${roles[0]}`,
    name: values.name ?? `Dev ${roles.join('+')}`,
    roles,
    orgUnit: values.unit ?? ROOT_ORG_UNIT_ID,
    expiresIn: ttl,
  })
  process.stdout.write(`${token}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
