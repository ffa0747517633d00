/**
 * @module De-identification of a clinical record with the SAME policy and keyed pseudonyms as the DICOM engine, so
 * a record and its images end up under one pseudonymous subject:
 * - subject.id = pseudonymizer(secret, collection).patientId(patientId) (trimmed as the engine trims PatientID),
 *   the value the engine writes to PatientID; a record without a patient ID is its first study's subject, keyed
 *   `\0study/<StudyInstanceUID>` exactly as the engine keys an object without PatientID;
 * - dates move by dateShiftDays(patientId), the engine's per-subject offset, through the same shiftDA arithmetic;
 *   with Retain Longitudinal Temporal Information Full Dates they are kept. Deviation: without either longitudinal
 *   option the engine replaces DICOM dates by dummies, but a record's date is its content, so records are shifted
 *   anyway (a shifted date reveals less than the real one, and intervals stay right);
 * - image UIDs go through .uid(), as the engine maps UI values, so references still point at the images;
 * - recordId and staff ids become keyed pseudonyms (`R…`, `S…`: the patient-ID HMAC over a NUL-prefixed domain,
 *   so they can never equal a patient pseudonym); staff names and source.ref are dropped;
 * - birth date → birth year (dropped when the policy overrides PatientBirthDate to X, Z or D); sex kept unless
 *   PatientSex is overridden to X; the scope serial dropped unless Retain Device Identity;
 * - every other text value is cleaned of the subject's and staff's identifiers (scrub-text.ts).
 * The caller must then run verifyRecord and quarantine a record with findings.
 */
import { CODE_LISTS, type ClinicalRecord, type DeidentifiedRecord, type ImageRef, type PseudonymousSubject } from '@kura/records'
import { pseudonymizer, type Pseudonymizer } from '../keys/pseudonym.ts'
import { shiftDA } from '../keys/dates.ts'
import { methodDescription } from '../policy/policy.ts'
import type { Policy } from '../policy/schema.ts'
import { isSplit, recordIdentifiers, splitOwn, type RecordIdentifiers } from './identifiers.ts'
import { RecordDeidErrors } from './errors.ts'
import { keptTextScrubber, textScrubber, type TextScrubber } from './scrub-text.ts'
import type { Identifier } from '../verify/identifiers.ts'

export interface RecordDeidContext {
  /** The site secret (at least 32 bytes), the one the DICOM engine uses. */
  secret: Uint8Array
  collection: string
  policy: Policy
}

/** Written into every de-identified record's `deidentification.method`. */
export const RECORD_DEID_METHOD = 'kura.record-deid/1'

const PATIENT_BIRTH_DATE = 0x00100030
const PATIENT_SEX = 0x00100040

/** Without leading and trailing spaces and NULs; `s` itself when it has none (almost every value). */
function trim(s: string | undefined): string {
  if (typeof s !== 'string' || s.length === 0) return (s ?? '').replace(/^[ \0]+|[ \0]+$/g, '')
  const a = s.charCodeAt(0)
  const z = s.charCodeAt(s.length - 1)
  if (a !== 0x20 && a !== 0 && z !== 0x20 && z !== 0) return s
  return s.replace(/^[ \0]+|[ \0]+$/g, '')
}
const DATE = /^(\d{4})-(\d{2})-(\d{2})(T.*)?$/

/** Keys whose values are structure (codes, enums, ids, UIDs, dates), never free text: not scrubbed. */
const STRUCTURAL = new Set([
  'schema', 'kind', 'recordId', 'system', 'code', 'performedAt', 'examType', 'hPylori', 'role', 'id', 'group',
  'modality', 'sex', 'studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid',
])

/** The shipped vocabularies' own terms (code meanings written by the adapters): our text, never the source's. */
const SHIPPED_TERMS: ReadonlySet<string> = new Set([...CODE_LISTS.values()].flatMap((l) => [...l.terms.values()].flatMap((t) => [t.ja, t.en])))

/** Deep copy of `v` with every free-text string cleaned; structural keys and shipped terms are copied as they are. */
function cleaned<T>(v: T, scrubber: TextScrubber, key?: string): T {
  if (typeof v === 'string') return ((key !== undefined && STRUCTURAL.has(key)) || SHIPPED_TERMS.has(v) ? v : scrubber.scrub(v) ?? v) as T
  if (Array.isArray(v)) return v.map((x) => cleaned(x, scrubber)) as T
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(o)) {
      const x = o[k]
      if (x !== undefined) out[k] = cleaned(x, scrubber, k)
    }
    return out as T
  }
  return v
}

const BIRTH_DATE = /^(\d{4})-\d{2}-\d{2}$/

/** What a policy decides for records, worked out once per policy. */
interface RecordRules {
  /** PatientSex overridden to X. */
  dropSex: boolean
  /** PatientBirthDate not overridden to X, Z or D. */
  keepBirthYear: boolean
  fullDates: boolean
  retainDevice: boolean
  method: string
}

const RULES = new WeakMap<Policy, RecordRules>()

function rulesOf(policy: Policy): RecordRules {
  let r = RULES.get(policy)
  if (r === undefined) {
    const overrides = new Map(policy.overrides.map((o) => [o.tag >>> 0, o.action]))
    const birthAction = overrides.get(PATIENT_BIRTH_DATE)
    r = {
      dropSex: overrides.get(PATIENT_SEX) === 'X',
      keepBirthYear: birthAction !== 'X' && birthAction !== 'Z' && birthAction !== 'D',
      fullDates: policy.options.has('retainLongitudinalFullDates'),
      retainDevice: policy.options.has('retainDeviceIdentity'),
      method: `${RECORD_DEID_METHOD} (${methodDescription(policy)})`,
    }
    RULES.set(policy, r)
  }
  return r
}

/** A record date moved by `days` with the engine's DA arithmetic; the time of day is kept (whole-day shifts). */
function shiftDate(value: string, days: number, path: string): string {
  const m = DATE.exec(value)
  if (!m) throw RecordDeidErrors.badDate(path)
  let da: string
  try {
    da = shiftDA(`${m[1]}${m[2]}${m[3]}`, days)
  } catch (e) {
    throw RecordDeidErrors.badDate(path)
  }
  return `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}${m[4] ?? ''}`
}

// A subject's records come in runs (its exams, one after another): the scrubber for its identifiers (folded names,
// date variants, romaji) is kept with its identifier list, which recordIdentifiers hands out for every record of
// that subject (weak: it goes when the list does). Each record adds its staff, whose needles are kept by their
// kinds and values (the same few people write every record), and its own ID.
const SUBJECT_SCRUBBERS = new WeakMap<readonly Identifier[], TextScrubber>()

function scrubberOf(ids: readonly Identifier[] | RecordIdentifiers): TextScrubber {
  if (!isSplit(ids)) return textScrubber(ids)
  let s = SUBJECT_SCRUBBERS.get(ids.subject)
  if (s === undefined) SUBJECT_SCRUBBERS.set(ids.subject, (s = keptTextScrubber(ids.subject)))
  const own = splitOwn(ids.own)
  if (own.staff.length > 0) s = withStaff(s, own.staff, own.staffKey)
  return own.record.length > 0 ? textScrubber(own.record, s) : s
}

// The subject's scrubber with its care team's needles: the same pair for most records of a subject in a row, so the
// last one is kept (textScrubber with a key makes the same needles for the same key: reusing it changes nothing).
let lastStaff: { base: TextScrubber; key: string; scrubber: TextScrubber } | undefined

function withStaff(base: TextScrubber, staff: readonly Identifier[], key: string): TextScrubber {
  if (lastStaff === undefined || lastStaff.base !== base || lastStaff.key !== key) lastStaff = { base, key, scrubber: textScrubber(staff, base, key) }
  return lastStaff.scrubber
}

/** The keyed pseudonym of a record or staff id: the patient-ID HMAC in its own NUL-prefixed domain, re-lettered. */
const keyedId = (pseudo: Pseudonymizer, letter: 'R' | 'S', domain: string): string => letter + pseudo.patientId(`\0${domain}`).slice(1)
/** keyedId for a value used once (a record's ID: new with every record), not kept in the pseudonymizer's memo. */
const keyedIdOnce = (pseudo: Pseudonymizer, letter: 'R', domain: string): string => letter + pseudo.patientIdOnce(`\0${domain}`).slice(1)

/**
 * The de-identified form of `record` (which should have passed validateRecord). Pure: the same record, secret,
 * collection and policy always give the same output. Throws DEID_RECORD_NO_SUBJECT / DEID_RECORD_BAD_DATE for a
 * record that cannot be de-identified; hold such a record, never send it. `identifiers` are the record's
 * (recordIdentifiers or collectRecordIdentifiers), passed in by a caller that verifies with them afterwards.
 */
export function deidentifyRecord(record: ClinicalRecord, ctx: RecordDeidContext, identifiers: readonly Identifier[] | RecordIdentifiers = recordIdentifiers(record)): DeidentifiedRecord {
  const { policy } = ctx
  const pseudo = pseudonymizer(ctx.secret, ctx.collection)
  const patientId = trim(record.subject.patientId)
  let subjectKey = patientId
  if (!subjectKey) {
    subjectKey = trim(record.images[0]?.studyInstanceUid)
    if (!subjectKey) throw RecordDeidErrors.noSubject(record.source.ref ? 'its source' : 'an unknown source')
  }
  const days = pseudo.dateShiftDays(subjectKey)
  const rules = rulesOf(policy)

  const subject: PseudonymousSubject = { id: pseudo.patientId(patientId || `\0study/${subjectKey}`) }
  if (record.subject.sex && !rules.dropSex) subject.sex = record.subject.sex
  const birth = BIRTH_DATE.exec(record.subject.birthDate ?? '')
  if (birth && rules.keepBirthYear) subject.birthYear = +birth[1]!

  const scrubber = scrubberOf(identifiers)
  const source = record.source
  // The fields made from the source record (ids and UIDs are structural, staff names dropped), in the order that
  // decides which error a broken record gets.
  const recordId = keyedIdOnce(pseudo, 'R', `record/${source.system}/${record.recordId}`)
  const date = rules.fullDates ? record.performedAt : shiftDate(record.performedAt, days, 'performedAt')
  const images = record.images.map((im): ImageRef => pseudonymousImage(im, pseudo))
  const staff = 'staff' in record && record.staff !== undefined ? record.staff.map((s) => ({ role: s.role, id: keyedId(pseudo, 'S', `staff/${trim(s.id)}`) })) : undefined
  // Everything but subject and source, in the record's order, the rest cleaned; fields the record lacks are still
  // written, after the others. One object, built once: no body spread into the result.
  const out: Record<string, unknown> = {}
  const fields = record as unknown as Record<string, unknown>
  for (const k of Object.keys(fields)) {
    const x = fields[k]
    if (x === undefined || k === 'subject' || k === 'source') continue
    out[k] = k === 'recordId' ? recordId : k === 'performedAt' ? date : k === 'images' ? images : k === 'staff' ? staff : cleaned(x, scrubber, k)
  }
  if (!('recordId' in out)) out.recordId = recordId
  if (!('performedAt' in out)) out.performedAt = date
  if (!('images' in out)) out.images = images
  if (record.kind === 'endoscopy' && out.scope && !rules.retainDevice) {
    const { serial: _serial, ...scope } = out.scope as { serial?: string }
    out.scope = scope
  }
  out.subject = subject
  out.source = { system: source.system }
  out.deidentification = { policy: policy.id, version: policy.version, method: rules.method }
  return out as unknown as DeidentifiedRecord
}

/** An image's UIDs mapped as the engine maps UI values, so references still point at the images. */
function pseudonymousImage(im: ImageRef, pseudo: Pseudonymizer): ImageRef {
  const out: ImageRef = { studyInstanceUid: pseudo.uid(trim(im.studyInstanceUid)) }
  if (im.seriesInstanceUid) out.seriesInstanceUid = pseudo.uid(trim(im.seriesInstanceUid))
  if (im.sopInstanceUid) out.sopInstanceUid = pseudo.uid(trim(im.sopInstanceUid))
  return out
}
