/**
 * @module Migration list, in order. Add new migrations here; never edit or reorder shipped ones.
 */
import type { Kysely } from 'kysely'
import * as m000001 from './2026_11_27_000001_archive.ts'
import * as m000002 from './2026_11_27_000002_access.ts'
import * as m000003 from './2026_11_27_000003_uploads.ts'
import * as m000004 from './2026_11_27_000004_quarantine.ts'
import * as m000005 from './2026_11_27_000005_slides.ts'
import * as m000006 from './2026_11_27_000006_study_site.ts'
import * as m000007 from './2026_11_27_000007_annotations.ts'
import * as m000008 from './2026_11_27_000008_annotation_tasks.ts'
import * as m000009 from './2026_11_27_000009_clinical_records.ts'
import * as m000010 from './2026_11_27_000010_jobs.ts'
import * as m000011 from './2026_11_27_000011_slide_instances.ts'
import * as m000012 from './2026_11_28_000012_annotation_density.ts'
import * as m000013 from './2026_11_28_000013_instance_object_offset.ts'

export interface MigrationEnv {
  byteOrderText: string
}

export interface CatalogMigration {
  up(db: Kysely<any>, env: MigrationEnv): Promise<void>
  down?(db: Kysely<any>, env: MigrationEnv): Promise<void>
}

export const migrations: Record<string, CatalogMigration> = {
  '2026_11_27_000001_archive': m000001,
  '2026_11_27_000002_access': m000002,
  '2026_11_27_000003_uploads': m000003,
  '2026_11_27_000004_quarantine': m000004,
  '2026_11_27_000005_slides': m000005,
  '2026_11_27_000006_study_site': m000006,
  '2026_11_27_000007_annotations': m000007,
  '2026_11_27_000008_annotation_tasks': m000008,
  '2026_11_27_000009_clinical_records': m000009,
  '2026_11_27_000010_jobs': m000010,
  '2026_11_27_000011_slide_instances': m000011,
  '2026_11_28_000012_annotation_density': m000012,
  '2026_11_28_000013_instance_object_offset': m000013,
}
