/**
 * @module Roles and permissions: what each role may do. Grants (data) give a user a role on a
 * collection (or on all); this table (code) says what the role means.
 */

/** Permissions a route can require. `public` needs no sign-in; `authenticated` any principal. */
export const PERMISSIONS = ['public', 'authenticated', 'study:read', 'study:write', 'study:delete', 'quarantine:review', 'annotation:write', 'annotation:review', 'audit:read', 'admin'] as const
export type Permission = (typeof PERMISSIONS)[number]

/** Permissions that are checked against a grant (everything but the two sign-in levels). */
export type GrantedPermission = Exclude<Permission, 'public' | 'authenticated'>

export const ROLES = ['admin', 'curator', 'site_uploader', 'annotator', 'reviewer', 'researcher', 'educator', 'auditor'] as const
export type Role = (typeof ROLES)[number]

const ROLE_PERMISSIONS: Record<Role, readonly GrantedPermission[]> = {
  admin: ['study:read', 'study:write', 'study:delete', 'quarantine:review', 'annotation:write', 'annotation:review', 'audit:read', 'admin'],
  // Curators set up vocabularies and annotation tasks and may adjudicate them.
  curator: ['study:read', 'study:write', 'study:delete', 'quarantine:review', 'annotation:write', 'annotation:review'],
  // Uploads only: a gateway's token must not be able to read back what other sites sent.
  site_uploader: ['study:write'],
  annotator: ['study:read', 'annotation:write'],
  // Adjudicates annotation tasks: sees every reader's annotations and accepts, edits or rejects them.
  reviewer: ['study:read', 'annotation:write', 'annotation:review'],
  researcher: ['study:read'],
  educator: ['study:read'],
  auditor: ['audit:read'],
}

/** Permissions that are not about one collection's data: a grant gives them everywhere. */
export const GLOBAL_PERMISSIONS: ReadonlySet<GrantedPermission> = new Set(['audit:read', 'admin'])

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value)
}

export function roleGrants(role: Role, permission: GrantedPermission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission)
}

export function permissionsOf(role: Role): readonly GrantedPermission[] {
  return ROLE_PERMISSIONS[role]
}
