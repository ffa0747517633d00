/**
 * @module Migration 000008: annotation tasks. A task is a list of items (slides or DICOM instances) in one
 * collection, a vocabulary, readers (annotators) and a reviewer. Each item is assigned to one or more
 * readers, whose progress is tracked per assignment; the reviewer's decision on each reader annotation or
 * image-level label is an `adjudication` row, which also links the ground-truth annotation it produced
 * back to its sources (provenance).
 *
 * `annotation.task_id` (migration 000007) is left without a foreign key: that migration runs first, and
 * annotations outlive a deleted task as plain annotations.
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema
    .createTable('task')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('vocabulary_id', t, (c) => c.references('vocabulary.id'))
    .addColumn('vocabulary_level', 'integer')
    .addColumn('kind', t, (c) => c.notNull())
    .addColumn('annotators_per_item', 'integer', (c) => c.notNull())
    .addColumn('reviewer_id', t, (c) => c.references('user.id'))
    .addColumn('status', t, (c) => c.notNull())
    .addColumn('created_by', t, (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('task_collection_idx').on('task').columns(['collection_id', 'created_at']).execute()

  await db.schema
    .createTable('task_item')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('task_id', t, (c) => c.notNull().references('task.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('slide_id', t, (c) => c.references('slide.id'))
    .addColumn('study_instance_uid', t)
    .addColumn('series_instance_uid', t)
    .addColumn('sop_instance_uid', t)
    .addColumn('frame', 'integer')
    .addUniqueConstraint('task_item_position_key', ['task_id', 'position'])
    .execute()

  await db.schema
    .createTable('task_member')
    .addColumn('task_id', t, (c) => c.notNull().references('task.id').onDelete('cascade'))
    .addColumn('user_id', t, (c) => c.notNull().references('user.id'))
    .addColumn('role', t, (c) => c.notNull())
    .addPrimaryKeyConstraint('task_member_pkey', ['task_id', 'user_id', 'role'])
    .execute()
  await db.schema.createIndex('task_member_user_idx').on('task_member').columns(['user_id', 'task_id']).execute()

  await db.schema
    .createTable('task_assignment')
    .addColumn('task_id', t, (c) => c.notNull().references('task.id').onDelete('cascade'))
    .addColumn('item_id', t, (c) => c.notNull().references('task_item.id').onDelete('cascade'))
    .addColumn('user_id', t, (c) => c.notNull().references('user.id'))
    .addColumn('state', t, (c) => c.notNull())
    .addColumn('updated_at', t, (c) => c.notNull())
    .addColumn('submitted_at', t)
    .addPrimaryKeyConstraint('task_assignment_pkey', ['item_id', 'user_id'])
    .execute()
  await db.schema.createIndex('task_assignment_user_idx').on('task_assignment').columns(['user_id', 'task_id']).execute()
  await db.schema.createIndex('task_assignment_task_idx').on('task_assignment').columns(['task_id', 'item_id']).execute()

  await db.schema
    .createTable('adjudication')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('task_id', t, (c) => c.notNull().references('task.id').onDelete('cascade'))
    .addColumn('item_id', t, (c) => c.notNull().references('task_item.id').onDelete('cascade'))
    .addColumn('source_kind', t, (c) => c.notNull())
    .addColumn('source_id', t, (c) => c.notNull())
    .addColumn('source_author', t, (c) => c.notNull())
    .addColumn('decision', t, (c) => c.notNull())
    .addColumn('reviewer_id', t, (c) => c.notNull())
    .addColumn('decided_at', t, (c) => c.notNull())
    .addColumn('result_id', t)
    .addColumn('note', 'text', (c) => c.notNull())
    .addUniqueConstraint('adjudication_source_key', ['task_id', 'source_id'])
    .execute()
  await db.schema.createIndex('adjudication_item_idx').on('adjudication').columns(['item_id']).execute()
  await db.schema.createIndex('adjudication_result_idx').on('adjudication').columns(['result_id']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['adjudication', 'task_assignment', 'task_member', 'task_item', 'task']) await db.schema.dropTable(table).execute()
}
