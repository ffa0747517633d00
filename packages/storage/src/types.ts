/**
 * @module Catalog contracts: what the hub stores per instance and how QIDO-style searches are expressed.
 *
 * The hub turns DICOM into these plain records; the catalog knows tables, not DICOM parsing.
 */

/** One stored instance with the attributes the catalog indexes at each level. */
export interface InstanceRecord {
  collection: string
  /** Patient level */
  patientId: string
  /** PatientName as DICOM JSON PN string form: groups joined by '=' (Alphabetic=Ideographic=Phonetic). */
  patientName: string
  patientBirthDate: string
  patientSex: string
  /** Study level */
  studyInstanceUid: string
  studyDate: string
  studyTime: string
  accessionNumber: string
  studyId: string
  referringPhysicianName: string
  studyDescription: string
  /** Study-level DICOM JSON (patient + study module attributes), returned by QIDO study searches. */
  studyJson: string
  /** Series level */
  seriesInstanceUid: string
  modality: string
  seriesNumber: number | null
  seriesDescription: string
  performedProcedureStepStartDate: string
  performedProcedureStepStartTime: string
  seriesJson: string
  /** Instance level */
  sopInstanceUid: string
  sopClassUid: string
  instanceNumber: number | null
  rows: number | null
  columns: number | null
  numberOfFrames: number | null
  transferSyntaxUid: string
  /** Object-store key of the original Part 10 bytes (content-addressed): the instance's own, or its pack's. */
  objectKey: string
  /** Where the instance starts inside a pack (`objectKey` holds several instances); absent: the whole object. */
  objectOffset?: number | null
  sha256: string
  size: number
  /** Full instance DICOM JSON metadata, bulk data as BulkDataURI templates (see hub). */
  instanceJson: string
}

export type StoreOutcome =
  | { status: 'stored'; instanceId: string }
  | { status: 'duplicate'; instanceId: string }
  | { status: 'conflict'; reason: string }

/** One matching condition on a catalog column (PS3.4 C.2.2.2 matching kinds). */
export type Match =
  | { kind: 'single'; value: string }
  | { kind: 'list'; values: string[] }
  /** `*` and `?` wildcards, already validated. */
  | { kind: 'wildcard'; pattern: string }
  /** Inclusive range; either end may be open. Values in the column's own format (DA: YYYYMMDD). */
  | { kind: 'range'; from?: string; to?: string }
  /** Person name: matches any component group, wildcards allowed, case-insensitive for Alphabetic. */
  | { kind: 'person-name'; pattern: string }

export type SearchLevel = 'study' | 'series' | 'instance'

export interface SearchRequest {
  level: SearchLevel
  /** Column name (as in the level's searchable keys) → condition. */
  where: Record<string, Match>
  /** Collections the caller may see; undefined = all. */
  collections?: string[]
  limit: number
  offset: number
}
