/**
 * @module Migration 000013: `instance.object_offset`. Null: the instance is its own object (`object_key`, `size`
 * bytes). A number: the instance is `size` bytes at that offset inside a pack, one object holding a gateway bundle's
 * instances (hub archive/archive.ts, ingestMany). A file and a folder entry per small instance, each flushed, were
 * most of the hub's kernel time on receipt; on S3 a pack is one PUT instead of one per instance.
 */
import type { Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('instance').addColumn('object_offset', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('instance').dropColumn('object_offset').execute()
}
