/**
 * @module Route permissions: every route declares the one permission it needs.
 *
 * A route without `config.permission` stops the hub from starting (checked in `onRoute`), so
 * no data route can be added unguarded by accident. Public routes say `'public'` on purpose.
 * `auth/plugin.ts` enforces the declarations on every request; the route-matrix test walks
 * `app.declaredRoutes` against every role.
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { PERMISSIONS, type Permission } from './roles.ts'

export { PERMISSIONS, type Permission }

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission
  }
  interface FastifyInstance {
    /** This app's routes with their permissions, in registration order. */
    declaredRoutes: DeclaredRoute[]
  }
}

export interface DeclaredRoute {
  method: string
  url: string
  permission: Permission
}

/** Every route of every app built in this process (see `app.declaredRoutes` for one app's). */
export const routeTable: DeclaredRoute[] = []

export const permissionsPlugin = fp(async function permissions(app: FastifyInstance) {
  const own: DeclaredRoute[] = []
  app.decorate('declaredRoutes', own)
  app.addHook('onRoute', (route: RouteOptions) => {
    const permission = (route.config as { permission?: Permission } | undefined)?.permission
    if (!permission || !PERMISSIONS.includes(permission)) {
      throw new Error(`Route ${String(route.method)} ${route.url} declares no permission: add config: { permission: '…' } (one of ${PERMISSIONS.join(', ')}).`)
    }
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue
      routeTable.push({ method, url: route.url, permission })
      own.push({ method, url: route.url, permission })
    }
  })
}, { name: 'kura-permissions' })
