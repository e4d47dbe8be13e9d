import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Serves the browser example on its own origin: the page, the built package (sdk/dist, from
 * `npm run sdk:build`) under /sdk/, and openapi-fetch under /vendor/. Run it with
 *   npm run example:browser            (PORT=8080 by default)
 * and start the service with CORS_ORIGINS=http://127.0.0.1:8080.
 */
const HERE = path.dirname(fileURLToPath(import.meta.url))
const FILES: Record<string, string> = {
  '/': path.join(HERE, 'index.html'),
  '/vendor/openapi-fetch.mjs': fileURLToPath(import.meta.resolve('openapi-fetch')),
}
const SDK_DIST = path.resolve(HERE, '../../dist')
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' }

function fileFor(urlPath: string): string | null {
  if (FILES[urlPath]) return FILES[urlPath]
  if (!urlPath.startsWith('/sdk/')) return null
  const file = path.resolve(SDK_DIST, `.${urlPath.slice('/sdk'.length)}`)
  return file.startsWith(`${SDK_DIST}${path.sep}`) ? file : null
}

export async function serveExample(port = 8080, host = '127.0.0.1'): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const file = fileFor(new URL(req.url ?? '/', 'http://x').pathname)
    const body = file ? await fs.readFile(file).catch(() => null) : null
    if (!file || !body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  const origin = `http://${host}:${(server.address() as AddressInfo).port}`
  return { origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { origin } = await serveExample(Number(process.env.PORT ?? 8080))
  process.stdout.write(`browser example on ${origin}/?api=http://127.0.0.1:3000 (the service needs CORS_ORIGINS=${origin})\n`)
}
