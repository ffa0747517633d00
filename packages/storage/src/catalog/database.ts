/**
 * @module Catalog tables as Kysely sees them (collection → subject → study → series → instance).
 *
 * Both engines return the same JS types: text as string, integers (including PostgreSQL
 * bigint/count) as number, and timestamps as ISO-8601 UTC strings written by TypeScript
 * (`new Date().toISOString()`), which sort correctly as text on both engines.
 * DICOM attributes absent from an instance are stored as '' (text) or null (numbers).
 * `*_search_*` columns hold person names normalised for matching (see person-name.ts).
 */
import type { Generated } from 'kysely'

export interface CollectionTable {
  id: string
  name: string
  created_at: string
}

export interface SubjectTable {
  id: string
  collection_id: string
  patient_id: string
  /** As received: component groups joined by '=' (Alphabetic=Ideographic=Phonetic). */
  patient_name: string
  patient_name_search_alphabetic: string
  patient_name_search_ideographic: string
  patient_name_search_phonetic: string
  patient_birth_date: string
  patient_sex: string
  created_at: string
}

export interface StudyTable {
  id: string
  subject_id: string
  collection_id: string
  study_instance_uid: string
  study_date: string
  study_time: string
  accession_number: string
  study_id: string
  referring_physician_name: string
  referring_physician_name_search_alphabetic: string
  referring_physician_name_search_ideographic: string
  referring_physician_name_search_phonetic: string
  study_description: string
  study_json: string
  /** Distinct series modalities, sorted, joined by '\' (the DICOM multi-value separator). */
  modalities_in_study: Generated<string>
  number_of_series: Generated<number>
  number_of_instances: Generated<number>
  created_at: string
  updated_at: string
}

export interface SeriesTable {
  id: string
  study_id: string
  series_instance_uid: string
  modality: string
  series_number: number | null
  series_description: string
  performed_procedure_step_start_date: string
  performed_procedure_step_start_time: string
  series_json: string
  number_of_instances: Generated<number>
  created_at: string
}

export interface InstanceTable {
  id: string
  series_id: string
  /** Denormalised from series so study-level listing and deletion need no join. */
  study_id: string
  sop_instance_uid: string
  sop_class_uid: string
  instance_number: number | null
  rows: number | null
  columns: number | null
  number_of_frames: number | null
  transfer_syntax_uid: string
  object_key: string
  sha256: string
  size: number
  instance_json: string
  created_at: string
}

export interface Database {
  collection: CollectionTable
  subject: SubjectTable
  study: StudyTable
  series: SeriesTable
  instance: InstanceTable
}
