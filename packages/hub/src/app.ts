/**
 * @module The hub's Fastify application: infrastructure plugins first (permissions, access,
 * audit), then one prefixed plugin per domain.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { isKuraError, type HubConfig } from '@kura/core'
import { JobRunner } from '@kura/storage'
import { annotationRoutes } from './annotations/routes.ts'
import { interchangeRoutes } from './annotations/interchange/routes.ts'
import { apiRoutes } from './api/routes.ts'
import { oidcSignIn } from './api/session.ts'
import type { Archive } from './archive/archive.ts'
import { AuditLog } from './audit/log.ts'
import { OidcClient } from './auth/oidc.ts'
import { oidcRoutes } from './auth/oidc-routes.ts'
import { permissionsPlugin } from './auth/permissions.ts'
import { accessPlugin } from './auth/plugin.ts'
import { cookieSecret } from './auth/secrets.ts'
import { dicomwebRoutes } from './dicomweb/routes.ts'
import { healthRoutes } from './health/routes.ts'
import { recordRoutes } from './records/routes.ts'
import { pyramidJob, SLIDE_PYRAMID_JOB } from './slides/pyramid-job.ts'
import { slideRoutes } from './slides/routes.ts'
import { taskRoutes } from './tasks/routes.ts'
import { uploadRoutes } from './uploads/routes.ts'
import { webDistDir, webRoutes } from './web/routes.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's queue workers (started when `jobWorkers` > 0). */
    jobRunner: JobRunner
  }
}

export interface AppOptions {
  archive: Archive
  config: Pick<HubConfig, 'publicUrl' | 'dataDir'> & Partial<Pick<HubConfig, 'oidc' | 'tls' | 'jobWorkers'>>
  logger?: FastifyServerOptions['logger']
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const tls = opts.config.tls ?? null
  const app = Fastify({
    logger: opts.logger ?? false,
    // STOW bodies are streamed by our own parser; nothing else takes large bodies.
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    requestTimeout: 0,
    ...(tls ? { https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } } : {}),
  }) as unknown as FastifyInstance
  const db = opts.archive.catalog.db
  const auditLog = new AuditLog(db, opts.archive.catalog.engine, app.log as never)
  app.addHook('onClose', () => auditLog.flush())

  await app.register(permissionsPlugin)
  await app.register(accessPlugin, { db, auditLog, cookieSecret: cookieSecret(opts.config.dataDir), secure: tls !== null })

  // Deliberate errors pass through as { code, message }; anything else becomes a generic 500,
  // logged with the request id, so driver or stack details never reach a client.
  app.setErrorHandler((err, req, reply) => {
    if (isKuraError(err)) {
      const retry = err.details?.retryAfterS
      if (typeof retry === 'number') reply.header('Retry-After', String(retry))
      return reply.status(err.status).send({ code: err.code, message: err.message })
    }
    const e = err as { statusCode?: number; code?: string; message?: string }
    if (e.statusCode && e.statusCode < 500) return reply.status(e.statusCode).send({ code: e.code ?? 'BAD_REQUEST', message: e.message })
    req.log.error({ err }, 'unhandled error')
    return reply.status(500).send({ code: 'INTERNAL', message: `Internal error (request ${req.id}); the server log has the details.` })
  })
  app.setNotFoundHandler({}, (req, reply) => reply.status(404).send({ code: 'NOT_FOUND', message: `No route for ${req.method} ${req.url.split('?')[0]}.` }))

  const oidc = opts.config.oidc ? await discoverOidc(app, opts.config.oidc, opts.config.publicUrl) : null
  await app.register(healthRoutes, { archive: opts.archive })
  await app.register(apiRoutes, { prefix: '/api', db, objects: opts.archive.objects, secure: tls !== null, oidc: oidc ? opts.config.oidc! : null })
  if (oidc) await app.register(oidcRoutes, { prefix: '/api/auth/oidc', client: oidc, secure: tls !== null, signIn: oidcSignIn(app, db, tls !== null) })
  await app.register(dicomwebRoutes, { prefix: '/dicomweb', archive: opts.archive, publicUrl: opts.config.publicUrl })
  await app.register(uploadRoutes, { prefix: '/uploads', archive: opts.archive, dataDir: opts.config.dataDir })
  await app.register(slideRoutes, { archive: opts.archive, dataDir: opts.config.dataDir, publicUrl: opts.config.publicUrl })
  await app.register(annotationRoutes, { prefix: '/api', archive: opts.archive })
  await app.register(taskRoutes, { prefix: '/api', archive: opts.archive })
  await app.register(interchangeRoutes, { prefix: '/api', archive: opts.archive, dataDir: opts.config.dataDir })
  await app.register(recordRoutes, { prefix: '/api', archive: opts.archive })
  await app.register(webRoutes, { distDir: webDistDir() })

  // Queue workers in this process: the embedded default; a larger installation sets KURA_JOB_WORKERS=0 on API
  // processes and runs workers elsewhere against the same catalog.
  const workers = opts.config.jobWorkers ?? 1
  const runner = new JobRunner(opts.archive.jobs, { concurrency: Math.max(1, workers), pollMs: 1000, log: app.log as never })
  runner.handle(SLIDE_PYRAMID_JOB, pyramidJob(opts.archive, join(opts.config.dataDir, 'tmp')))
  app.decorate('jobRunner', runner)
  if (workers > 0) {
    app.addHook('onReady', async () => runner.start())
    app.addHook('onClose', () => runner.stop())
  }
  return app
}

/**
 * An identity provider that cannot be reached must not keep local administrators out: the hub
 * starts without OIDC sign-in and says why.
 */
async function discoverOidc(app: FastifyInstance, cfg: NonNullable<HubConfig['oidc']>, publicUrl: string | undefined): Promise<OidcClient | null> {
  if (!publicUrl) {
    app.log.error('KURA_OIDC_ISSUER is set but KURA_PUBLIC_URL is not: the identity provider needs the exact callback URL (<public URL>/api/auth/oidc/callback). OIDC sign-in is off.')
    console.error('kura: OIDC sign-in is off: set KURA_PUBLIC_URL to the URL browsers use for this hub.')
    return null
  }
  try {
    return await OidcClient.discover({ ...cfg, redirectUri: `${publicUrl.replace(/\/$/, '')}/api/auth/oidc/callback` })
  } catch (e) {
    console.error(`kura: OIDC sign-in is off: ${(e as Error).message}`)
    return null
  }
}
