/**
 * @module Migration 000002: who may do what (users, sites, grants, API tokens, sessions) and the
 * hash-chained audit log.
 *
 * Secrets are never stored: passwords as scrypt hashes, API tokens and session ids as SHA-256
 * of their (high-entropy) values. Audit events are append-only; `seq` orders the chain, and
 * each row's `hash` commits to the previous row's (see @kura/core hash-chain.ts).
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)

  await db.schema
    .createTable('user')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('username', t, (c) => c.notNull().unique())
    .addColumn('display_name', t, (c) => c.notNull())
    .addColumn('email', t, (c) => c.notNull())
    .addColumn('password_hash', t)
    .addColumn('must_change_password', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('oidc_issuer', t)
    .addColumn('oidc_subject', t)
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', t)
    .addColumn('created_at', t, (c) => c.notNull())
    .addUniqueConstraint('user_oidc_key', ['oidc_issuer', 'oidc_subject'])
    .execute()

  await db.schema
    .createTable('site')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('name', t, (c) => c.notNull().unique())
    .addColumn('created_at', t, (c) => c.notNull())
    .execute()

  // collection_id null = every collection; site_id only for site uploaders. The unique key is
  // over coalesced ids so a null scope cannot be granted twice either.
  await db.schema
    .createTable('grant')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('user_id', t, (c) => c.notNull().references('user.id').onDelete('cascade'))
    .addColumn('role', t, (c) => c.notNull())
    .addColumn('collection_id', t, (c) => c.references('collection.id').onDelete('cascade'))
    .addColumn('site_id', t, (c) => c.references('site.id').onDelete('cascade'))
    .addColumn('created_at', t, (c) => c.notNull())
    .execute()
  await sql`create unique index grant_scope_key on ${sql.table('grant')} (user_id, role, coalesce(collection_id, ''), coalesce(site_id, ''))`.execute(db)

  await db.schema
    .createTable('api_token')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('user_id', t, (c) => c.notNull().references('user.id').onDelete('cascade'))
    .addColumn('name', t, (c) => c.notNull())
    .addColumn('token_hash', t, (c) => c.notNull().unique())
    .addColumn('prefix', t, (c) => c.notNull())
    .addColumn('role', t, (c) => c.notNull())
    .addColumn('collection_id', t, (c) => c.references('collection.id').onDelete('cascade'))
    .addColumn('site_id', t, (c) => c.references('site.id').onDelete('cascade'))
    .addColumn('created_at', t, (c) => c.notNull())
    .addColumn('expires_at', t, (c) => c.notNull())
    .addColumn('revoked_at', t)
    .addColumn('last_used_at', t)
    .execute()
  await db.schema.createIndex('api_token_user_idx').on('api_token').column('user_id').execute()

  await db.schema
    .createTable('session')
    .addColumn('id_hash', t, (c) => c.primaryKey())
    .addColumn('user_id', t, (c) => c.notNull().references('user.id').onDelete('cascade'))
    .addColumn('csrf_token', t, (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    .addColumn('expires_at', t, (c) => c.notNull())
    .addColumn('ip', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('session_user_idx').on('session').column('user_id').execute()

  await db.schema
    .createTable('audit_event')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('at', t, (c) => c.notNull())
    .addColumn('actor', t, (c) => c.notNull())
    .addColumn('actor_kind', t, (c) => c.notNull())
    .addColumn('action', t, (c) => c.notNull())
    .addColumn('resource', t, (c) => c.notNull())
    .addColumn('collection', t, (c) => c.notNull())
    .addColumn('ip', t, (c) => c.notNull())
    .addColumn('outcome', t, (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('prev_hash', t, (c) => c.notNull())
    .addColumn('hash', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('audit_event_at_idx').on('audit_event').column('at').execute()
  await db.schema.createIndex('audit_event_actor_idx').on('audit_event').columns(['actor', 'seq']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['audit_event', 'session', 'api_token', 'grant', 'site', 'user']) await db.schema.dropTable(table).execute()
}
