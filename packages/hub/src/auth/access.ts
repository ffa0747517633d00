/**
 * @module Access: what the principal of one request may do, on which collections.
 *
 * A principal's grants are flattened into scopes (a permission set on one collection or on
 * all). An API token is never stronger than its owner: its scopes are the intersection of the
 * token's own (role, collection) and each of the owner's current grants, so removing a grant
 * from a user also narrows every token they issued, at once.
 */
import { GLOBAL_PERMISSIONS, permissionsOf, type GrantedPermission, type Role } from './roles.ts'

export interface Scope {
  permissions: ReadonlySet<GrantedPermission>
  /** Collection name (names are unique and never change); null: every collection. */
  collection: string | null
  site: string | null
}

export interface Principal {
  kind: 'session' | 'token'
  userId: string
  username: string
  isAdmin: boolean
  tokenId: string | null
  /** Browser sessions only: the value unsafe requests must echo in X-CSRF-Token. */
  csrfToken: string | null
  mustChangePassword: boolean
  scopes: Scope[]
}

export interface GrantLike {
  role: Role
  collection: string | null
  site: string | null
}

export const ALL_PERMISSIONS: ReadonlySet<GrantedPermission> = new Set(permissionsOf('admin'))

export function scopesOfUser(isAdmin: boolean, grants: GrantLike[]): Scope[] {
  if (isAdmin) return [{ permissions: ALL_PERMISSIONS, collection: null, site: null }]
  return grants.map((g) => ({ permissions: new Set(permissionsOf(g.role)), collection: g.collection, site: g.site }))
}

/** The token's scope intersected with each of its owner's scopes. */
export function scopesOfToken(owner: Scope[], token: GrantLike): Scope[] {
  const want = new Set(permissionsOf(token.role))
  const out: Scope[] = []
  for (const s of owner) {
    const permissions = new Set([...want].filter((p) => s.permissions.has(p)))
    if (!permissions.size) continue
    if (token.collection && s.collection && token.collection !== s.collection) continue
    if (token.site && s.site && token.site !== s.site) continue
    out.push({ permissions, collection: token.collection ?? s.collection, site: token.site ?? s.site })
  }
  return out
}

export class Access {
  constructor(readonly principal: Principal | null) {}

  get signedIn(): boolean {
    return this.principal !== null
  }

  /** Whether the permission is held on at least one collection (the route-level check). */
  holds(permission: GrantedPermission): boolean {
    return this.principal?.scopes.some((s) => s.permissions.has(permission)) ?? false
  }

  /** Whether the permission is held on this collection. */
  can(permission: GrantedPermission, collection: string): boolean {
    return this.principal?.scopes.some((s) => s.permissions.has(permission) && (s.collection === null || s.collection === collection || GLOBAL_PERMISSIONS.has(permission))) ?? false
  }

  /** The collections where the permission is held: 'all', or a list of collection names. */
  collectionsWith(permission: GrantedPermission): 'all' | string[] {
    const ids = new Set<string>()
    for (const s of this.principal?.scopes ?? []) {
      if (!s.permissions.has(permission)) continue
      if (s.collection === null) return 'all'
      ids.add(s.collection)
    }
    return [...ids]
  }

  /**
   * The site the permission is bound to on this collection: a site uploader's site, or null when
   * some grant gives it without a site (curators, admins).
   */
  siteBound(permission: GrantedPermission, collection: string): string | null {
    let site: string | null = null
    for (const s of this.principal?.scopes ?? []) {
      if (!s.permissions.has(permission) || (s.collection !== null && s.collection !== collection)) continue
      if (s.site === null) return null
      site ??= s.site
    }
    return site
  }

  /** Every permission held somewhere, for the UI to show what it may offer. */
  permissions(): GrantedPermission[] {
    const all = new Set<GrantedPermission>()
    for (const s of this.principal?.scopes ?? []) for (const p of s.permissions) all.add(p)
    return [...all].sort()
  }
}
