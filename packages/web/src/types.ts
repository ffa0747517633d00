/** @module The hub's JSON API shapes (docs/api.md), as the browser sees them. */

export interface User {
  id: string
  username: string
  displayName: string | null
  email: string | null
  isAdmin: boolean
  disabled: boolean
  lockedUntil: string | null
  oidc: boolean
  createdAt: string
}

export const ROLES = ['admin', 'curator', 'site_uploader', 'annotator', 'reviewer', 'researcher', 'educator', 'auditor'] as const
export type Role = (typeof ROLES)[number]

export interface Grant {
  id: string
  userId: string
  username: string
  role: Role
  collection: string | null
  site: string | null
  createdAt: string
}

export interface Session {
  user: User
  csrfToken: string | null
  grants: Grant[]
  permissions: string[]
  mustChangePassword: boolean
}

export interface AuthConfig {
  local: boolean
  oidc: { name: string } | null
}

export interface Collection {
  id: string
  name: string
  /** Only de-identified objects are accepted; the hub checks each on receipt. */
  deidentified: boolean
  studies: number
  instances: number
  createdAt: string
}

export interface Site {
  id: string
  name: string
  createdAt: string
}

export interface Token {
  id: string
  name: string
  userId: string
  username: string
  role: Role
  collection: string | null
  site: string | null
  prefix: string
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
  lastUsedAt: string | null
}

export interface AuditEvent {
  seq: number
  at: string
  actor: string | null
  actorKind: string
  action: string
  resource: string | null
  collection: string | null
  ip: string | null
  outcome: string
  status: number | null
  hash: string
}

export interface AuditVerify {
  ok: boolean
  events: number
  firstBad: number | null
  reason: string | null
}

export interface SlideLevel {
  width: number
  height: number
  tileWidth: number
  tileHeight: number
  downsample: number
}

/** `GET /slides` rows and `GET /slides/{id}` (which adds `properties`). */
export interface SlideInfo {
  id: string
  collection: string
  format: string
  width: number
  height: number
  levels: SlideLevel[]
  /** Micrometres per level-0 pixel; null when the file does not say. */
  mpp: { x: number; y: number } | null
  objectivePower: number | null
  associated: { name: string; width: number; height: number }[]
  sha256: string
  size: number
  createdAt: string
  properties?: Record<string, string>
}

export function isAdmin(s: Session | null): boolean {
  return !!s && (s.user.isAdmin || s.permissions.includes('admin'))
}

export function canReadAudit(s: Session | null): boolean {
  return !!s && (isAdmin(s) || s.permissions.includes('audit:read'))
}
