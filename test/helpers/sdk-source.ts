/**
 * Tests run the SDK from its TypeScript source (the `madoguchi-source` export condition), not a
 * build. Node runs TypeScript itself, but the SDK's source imports its files as `.js`: the
 * published declarations must name `.js` files, and TypeScript does not rewrite them there. This
 * hook points those imports at the `.ts` files beside them, inside sdk/src only.
 * Registered for every test process by tap's `node-arg` (package.json).
 */
import { existsSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { fileURLToPath } from 'node:url'

const sdkSource = new URL('../../sdk/src/', import.meta.url).href

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (context.parentURL?.startsWith(sdkSource) && specifier.startsWith('.') && specifier.endsWith('.js')) {
      const source = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL)
      if (existsSync(fileURLToPath(source))) return nextResolve(source.href, context)
    }
    return nextResolve(specifier, context)
  },
})
