/**
 * @module Route permissions: every route declares the one permission it needs.
 *
 * A route without `config.permission` stops the hub from starting (checked in `onRoute`), so
 * no data route can be added unguarded by accident. Public routes say `'public'` on purpose.
 * Enforcement against users, roles and grants arrives with the access-control work; the
 * declarations here are what it will enforce.
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'

export const PERMISSIONS = ['public', 'study:read', 'study:write', 'study:delete'] as const
export type Permission = (typeof PERMISSIONS)[number]

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission
  }
}

export interface DeclaredRoute {
  method: string
  url: string
  permission: Permission
}

/** Every route the hub serves with its permission, in registration order (the route table). */
export const routeTable: DeclaredRoute[] = []

export const permissionsPlugin = fp(async function permissions(app: FastifyInstance) {
  app.addHook('onRoute', (route: RouteOptions) => {
    const permission = (route.config as { permission?: Permission } | undefined)?.permission
    if (!permission || !PERMISSIONS.includes(permission)) {
      throw new Error(`Route ${String(route.method)} ${route.url} declares no permission: add config: { permission: '…' } (one of ${PERMISSIONS.join(', ')}).`)
    }
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue
      routeTable.push({ method, url: route.url, permission })
    }
  })
}, { name: 'kura-permissions' })
