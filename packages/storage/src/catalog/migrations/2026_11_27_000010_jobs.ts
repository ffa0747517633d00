/**
 * @module Migration 000010: the job queue (work done after a request, by queue workers) and slide derivatives
 * (files the workers derive from a stored slide, such as the pyramid levels a scanner did not write).
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema
    .createTable('job')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('name', t, (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    // One waiting or running job per key: enqueueing the same work twice is a no-op.
    .addColumn('singleton_key', t)
    .addColumn('state', t, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('run_after', t, (c) => c.notNull())
    .addColumn('locked_by', t)
    .addColumn('locked_until', t)
    .addColumn('last_error', 'text')
    .addColumn('created_at', t, (c) => c.notNull())
    .addColumn('updated_at', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('job_ready_idx').on('job').columns(['state', 'run_after']).execute()
  await sql`CREATE UNIQUE INDEX job_singleton_key ON job (singleton_key) WHERE state IN ('queued', 'active')`.execute(db)

  await db.schema
    .createTable('slide_derivative')
    .addColumn('slide_id', t, (c) => c.notNull().references('slide.id').onDelete('cascade'))
    .addColumn('kind', t, (c) => c.notNull())
    .addColumn('object_key', t, (c) => c.notNull())
    .addColumn('sha256', t, (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('levels', 'text', (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    .addPrimaryKeyConstraint('slide_derivative_pkey', ['slide_id', 'kind'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('slide_derivative').execute()
  await db.schema.dropTable('job').execute()
}
