/**
 * @module Migration 000007: vocabularies and their codes, the vocabularies each collection uses,
 * annotations (with a spatial index), their append-only revision log, and image-level labels.
 *
 * Viewport queries must stay fast with a million shapes on one slide, so each annotation keeps its
 * bounds (min/max x/y) and `lod_extent` (its larger side; points count as always visible) next to
 * the GeoJSON text. SQLite: a 3-dimensional R*Tree (x, y, lod_extent) kept in step by triggers,
 * keyed by the integer `rid`. PostgreSQL (no PostGIS): a GiST index on a box expression, plus
 * partial GiST indexes by `lod_extent` tier, so a zoomed-out query ("only shapes at least N
 * pixels across") walks a small index instead of filtering every cell on the slide. The engine
 * is read from Kysely's adapter: these index kinds have no common form. Simplified copies of the
 * geometry for zoomed-out views (`geometry_lod2/8/32/128`) are written with the shape, so viewport
 * reads do no geometry work.
 */
import { PostgresAdapter, sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

/** `lod_extent` tiers with their own partial GiST index on PostgreSQL (level-0 pixels); the hub's viewport query names them. */
const LOD_TIERS = [16, 64, 256, 1024] as const

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter

  await db.schema
    .createTable('vocabulary')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('system', t, (c) => c.notNull())
    .addColumn('version', t, (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_ja', 'text', (c) => c.notNull())
    .addColumn('licence', 'text', (c) => c.notNull())
    .addColumn('origin', t, (c) => c.notNull().check(sql`origin in ('builtin', 'imported')`))
    .addColumn('created_at', t, (c) => c.notNull())
    .addUniqueConstraint('vocabulary_system_version_key', ['system', 'version'])
    .execute()

  await db.schema
    .createTable('vocabulary_code')
    .addColumn('vocabulary_id', t, (c) => c.notNull().references('vocabulary.id').onDelete('cascade'))
    .addColumn('code', t, (c) => c.notNull())
    .addColumn('meaning_en', 'text', (c) => c.notNull())
    .addColumn('meaning_ja', 'text', (c) => c.notNull())
    .addColumn('parent_code', t)
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('status', t, (c) => c.notNull().check(sql`status in ('active', 'retired')`))
    .addColumn('ord', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('vocabulary_code_pkey', ['vocabulary_id', 'code'])
    .execute()
  await db.schema.createIndex('vocabulary_code_parent_idx').on('vocabulary_code').columns(['vocabulary_id', 'parent_code']).execute()

  await db.schema
    .createTable('collection_vocabulary')
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id').onDelete('cascade'))
    .addColumn('vocabulary_id', t, (c) => c.notNull().references('vocabulary.id'))
    .addColumn('level', 'integer')
    .addPrimaryKeyConstraint('collection_vocabulary_pkey', ['collection_id', 'vocabulary_id'])
    .execute()

  // The revision log numbers every change; an annotation's `seq` is its latest revision, and the
  // largest seq is the "annotation set version" an export records.
  await db.schema
    .createTable('annotation_revision')
    .addColumn('seq', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('annotation_id', t, (c) => c.notNull())
    .addColumn('collection_id', t, (c) => c.notNull())
    .addColumn('op', t, (c) => c.notNull().check(sql`op in ('create', 'update', 'delete')`))
    .addColumn('author', t, (c) => c.notNull())
    .addColumn('at', t, (c) => c.notNull())
    .addColumn('snapshot', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('annotation_revision_annotation_idx').on('annotation_revision').columns(['annotation_id', 'seq']).execute()
  await db.schema.createIndex('annotation_revision_collection_idx').on('annotation_revision').columns(['collection_id', 'seq']).execute()

  await db.schema
    .createTable('annotation')
    // rid: the integer key the SQLite R*Tree needs (an explicit INTEGER PRIMARY KEY, so VACUUM never renumbers it).
    .addColumn('rid', postgres ? 'bigserial' : 'integer', (c) => c.primaryKey())
    .addColumn('id', t, (c) => c.notNull().unique())
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    .addColumn('slide_id', t, (c) => c.references('slide.id'))
    .addColumn('study_instance_uid', t)
    .addColumn('series_instance_uid', t)
    .addColumn('sop_instance_uid', t)
    .addColumn('frame', 'integer')
    .addColumn('shape', t, (c) => c.notNull())
    .addColumn('geometry', 'text', (c) => c.notNull())
    .addColumn('ellipse', 'text')
    // The geometry simplified at write time for zoomed-out viewports (tolerance in level-0 pixels; null: the shape
    // is smaller than that, or simplifying drops nothing), so a viewport read never simplifies or parses twice.
    .addColumn('geometry_lod2', 'text')
    .addColumn('geometry_lod8', 'text')
    .addColumn('geometry_lod32', 'text')
    .addColumn('geometry_lod128', 'text')
    .addColumn('min_x', 'double precision', (c) => c.notNull())
    .addColumn('min_y', 'double precision', (c) => c.notNull())
    .addColumn('max_x', 'double precision', (c) => c.notNull())
    .addColumn('max_y', 'double precision', (c) => c.notNull())
    .addColumn('lod_extent', 'double precision', (c) => c.notNull())
    .addColumn('area', 'double precision', (c) => c.notNull())
    .addColumn('vertex_count', 'integer', (c) => c.notNull())
    .addColumn('label_system', t, (c) => c.notNull())
    .addColumn('label_code', t, (c) => c.notNull())
    .addColumn('vocabulary_id', t, (c) => c.notNull().references('vocabulary.id'))
    .addColumn('author', t, (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    .addColumn('updated_at', t, (c) => c.notNull())
    .addColumn('confidence', 'double precision')
    .addColumn('status', t, (c) => c.notNull().check(sql`status in ('draft', 'submitted', 'accepted', 'rejected')`))
    .addColumn('task_id', t)
    .addColumn('properties', 'text')
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('annotation_slide_label_idx').on('annotation').columns(['slide_id', 'label_code']).execute()
  await db.schema.createIndex('annotation_instance_idx').on('annotation').columns(['sop_instance_uid', 'frame']).execute()
  await db.schema.createIndex('annotation_task_idx').on('annotation').columns(['task_id']).execute()
  await db.schema.createIndex('annotation_author_idx').on('annotation').columns(['author']).execute()
  await db.schema.createIndex('annotation_collection_seq_idx').on('annotation').columns(['collection_id', 'seq']).execute()

  if (postgres) {
    const box = sql.raw('box(point(min_x, min_y), point(max_x, max_y))')
    await sql`create index annotation_box_idx on annotation using gist (${box})`.execute(db)
    for (const tier of LOD_TIERS) {
      await sql`create index ${sql.raw(`annotation_box_lod${tier}_idx`)} on annotation using gist (${box}) where lod_extent >= ${sql.lit(tier)}`.execute(db)
    }
  } else {
    // R*Tree coordinates are 32-bit floats rounded outwards, so it answers a superset; queries
    // re-check the exact columns.
    await sql`create virtual table annotation_rtree using rtree(rid, min_x, max_x, min_y, max_y, min_e, max_e)`.execute(db)
    await sql`create trigger annotation_rtree_insert after insert on annotation begin
      insert into annotation_rtree values (new.rid, new.min_x, new.max_x, new.min_y, new.max_y, new.lod_extent, new.lod_extent); end`.execute(db)
    await sql`create trigger annotation_rtree_update after update of min_x, min_y, max_x, max_y, lod_extent on annotation begin
      update annotation_rtree set min_x = new.min_x, max_x = new.max_x, min_y = new.min_y, max_y = new.max_y, min_e = new.lod_extent, max_e = new.lod_extent where rid = new.rid; end`.execute(db)
    await sql`create trigger annotation_rtree_delete after delete on annotation begin
      delete from annotation_rtree where rid = old.rid; end`.execute(db)
  }

  await db.schema
    .createTable('image_label')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    .addColumn('slide_id', t, (c) => c.references('slide.id'))
    .addColumn('study_instance_uid', t)
    .addColumn('series_instance_uid', t)
    .addColumn('sop_instance_uid', t)
    .addColumn('frame', 'integer')
    .addColumn('label_system', t, (c) => c.notNull())
    .addColumn('label_code', t, (c) => c.notNull())
    .addColumn('vocabulary_id', t, (c) => c.notNull().references('vocabulary.id'))
    .addColumn('author', t, (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    .addColumn('confidence', 'double precision')
    .addColumn('status', t, (c) => c.notNull().check(sql`status in ('draft', 'submitted', 'accepted', 'rejected')`))
    .addColumn('task_id', t)
    .execute()
  await db.schema.createIndex('image_label_slide_idx').on('image_label').columns(['slide_id', 'label_code']).execute()
  await db.schema.createIndex('image_label_instance_idx').on('image_label').columns(['sop_instance_uid', 'frame']).execute()
  await db.schema.createIndex('image_label_task_idx').on('image_label').columns(['task_id']).execute()
  await db.schema.createIndex('image_label_collection_idx').on('image_label').columns(['collection_id']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter
  await db.schema.dropTable('image_label').execute()
  if (!postgres) await sql`drop table if exists annotation_rtree`.execute(db)
  await db.schema.dropTable('annotation').execute()
  await db.schema.dropTable('annotation_revision').execute()
  await db.schema.dropTable('collection_vocabulary').execute()
  await db.schema.dropTable('vocabulary_code').execute()
  await db.schema.dropTable('vocabulary').execute()
}
