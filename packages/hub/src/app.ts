/**
 * @module The hub's Fastify application: infrastructure plugins first, then one prefixed plugin per domain.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { isKuraError, type HubConfig } from '@kura/core'
import type { Archive } from './archive/archive.ts'
import { permissionsPlugin } from './auth/permissions.ts'
import { dicomwebRoutes } from './dicomweb/routes.ts'
import { healthRoutes } from './health/routes.ts'

export interface AppOptions {
  archive: Archive
  config: Pick<HubConfig, 'publicUrl'>
  logger?: FastifyServerOptions['logger']
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    // STOW bodies are streamed by our own parser; nothing else takes large bodies.
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    requestTimeout: 0,
  })
  await app.register(permissionsPlugin)

  // Deliberate errors pass through as { code, message }; anything else becomes a generic 500,
  // logged with the request id, so driver or stack details never reach a client.
  app.setErrorHandler((err, req, reply) => {
    if (isKuraError(err)) return reply.status(err.status).send({ code: err.code, message: err.message })
    const e = err as { statusCode?: number; code?: string; message?: string }
    if (e.statusCode && e.statusCode < 500) return reply.status(e.statusCode).send({ code: e.code ?? 'BAD_REQUEST', message: e.message })
    req.log.error({ err }, 'unhandled error')
    return reply.status(500).send({ code: 'INTERNAL', message: `Internal error (request ${req.id}); the server log has the details.` })
  })
  app.setNotFoundHandler({}, (req, reply) => reply.status(404).send({ code: 'NOT_FOUND', message: `No route for ${req.method} ${req.url.split('?')[0]}.` }))

  await app.register(healthRoutes, { archive: opts.archive })
  await app.register(dicomwebRoutes, { prefix: '/dicomweb', archive: opts.archive, publicUrl: opts.config.publicUrl })
  return app
}
