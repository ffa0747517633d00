/**
 * @module Migration 000001: the archive catalog (collection → subject → study → series → instance).
 *
 * Every searchable column gets an index, and every foreign key too (deletes check children).
 * Compared text uses the engine's byte-order text type (`env.byteOrderText`): on PostgreSQL a
 * plain b-tree serves `LIKE 'abc%'` only under the "C" collation, whatever the database default;
 * SQLite's default BINARY collation already is byte order. Ids are UUID text made in TypeScript;
 * timestamps are ISO-8601 text; JSON is text — all types both engines accept.
 */
import { sql, type Kysely } from 'kysely'

/** What the engine provides to migrations (handed in by the catalog's migration provider). */
export interface MigrationEnv {
  byteOrderText: string
}

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)

  await db.schema
    .createTable('collection')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('name', t, (c) => c.notNull().unique())
    .addColumn('created_at', t, (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('subject')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    .addColumn('patient_id', t, (c) => c.notNull())
    .addColumn('patient_name', t, (c) => c.notNull())
    .addColumn('patient_name_search_alphabetic', t, (c) => c.notNull())
    .addColumn('patient_name_search_ideographic', t, (c) => c.notNull())
    .addColumn('patient_name_search_phonetic', t, (c) => c.notNull())
    .addColumn('patient_birth_date', t, (c) => c.notNull())
    .addColumn('patient_sex', t, (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    // Also the index for collection_id lookups (leading column).
    .addUniqueConstraint('subject_collection_patient_key', ['collection_id', 'patient_id'])
    .execute()
  for (const col of ['patient_id', 'patient_name_search_alphabetic', 'patient_name_search_ideographic', 'patient_name_search_phonetic', 'patient_birth_date', 'patient_sex']) {
    await db.schema.createIndex(`subject_${col}_idx`).on('subject').column(col).execute()
  }

  await db.schema
    .createTable('study')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('subject_id', t, (c) => c.notNull().references('subject.id'))
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    .addColumn('study_instance_uid', t, (c) => c.notNull().unique())
    .addColumn('study_date', t, (c) => c.notNull())
    .addColumn('study_time', t, (c) => c.notNull())
    .addColumn('accession_number', t, (c) => c.notNull())
    .addColumn('study_id', t, (c) => c.notNull())
    .addColumn('referring_physician_name', t, (c) => c.notNull())
    .addColumn('referring_physician_name_search_alphabetic', t, (c) => c.notNull())
    .addColumn('referring_physician_name_search_ideographic', t, (c) => c.notNull())
    .addColumn('referring_physician_name_search_phonetic', t, (c) => c.notNull())
    .addColumn('study_description', t, (c) => c.notNull())
    .addColumn('study_json', 'text', (c) => c.notNull())
    .addColumn('modalities_in_study', t, (c) => c.notNull().defaultTo(''))
    .addColumn('number_of_series', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('number_of_instances', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', t, (c) => c.notNull())
    .addColumn('updated_at', t, (c) => c.notNull())
    .execute()
  // Search results are ordered newest first by (study_date, study_time, id): these two indexes
  // let an unfiltered or collection-filtered search read the first page straight off the index.
  await db.schema.createIndex('study_date_order_idx').on('study').columns(['study_date', 'study_time', 'id']).execute()
  await db.schema.createIndex('study_collection_date_order_idx').on('study').columns(['collection_id', 'study_date', 'study_time', 'id']).execute()
  for (const col of [
    'subject_id',
    'study_time',
    'accession_number',
    'study_id',
    'referring_physician_name_search_alphabetic',
    'referring_physician_name_search_ideographic',
    'referring_physician_name_search_phonetic',
    'study_description',
  ]) {
    await db.schema.createIndex(`study_${col}_idx`).on('study').column(col).execute()
  }

  await db.schema
    .createTable('series')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('study_id', t, (c) => c.notNull().references('study.id'))
    .addColumn('series_instance_uid', t, (c) => c.notNull().unique())
    .addColumn('modality', t, (c) => c.notNull())
    .addColumn('series_number', 'integer')
    .addColumn('series_description', t, (c) => c.notNull())
    .addColumn('performed_procedure_step_start_date', t, (c) => c.notNull())
    .addColumn('performed_procedure_step_start_time', t, (c) => c.notNull())
    .addColumn('series_json', 'text', (c) => c.notNull())
    .addColumn('number_of_instances', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('series_study_id_idx').on('series').columns(['study_id', 'series_number']).execute()
  // (modality, study_id) also answers ModalitiesInStudy's "does this study have a CT series" probe.
  await db.schema.createIndex('series_modality_idx').on('series').columns(['modality', 'study_id']).execute()
  for (const col of ['series_number', 'series_description', 'performed_procedure_step_start_date', 'performed_procedure_step_start_time']) {
    await db.schema.createIndex(`series_${col}_idx`).on('series').column(col).execute()
  }

  await db.schema
    .createTable('instance')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('series_id', t, (c) => c.notNull().references('series.id'))
    .addColumn('study_id', t, (c) => c.notNull().references('study.id'))
    .addColumn('sop_instance_uid', t, (c) => c.notNull().unique())
    .addColumn('sop_class_uid', t, (c) => c.notNull())
    .addColumn('instance_number', 'integer')
    .addColumn('rows', 'integer')
    .addColumn('columns', 'integer')
    .addColumn('number_of_frames', 'integer')
    .addColumn('transfer_syntax_uid', t, (c) => c.notNull())
    .addColumn('object_key', t, (c) => c.notNull())
    .addColumn('sha256', t, (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('instance_json', 'text', (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    .execute()
  // InstanceNumber is only searched within a series, so it rides on the series index.
  await db.schema.createIndex('instance_series_id_idx').on('instance').columns(['series_id', 'instance_number']).execute()
  await db.schema.createIndex('instance_study_id_idx').on('instance').column('study_id').execute()
  await db.schema.createIndex('instance_sop_class_uid_idx').on('instance').column('sop_class_uid').execute()
  // Deletion asks "does anything else still point at this object?" before giving a key back.
  await db.schema.createIndex('instance_object_key_idx').on('instance').column('object_key').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['instance', 'series', 'study', 'subject', 'collection']) await db.schema.dropTable(table).execute()
}
