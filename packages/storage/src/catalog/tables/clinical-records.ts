/**
 * @module Catalog tables: de-identified clinical records and their index for search (migration 000009).
 * The record itself is `body` (JSON of a `DeidentifiedRecord`); the other columns and tables are
 * derived from it on receipt so search, linking to studies and counting never parse JSON.
 */

/** One de-identified record in a collection. */
export interface ClinicalRecordTable {
  id: string
  collection_id: string
  /** The sending site (from its uploader token); null when a curator or admin sent it. */
  site_id: string | null
  /** Hex SHA-256 of the record's canonical JSON: the same record sent again is a duplicate. */
  record_key: string
  /** With kind, source_record_id, subject_id and site_id, the record's identity in its collection: `ssmix2`, `adapter:<name>`. */
  source_system: string
  /** 'endoscopy' | 'pathology' | 'radiology' | 'patient' */
  kind: string
  /** The record's pseudonymised id (`recordId`). */
  source_record_id: string
  /** The id of the newer version of the same record; null for the current version (the only one searched). */
  superseded_by: string | null
  /** The schema id the record says it follows (`kura.record/1`). */
  schema: string
  /** The pseudonymous subject id (the de-identified DICOM PatientID of the same collection). */
  subject_id: string
  /** Shifted date or date-time, ISO 8601 without zone (`YYYY-MM-DD[THH:MM[:SS]]`). */
  performed_at: string
  /** Endoscopy exam type (`upper-gi`, ...), the radiology modality, or null. */
  exam_type: string | null
  /** JSON text of the `DeidentifiedRecord`. */
  body: string
  received_at: string
}

/** The coded roles a record's terms are indexed under. */
export type ClinicalRecordCodeRole = 'finding' | 'diagnosis' | 'procedure' | 'adverse_event' | 'site' | 'indication'

/** One coded term of a record, for search by code. */
export interface ClinicalRecordCodeTable {
  record_id: string
  role: ClinicalRecordCodeRole
  system: string
  code: string
}

/** A study the record describes (its images), by Study Instance UID: the study may arrive before or after. */
export interface ClinicalRecordStudyTable {
  record_id: string
  study_instance_uid: string
}

export interface ClinicalRecordTables {
  clinical_record: ClinicalRecordTable
  clinical_record_code: ClinicalRecordCodeTable
  clinical_record_study: ClinicalRecordStudyTable
}
