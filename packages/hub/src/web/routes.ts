/**
 * @module The browser application's files: hashed `/assets/*` cached for a year, `index.html` never
 * cached, and every other GET outside the data prefixes answered with `index.html` so the app's own
 * router handles `/studies`, `/admin/users`, ... The files hold no data, so every route is public.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import fastifyStatic from '@fastify/static'

/** `packages/web/dist`, found by path: the hub serves the built files and never imports web code. */
export function webDistDir(): string {
  return fileURLToPath(new URL('../../../web/dist/', import.meta.url))
}

/** Paths the app's JSON 404 keeps: an unknown data URL must not turn into a 200 HTML page. */
const DATA_PREFIXES = ['/api', '/dicomweb', '/iiif', '/slides', '/healthz', '/assets']

const isDataPath = (url: string) => {
  const path = url.split('?')[0]!
  return DATA_PREFIXES.some((p) => path === p || path.startsWith(p + '/'))
}

// The built app loads only its own scripts and styles and talks only to this origin: stricter
// than the hub-wide policy (no inline styles). The access plugin adds the other security headers.
const APP_CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kura: web application not built</title></head>
<body><h1>The web application is not built</h1>
<p>Run <code>npm run build -w @kura/web</code> (or <code>npm ci</code>, which builds it) and reload this page.</p>
<p lang="ja">Web アプリケーションがビルドされていません。<code>npm run build -w @kura/web</code> を実行してから再読み込みしてください。</p>
</body></html>
`

export const webRoutes: FastifyPluginAsync<{ distDir: string }> = async (app, opts) => {
  const distDir = opts.distDir
  // `serve: false`: we declare the routes ourselves, because each must carry its permission.
  await app.register(fastifyStatic, { root: distDir, serve: false, decorateReply: true })

  app.get<{ Params: { '*': string } }>('/assets/*', { config: { permission: 'public' } }, (req, reply) => {
    // File names carry a content hash (Vite), so a name never changes meaning: cache for a year.
    return reply.sendFile(req.params['*'], `${distDir}/assets`, { cacheControl: true, maxAge: 31536000 * 1000, immutable: true })
  })

  const sendIndex = async (reply: FastifyReply) => {
    let html: string
    try {
      // Read per request (a few hundred bytes): a rebuild is served without restarting the hub.
      html = await readFile(`${distDir}/index.html`, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      return reply.status(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT)
    }
    return reply.header('content-security-policy', APP_CSP).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html)
  }

  app.get('/', { config: { permission: 'public' } }, (_req, reply) => sendIndex(reply))
  app.get('/*', { config: { permission: 'public' } }, (req, reply) => {
    if (isDataPath(req.url)) return reply.callNotFound()
    return sendIndex(reply)
  })
}
