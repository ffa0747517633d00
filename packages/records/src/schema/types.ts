/**
 * @module The standard clinical record (schema `kura.record/1`): one shape for an endoscopy procedure (modelled
 * on the Japan Endoscopy Database), a pathology case, a radiology report and a patient's demographics, whatever
 * system or vendor it came from. Sources (SS-MIX2, vendor exports) produce `ClinicalRecord`s with identifiers;
 * `@kura/deid` turns them into `DeidentifiedRecord`s, the only form that leaves a gateway.
 *
 * Dates are ISO 8601 strings: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM[:SS]` (local time of the site, no zone).
 */

/** The schema id written in every record; bump the number on an incompatible change, and keep reading the old. */
export const RECORD_SCHEMA = 'kura.record/1' as const

export type RecordKind = 'endoscopy' | 'pathology' | 'radiology' | 'patient'
export const RECORD_KINDS: readonly RecordKind[] = ['endoscopy', 'pathology', 'radiology', 'patient']

/**
 * A coded term. `system` names the vocabulary: `MST3` (Minimal Standard Terminology 3.0), `JED` (Japan Endoscopy
 * Database categories), `KURA` (our own small code lists, schema/codes/kura.ts), `PARIS` and `JNET` (morphology
 * classifications, schema/codes/kura.ts), `JJ1017`, `ICD10`,
 * `SNOMED-CT`, or `LOCAL:<site>` for a site code not (yet) mapped, which validation reports as unmapped.
 */
export interface Coded {
  system: string
  code: string
  /** Display text as the source gave it or the vocabulary defines it. */
  meaning?: string
}

export type Sex = 'M' | 'F' | 'O' | 'U'

/** Who the record is about, as the hospital knows them. Never leaves a gateway: de-identification replaces it. */
export interface SubjectIdentity {
  /** The hospital's patient ID (SS-MIX2 directory ID, DICOM PatientID). */
  patientId: string
  /** Names in every script the source had. */
  name?: { kanji?: string; kana?: string; alphabetic?: string }
  /** `YYYY-MM-DD`. */
  birthDate?: string
  sex?: Sex
  address?: string
  postalCode?: string
  phone?: string
}

/** Where the record came from, for provenance and idempotency (a re-read source gives the same `sourceKey`). */
export interface RecordSource {
  /** `ssmix2`, or the vendor adapter's name (`adapter:<name>`). */
  system: string
  /** File and position (path, row or message number): for error messages; de-identification drops it. */
  ref: string
}

export interface ImageRef {
  studyInstanceUid: string
  seriesInstanceUid?: string
  sopInstanceUid?: string
}

/** A person on the care team, by role; the id is pseudonymised on the way out. */
export interface StaffRef {
  role: 'endoscopist' | 'assistant' | 'nurse' | 'pathologist' | 'radiologist' | 'anesthesiologist' | 'other'
  id: string
  name?: string
}

interface RecordBase {
  schema: typeof RECORD_SCHEMA
  kind: RecordKind
  /** The source's id for this record (order number, exam number); pseudonymised on the way out. */
  recordId: string
  source: RecordSource
  subject: SubjectIdentity
  /** When the procedure/exam/report happened. */
  performedAt: string
  /** The images this record describes. */
  images: ImageRef[]
  department?: string
  /** Free text as written (report body, comments); cleaned of the subject's identifiers on the way out. */
  text?: string
}

export type EndoscopyExamType = 'upper-gi' | 'colonoscopy' | 'small-bowel' | 'ercp'
export type HPyloriStatus = 'positive' | 'negative' | 'eradicated' | 'unknown'

export interface EndoscopyFinding {
  /** Anatomical site (MST3 site term). */
  site: Coded
  /** The finding (MST3 term). */
  term: Coded
  /** Morphology classification where it applies (Paris 0-IIa, JNET 2A, JES type). */
  classification?: Coded[]
  sizeMm?: number
  count?: number
  note?: string
}

export interface EndoscopyRecord extends RecordBase {
  kind: 'endoscopy'
  examType: EndoscopyExamType
  indication: Coded[]
  sedation: { used: boolean; drugs: Coded[] }
  antithrombotics: Coded[]
  hPylori: HPyloriStatus
  findings: EndoscopyFinding[]
  diagnoses: Coded[]
  procedures: Coded[]
  adverseEvents: Coded[]
  scope?: { model?: string; serial?: string }
  staff: StaffRef[]
}

export type GroupClassification = 'X' | '1' | '2' | '3' | '4' | '5'

export interface PathologyRecord extends RecordBase {
  kind: 'pathology'
  specimen: { type: Coded; site: Coded; count?: number }
  diagnoses: Coded[]
  /** Gastric/colorectal biopsy Group classification, where reported. */
  group?: GroupClassification
  staff: StaffRef[]
}

export interface RadiologyRecord extends RecordBase {
  kind: 'radiology'
  /** DICOM modality code (CT, MR, CR, ...). */
  modality: string
  bodyPart?: Coded
  findingsText?: string
  impression?: string
  staff: StaffRef[]
}

/** Demographics only (SS-MIX2 ADT): links a subject's records and images; carries no clinical content. */
export interface PatientRecord extends RecordBase {
  kind: 'patient'
}

export type ClinicalRecord = EndoscopyRecord | PathologyRecord | RadiologyRecord | PatientRecord

/** What replaces `subject` after de-identification: the same pseudonymous subject the DICOM engine gives. */
export interface PseudonymousSubject {
  /** `pseudonymizer(secret, collection).patientId(patientId)`: equals the de-identified DICOM PatientID. */
  id: string
  sex?: Sex
  /** Birth year only, or absent (policy). */
  birthYear?: number
}

/**
 * A record as it leaves the gateway: identity replaced, ids pseudonymised, dates shifted by the subject's offset
 * (`dateShiftDays(patientId)`, as for the DICOM images), free text cleaned, image UIDs mapped like the DICOM UIDs.
 */
export type DeidentifiedRecord = ClinicalRecord extends infer R
  ? R extends ClinicalRecord
    ? Omit<R, 'subject' | 'source'> & {
        subject: PseudonymousSubject
        source: { system: string }
        deidentification: { policy: string; version: string; method: string }
      }
    : never
  : never

/** One problem with one field, as validation reports it (`path` like `findings[2].site.code`). */
export interface FieldError {
  path: string
  message: string
}

/** A record (or raw input) that could not be accepted, kept with its reasons. Never silently dropped. */
export interface HeldRecord {
  source: RecordSource
  reasons: FieldError[]
  /** The raw input, as read (only ever stored on the gateway). */
  raw: string
}
