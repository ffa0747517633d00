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
import type { AnnotationTables } from './tables/annotations.ts'
import type { AnnotationTaskTables } from './tables/annotation-tasks.ts'
import type { ClinicalRecordTables } from './tables/clinical-records.ts'
import type { JobTables } from './tables/jobs.ts'
import type { SlideInstanceTables } from './tables/slide-instances.ts'

export interface CollectionTable {
  id: string
  name: string
  created_at: string
  /** 1: only de-identified objects are accepted (checked on receipt; failures are quarantined). */
  deidentified: Generated<number>
}

export interface QuarantineTable {
  id: string
  collection_id: string
  object_key: string
  sha256: string
  size: number
  sop_instance_uid: string
  study_instance_uid: string
  /** JSON array of { path, keyword, kind, reason } (never values). */
  findings: string
  received_at: string
}

/** A whole-slide image in a collection; the bytes are the object `object_key` (`slides/<sha256>`). */
export interface SlideTable {
  id: string
  collection_id: string
  sha256: string
  object_key: string
  size: number
  /** The reader that opened it (`aperio-svs`, `generic-tiff`, ...). */
  format: string
  width: number
  height: number
  /** JSON array of { width, height, tileWidth, tileHeight, downsample }, [0] full resolution. */
  levels: string
  mpp_x: number | null
  mpp_y: number | null
  objective_power: number | null
  /** JSON object of OpenSlide-named properties. */
  properties: string
  /** JSON array of { name, width, height }. */
  associated: string
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
  /** Null: the object is the instance; else where its `size` bytes start inside the object (a pack). */
  object_offset: number | null
  sha256: string
  size: number
  instance_json: string
  created_at: string
}

/** 0/1 flags: SQLite has no boolean type. */
type Flag = Generated<number>

export interface UserTable {
  id: string
  username: string
  display_name: string
  email: string
  /** scrypt hash (see hub auth/passwords.ts); null for users who only sign in through OIDC. */
  password_hash: string | null
  must_change_password: Flag
  oidc_issuer: string | null
  oidc_subject: string | null
  is_admin: Flag
  disabled: Flag
  failed_logins: Generated<number>
  locked_until: string | null
  created_at: string
}

export interface SiteTable {
  id: string
  name: string
  created_at: string
}

export interface GrantTable {
  id: string
  user_id: string
  role: string
  /** null: every collection. */
  collection_id: string | null
  site_id: string | null
  created_at: string
}

export interface ApiTokenTable {
  id: string
  user_id: string
  name: string
  /** SHA-256 hex of the whole token; the token itself is shown once and never stored. */
  token_hash: string
  /** The first characters of the token, to tell tokens apart in lists. */
  prefix: string
  role: string
  collection_id: string | null
  site_id: string | null
  created_at: string
  expires_at: string
  revoked_at: string | null
  last_used_at: string | null
}

export interface SessionTable {
  /** SHA-256 hex of the cookie value. */
  id_hash: string
  user_id: string
  csrf_token: string
  created_at: string
  expires_at: string
  ip: string
}

export interface AuditEventTable {
  seq: number
  at: string
  actor: string
  actor_kind: string
  action: string
  resource: string
  collection: string
  ip: string
  outcome: string
  status: number
  /** Canonical JSON of extra facts (method, route, counts); never patient data. */
  detail: string
  prev_hash: string
  hash: string
}

/** A resumable upload from a gateway (tus); see hub uploads/ and docs/upload-protocol.md. */
export interface UploadTable {
  id: string
  /** 'dicom' | 'dicom-bundle' */
  kind: string
  /** Collection name, as the creating request named it. */
  collection: string
  study_instance_uid: string
  /** Hex SHA-256 the whole upload must have. */
  sha256: string
  object_count: number
  upload_length: number
  /** Bytes durably written (fsync'd) to the part file. */
  upload_offset: number
  /** 'receiving' | 'processing' | 'complete' | 'failed' */
  state: string
  owner_user_id: string
  owner_token_id: string | null
  /** The lease of the request appending to (or completing) this upload; null when free. */
  lock_token: string | null
  lock_expires_at: string | null
  /** JSON of the result resource once complete or failed. */
  result: string | null
  created_at: string
  updated_at: string
  expires_at: string
}

/** The site a study came from (only studies a site uploader sent). */
export interface StudySiteTable {
  study_instance_uid: string
  site_id: string
  created_at: string
}

export interface Database extends AnnotationTables, AnnotationTaskTables, ClinicalRecordTables, JobTables, SlideInstanceTables {
  study_site: StudySiteTable
  quarantine: QuarantineTable
  user: UserTable
  site: SiteTable
  grant: GrantTable
  api_token: ApiTokenTable
  session: SessionTable
  audit_event: AuditEventTable
  collection: CollectionTable
  subject: SubjectTable
  study: StudyTable
  series: SeriesTable
  instance: InstanceTable
  upload: UploadTable
  slide: SlideTable
}
