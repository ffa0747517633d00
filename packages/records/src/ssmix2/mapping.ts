/**
 * @module SS-MIX2 HL7 messages → standard clinical records (`kura.record/1`).
 *
 * What becomes a record, and from where:
 *   - ADT-00 (ADT^A08, patient basic information) → PatientRecord: PID-3 (CX, the `PI` identifier), PID-5 (kanji
 *     `I` and kana `P` repetitions), PID-7, PID-8, PID-11 (XAD-8 whole address, XAD-5 postal code), PID-13 (XTN-12).
 *   - The performed notice of an endoscopy exam (OMG-12, OMI^Z23) → EndoscopyRecord; of a radiology exam
 *     (OMG-11, OMI^Z23) → RadiologyRecord; a specimen result (OML-11, OUL^R22) that is pathology (SPM-4/OBR-4/
 *     OBR-24 say so) → PathologyRecord; an ORU^R01 report wherever it is stored → whichever of the three its
 *     content says (IPC-5 modality, OBR-24 section, OBR-4 words).
 *   - Orders (OMG-01/02/03, OML-01), other ADT events, prescriptions etc. are not records: `skipped` says why.
 * The Study Instance UID that links a record to its images is read from IPC-3 (HL7 v2.5 Imaging Procedure Control,
 * which the JAHIS radiology exchange rules carry in OMI), else from an OBX whose OBX-3 is DCM 110180 "Study
 * Instance UID" (or `0020000D` / `StudyInstanceUID`); the accession number from IPC-1, else OBR-18.
 * Structured content rides in OBX segments coded in OBX-3 with the local code system `99KURA` (HL7's `99zzz`
 * local-table convention) or LOINC for report sections, grouped by OBX-4 sub-ID; the table is `OBX_CODES`.
 * The generator (synth/ssmix2-messages.ts) writes exactly this; a site whose system uses other codes maps them
 * with the vendor-adapter term maps.
 */
import { hl7DateTime, readNames, readXad, readXtn, type Hl7Field, type Hl7Message, type Hl7Segment } from '../hl7/index.ts'
import {
  RECORD_SCHEMA, type ClinicalRecord, type Coded, type EndoscopyExamType, type EndoscopyFinding, type EndoscopyRecord, type FieldError,
  type GroupClassification, type HeldRecord, type HPyloriStatus, type ImageRef, type PathologyRecord, type PatientRecord, type RadiologyRecord,
  type Sex, type StaffRef, type SubjectIdentity,
} from '../schema/types.ts'
import { ssmix2DataType } from './data-types.ts'
import type { Ssmix2FileName } from './file-name.ts'

export interface MappingInput {
  /** Path of the file relative to the storage root (becomes `source.ref`). */
  path: string
  /** The parsed file name, when the message came from a tree. */
  file?: Ssmix2FileName
}

export interface MappingResult {
  records: ClinicalRecord[]
  held: HeldRecord[]
  /** Set when the message is deliberately not a record (an order, a visit event, a lab value...). */
  skipped?: string
}

/** OBX-3 codes (system 99KURA) the mapping understands; LOINC report sections are listed beside them. */
export const OBX_CODES = {
  site: 'SITE', finding: 'FINDING', classification: 'CLASS', sizeMm: 'SIZE', count: 'COUNT', note: 'NOTE',
  diagnosis: 'DIAGNOSIS', procedure: 'PROCEDURE', adverseEvent: 'ADVERSE', indication: 'INDICATION', sedation: 'SEDATION',
  antithrombotic: 'ANTITHROMBOTIC', hPylori: 'HPYLORI', scopeModel: 'SCOPE', scopeSerial: 'SCOPESN', bodyPart: 'BODYPART',
  group: 'GROUP', specimenCount: 'SPECCOUNT', report: 'REPORT', findings: 'FINDINGS', impression: 'IMPRESSION',
  /** DCM 110180 "Study Instance UID". */
  studyUid: '110180',
} as const

/** LOINC codes for report sections: findings, impression, pathology diagnosis narrative, whole report. */
const LOINC_FINDINGS = new Set(['18782-3', '59776-5'])
const LOINC_IMPRESSION = new Set(['19005-8'])
const LOINC_PATH_DIAGNOSIS = new Set(['22637-3', '22634-0'])
/** Where radiology findings, the impression and a pathology diagnosis are found as text: our code or LOINC's. */
const FINDINGS_CODES = new Set<string>([OBX_CODES.findings, ...LOINC_FINDINGS])
const IMPRESSION_CODES = new Set<string>([OBX_CODES.impression, ...LOINC_IMPRESSION])
const DIAGNOSIS_TEXT_CODES = new Set<string>([OBX_CODES.diagnosis, ...LOINC_PATH_DIAGNOSIS])

const ok = (records: ClinicalRecord[]): MappingResult => ({ records, held: [] })
const skip = (why: string): MappingResult => ({ records: [], held: [], skipped: why })

function held(input: MappingInput, message: Hl7Message, reasons: FieldError[]): MappingResult {
  return { records: [], held: [{ source: { system: 'ssmix2', ref: input.path }, reasons, raw: message.text }] }
}

/**
 * `s.toUpperCase()`, but `s` itself when it has no letter to change: most codes are upper-case already, and a
 * value sliced from a message with kanji is a two-byte string, which toUpperCase copies through ICU.
 */
function upper(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if ((c >= 0x61 && c <= 0x7a) || c >= 0x80) return s.toUpperCase()
  }
  return s
}

function sexOf(v: string): Sex | undefined {
  const s = upper(v.trim())
  if (s === 'M' || s === 'F' || s === 'O' || s === 'U') return s
  if (s === 'A' || s === 'N') return 'O'
  return undefined
}

/** The patient's identity from PID; errors name the field, never the value. */
export function readIdentity(pid: Hl7Segment, file?: Ssmix2FileName): { identity?: SubjectIdentity; errors: FieldError[] } {
  // A patient's messages come in runs with the same PID segment: read once per run. Copies are handed out, so a
  // caller that changes its record cannot change the next one's subject.
  // Keyed by the PID text alone (no key string to build and hash per message); the entry holds what else the
  // result depends on, and is replaced when that differs.
  // The last PID is tried first, by comparing texts: hashing the text (~300 characters) for the table was most
  // of a hit's cost, and most messages are the previous one's patient.
  // An entry is read from its own copy of the PID text: a slice of the message's text (key or values) would keep
  // the whole message alive as long as the entry, up to 256 messages' texts moved by every garbage collection.
  const delimiters = pid.delimiterChars
  const filePatientId = file?.patientId
  let entry = lastIdentity !== undefined && pid.raw === lastIdentity.pid ? lastIdentity : IDENTITIES.get(pid.raw)
  if (entry === undefined || entry.delimiters !== delimiters || entry.filePatientId !== filePatientId) {
    const own = pid.detached()
    entry = { pid: own.raw, delimiters, filePatientId, result: readIdentityOnce(own, file) }
    if (IDENTITIES.size >= IDENTITIES_MAX) IDENTITIES.clear()
    IDENTITIES.set(own.raw, entry)
  }
  lastIdentity = entry
  const r = entry.result
  const errors = r.errors.map((e) => ({ ...e }))
  if (!r.identity) return { errors }
  const identity = { ...r.identity }
  if (identity.name) identity.name = { ...identity.name }
  return { identity, errors }
}

/** readIdentity's results by PID segment text, with the delimiters and file-name patient ID; bounded, cleared when full. */
interface IdentityEntry {
  /** The PID text (the entry's own copy), its key. */
  pid: string
  delimiters: string
  filePatientId: string | undefined
  result: { identity?: SubjectIdentity; errors: FieldError[] }
}
const IDENTITIES = new Map<string, IdentityEntry>()
const IDENTITIES_MAX = 256
let lastIdentity: IdentityEntry | undefined

function readIdentityOnce(pid: Hl7Segment, file?: Ssmix2FileName): { identity?: SubjectIdentity; errors: FieldError[] } {
  const errors: FieldError[] = []
  const ids = pid.repetitions(3)
  // PID-3 may repeat (hospital ID, insurance numbers...): the CX-5 "PI" one is the patient ID.
  const cx = ids.find((f) => upper(f.component(5)) === 'PI') ?? ids[0]
  const patientId = (cx?.component(1) ?? '').trim() || pid.get(2).trim()
  if (!patientId) errors.push({ path: 'PID-3', message: 'patient ID (PID-3) is empty' })
  else if (file && file.patientId !== patientId) errors.push({ path: 'PID-3', message: "patient ID in PID-3 differs from the one in the file name and folder; the file may belong to another patient" })
  if (errors.length) return { errors }
  const identity: SubjectIdentity = { patientId }
  const name = readNames(pid.repetitions(5))
  if (name.kanji || name.kana || name.alphabetic) identity.name = name
  const birth = pid.get(7)
  if (birth) {
    const d = hl7DateTime(birth)
    if (d) identity.birthDate = d.slice(0, 10)
    else errors.push({ path: 'PID-7', message: 'birth date (PID-7) is not a valid YYYYMMDD date' })
  }
  const sex = sexOf(pid.get(8))
  if (sex) identity.sex = sex
  for (const f of pid.repetitions(11)) {
    const a = readXad(f)
    if (!a) continue
    if (a.text) identity.address = a.text
    if (a.postalCode) identity.postalCode = a.postalCode
    break
  }
  for (const f of pid.repetitions(13)) {
    const p = readXtn(f)
    if (p) { identity.phone = p; break }
  }
  return { identity, errors }
}

interface Obx {
  code: string
  system: string
  subId: string
  type: string
  values: Hl7Field[]
}

/**
 * The OBX-3 codes and OBX-2 value types the mapping looks for, each mapped to itself: a code read from a message
 * is replaced by the literal (one lookup per OBX), so the many `o.code === OBX_CODES.x` tests that follow compare
 * two internalized strings (by pointer) instead of a sliced two-byte string with a literal, char by char.
 */
const KNOWN_OBX_TERMS = new Map<string, string>(
  [...Object.values(OBX_CODES), ...LOINC_FINDINGS, ...LOINC_IMPRESSION, ...LOINC_PATH_DIAGNOSIS, '0020000D', 'STUDYINSTANCEUID', 'CWE', 'CE', 'FT', 'TX', 'ST', 'NM', 'RP', 'UI'].map((c) => [c, c]),
)

function known(s: string): string {
  return KNOWN_OBX_TERMS.get(s) ?? s
}

function readObx(message: Hl7Message): Obx[] {
  const out: Obx[] = []
  for (const seg of message.segments) {
    if (seg.name !== 'OBX') continue
    // Fields in order (OBX-2 to OBX-5): each read scans on from the last.
    const type = known(upper(seg.get(2).trim()))
    const code = known(upper(seg.get(3, 1).trim()))
    const system = upper(seg.get(3, 3).trim())
    const subId = seg.get(4).trim()
    out.push({ code, system, subId, type, values: seg.repetitions(5) })
  }
  return out
}

function obxText(o: Obx): string {
  // FT/TX/ST values: repetitions are lines (joined as they come: no array of lines for the usual one).
  let text = ''
  for (let i = 0; i < o.values.length; i++) text = i === 0 ? o.values[i]!.component(1) : `${text}\n${o.values[i]!.component(1)}`
  return text
}

/**
 * HL7 coding-system names (table 0396, and the `99zzz` local convention) → the system names of our records.
 * A code with no system becomes `LOCAL:ssmix2`, which validation reports as unmapped.
 */
const SYSTEMS = new Map<string, string>([['99KURA', 'KURA'], ['I10', 'ICD10'], ['ICD10', 'ICD10'], ['SCT', 'SNOMED-CT'], ['SNM3', 'SNOMED-CT'], ['SNOMED-CT', 'SNOMED-CT'], ['JJ1017', 'JJ1017'], ['MST3', 'MST3'], ['PARIS', 'PARIS'], ['JNET', 'JNET']])

/**
 * Our name for a coding system as written: a Map, not a keyed read of an object (which looks a fresh string up
 * in V8's string table each time, ~20 times a record); the same system comes again and again, so the last
 * answer is kept.
 */
function systemOf(written: string): string {
  if (written === lastSystem) return lastSystemName
  const name = SYSTEMS.get(upper(written)) ?? written
  lastSystem = written
  lastSystemName = name
  return name
}
let lastSystem = ''
let lastSystemName = ''

/** CWE/CE as readCwe reads it (the first triplet, or the alternate when the first has no code), straight to a Coded. */
function coded(v: Hl7Field | undefined, defaultSystem: string): Coded | undefined {
  if (!v) return undefined
  let first = 1
  let code = v.component(1).trim()
  if (!code) {
    first = 4
    code = v.component(4).trim()
    if (!code) return undefined
  }
  const text = v.component(first + 1).trim()
  const system = v.component(first + 2).trim()
  const out: Coded = { system: system ? systemOf(system) : defaultSystem, code }
  if (text) out.meaning = text
  return out
}

/** Every coded value of the OBX with `code`; with `noneTerm`, leaving out the "NONE" term (none given). */
function codedAll(obx: Obx[], code: string, defaultSystem: string, noneTerm = false): Coded[] {
  const out: Coded[] = []
  for (const o of obx) {
    if (o.code !== code) continue
    for (const v of o.values) {
      const c = coded(v, defaultSystem)
      if (c && !(noneTerm && upper(c.code) === 'NONE')) out.push(c)
    }
  }
  return out
}

/** The first OBX with `code`. */
function firstObx(obx: Obx[], code: string): Obx | undefined {
  for (const o of obx) if (o.code === code) return o
  return undefined
}

function textOf(obx: Obx[], codes: Set<string> | string): string | undefined {
  // Narrative only: a coded OBX (CWE/CE) under the same code is a term, not text.
  let text: string | undefined
  for (const o of obx) {
    if (o.type === 'CWE' || o.type === 'CE' || !(typeof codes === 'string' ? o.code === codes : codes.has(o.code))) continue
    const part = obxText(o)
    if (part) text = text === undefined ? part : `${text}\n${part}`
  }
  return text
}

const UID = /^[0-2](?:\.(?:0|[1-9]\d*))+$/

function imagesOf(message: Hl7Message, obx: Obx[]): ImageRef[] {
  const uids: string[] = []
  for (const ipc of message.all('IPC')) {
    const uid = ipc.get(3).trim()
    if (UID.test(uid) && uid.length <= 64) uids.push(uid)
  }
  for (const o of obx) {
    if (o.code === OBX_CODES.studyUid || o.code === '0020000D' || o.code === 'STUDYINSTANCEUID') {
      for (const v of o.values) {
        // RP (reference pointer) puts the UID in component 1; ST/UI the whole value.
        const uid = v.component(1).trim()
        if (UID.test(uid) && uid.length <= 64) uids.push(uid)
      }
    }
  }
  // Each UID once, in order of first appearance (a message names one or two: no Set).
  const images: ImageRef[] = []
  for (let i = 0; i < uids.length; i++) if (uids.indexOf(uids[i]!) === i) images.push({ studyInstanceUid: uids[i]! })
  return images
}

function staffOf(message: Hl7Message, principal: StaffRef['role']): StaffRef[] {
  const out: StaffRef[] = []
  const obr = message.segment('OBR')
  if (!obr) return out
  pushStaff(out, obr, 32, principal)
  pushStaff(out, obr, 33, 'assistant')
  pushStaff(out, obr, 34, 'other')
  return out
}

/** OBR-32 principal result interpreter, -33 assistant, -34 technician: NDL, component 1 a CNN (id&family&given). */
function pushStaff(out: StaffRef[], obr: Hl7Segment, n: number, role: StaffRef['role']): void {
  for (const f of obr.repetitions(n)) {
    const id = f.component(1, 1).trim()
    if (!id) continue
    const family = f.component(1, 2).trim()
    const given = f.component(1, 3).trim()
    const s: StaffRef = { role, id }
    const name = family && given ? `${family} ${given}` : family || given
    if (name) s.name = name
    out.push(s)
  }
}

/** The first of OBR-7, OBR-8, TQ1-7, ORC-9, SPM-17 that is a date (read in that order, no further than needed). */
const PERFORMED_AT: ReadonlyArray<readonly [string, number]> = [['OBR', 7], ['OBR', 8], ['TQ1', 7], ['ORC', 9], ['SPM', 17]]

function performedAtOf(message: Hl7Message, file: Ssmix2FileName | undefined): string | undefined {
  for (const [name, field] of PERFORMED_AT) {
    const c = message.segment(name)?.get(field)
    const d = c ? hl7DateTime(c) : undefined
    if (d) return d
  }
  if (file?.date) return `${file.date.slice(0, 4)}-${file.date.slice(4, 6)}-${file.date.slice(6, 8)}`
  return undefined
}

const EXAM_TYPES: Array<[EndoscopyExamType, RegExp]> = [
  ['ercp', /ERCP|内視鏡的逆行性|逆行性胆|胆膵|胆管膵管/i],
  ['small-bowel', /小腸|カプセル|capsule|small[- ]?bowel|enteroscop|DBE|SBE/i],
  ['colonoscopy', /下部|大腸|結腸|直腸|colono|lower\s*GI|\bCF\b|\bTCS\b|\bLGI\b|S状/i],
  ['upper-gi', /上部|胃|食道|十二指腸|\bEGD\b|\bGIF\b|upper\s*GI|\bUGI\b|gastroscop|esophago/i],
]

/** Order codes (OBR-4.1) that name the exam type outright. */
const EXAM_TYPE_CODES = new Map<string, EndoscopyExamType>([['ES-UGI', 'upper-gi'], ['ES-CS', 'colonoscopy'], ['ES-SB', 'small-bowel'], ['ES-ERCP', 'ercp']])

/** Exam type from the order code and name (OBR-4), its alternate, and the performed procedure text. */
export function endoscopyExamType(message: Hl7Message): EndoscopyExamType | undefined {
  const obr = message.segment('OBR')
  const byCode = EXAM_TYPE_CODES.get(obr ? upper(obr.get(4, 1)) : '')
  if (byCode) return byCode
  const texts = [obr?.rawField(4) ?? '', obr?.rawField(44) ?? '', message.segment('IPC')?.rawField(6) ?? '']
  for (const t of texts) for (const [type, re] of EXAM_TYPES) if (re.test(t)) return type
  return undefined
}

/** A Map, not an object: a keyed read with a fresh string looks it up in V8's string table first. */
const H_PYLORI = new Map<string, HPyloriStatus>([
  ['POS', 'positive'], ['POSITIVE', 'positive'], ['陽性', 'positive'], ['NEG', 'negative'], ['NEGATIVE', 'negative'], ['陰性', 'negative'],
  ['ERAD', 'eradicated'], ['ERADICATED', 'eradicated'], ['除菌後', 'eradicated'], ['UNK', 'unknown'], ['UNKNOWN', 'unknown'], ['不明', 'unknown'],
])

const FINDING_CODES = new Set<string>([OBX_CODES.site, OBX_CODES.finding, OBX_CODES.classification, OBX_CODES.sizeMm, OBX_CODES.count, OBX_CODES.note])

function findingsOf(obx: Obx[]): EndoscopyFinding[] {
  // Grouped by OBX-4 sub-ID in order of first appearance; a message has a few groups, so two short arrays, not a Map.
  const keys: string[] = []
  const groups: Obx[][] = []
  for (const o of obx) {
    if (!FINDING_CODES.has(o.code)) continue
    const key = o.subId || '1'
    const at = keys.indexOf(key)
    if (at >= 0) groups[at]!.push(o)
    else { keys.push(key); groups.push([o]) }
  }
  const out: EndoscopyFinding[] = []
  for (const g of groups) {
    const site = coded(firstObx(g, OBX_CODES.site)?.values[0], 'MST3')
    const term = coded(firstObx(g, OBX_CODES.finding)?.values[0], 'MST3')
    if (!site || !term) continue
    const f: EndoscopyFinding = { site, term }
    const cls = codedAll(g, OBX_CODES.classification, 'LOCAL:ssmix2')
    if (cls.length) f.classification = cls
    const size = Number(firstObx(g, OBX_CODES.sizeMm)?.values[0]?.component(1))
    if (Number.isFinite(size) && size > 0) f.sizeMm = size
    const count = Number(firstObx(g, OBX_CODES.count)?.values[0]?.component(1))
    if (Number.isInteger(count) && count > 0) f.count = count
    const note = firstObx(g, OBX_CODES.note)
    if (note) f.note = obxText(note)
    out.push(f)
  }
  return out
}

const FULLWIDTH_DIGITS = '０１２３４５'
const ROMAN: Record<string, GroupClassification> = { I: '1', II: '2', III: '3', IV: '4', V: '5', 'Ⅰ': '1', 'Ⅱ': '2', 'Ⅲ': '3', 'Ⅳ': '4', 'Ⅴ': '5' }

/** Group classification (gastric/colorectal biopsy, JGCA/JSCCR) from report text: "Group 3", "グループ３", "Group III". */
export function groupFromText(text: string): GroupClassification | undefined {
  const m = /(?:group|グループ|ｸﾞﾙｰﾌﾟ)\s*[:：]?\s*(X|Ｘ|[1-5]|[１-５]|III|II|IV|I|V|[ⅠⅡⅢⅣⅤ])(?![0-9０-９])/i.exec(text)
  if (!m) return undefined
  const v = m[1].toUpperCase()
  if (v === 'X' || v === 'Ｘ') return 'X'
  if (/^[1-5]$/.test(v)) return v as GroupClassification
  const fw = FULLWIDTH_DIGITS.indexOf(v)
  if (fw > 0) return String(fw) as GroupClassification
  return ROMAN[v]
}

const PATHOLOGY = /病理|組織診|細胞診|生検|biops|histolog|cytolog|patholog/i

function isPathology(message: Hl7Message): boolean {
  const obr = message.segment('OBR')
  const section = obr ? upper(obr.get(24)) : ''
  if (['SP', 'CP', 'PAT', 'PATH'].includes(section)) return true
  return PATHOLOGY.test(obr?.rawField(4) ?? '') || PATHOLOGY.test(message.segment('SPM')?.rawField(4) ?? '')
}

const MODALITY = /^(CT|MR|CR|DX|MG|US|NM|PT|XA|RF|ES|OT|IO|PX|RG|SC)$/

function modalityOf(message: Hl7Message): string | undefined {
  for (const ipc of message.all('IPC')) {
    const m = upper(ipc.get(5).trim())
    if (MODALITY.test(m)) return m
  }
  const obr = message.segment('OBR')
  const section = obr ? upper(obr.get(24).trim()) : ''
  if (MODALITY.test(section)) return section
  const text = obr?.rawField(4) ?? ''
  if (/\bCT\b|ＣＴ/.test(text)) return 'CT'
  if (/\bMRI?\b|ＭＲ/.test(text)) return 'MR'
  if (/単純撮影|X線|Ｘ線|レントゲン/.test(text)) return 'CR'
  if (/超音波|エコー/.test(text)) return 'US'
  return undefined
}

type Kind = 'endoscopy' | 'radiology' | 'pathology'

function kindOf(message: Hl7Message, dataType: string | undefined): Kind | undefined {
  const dt = dataType ? ssmix2DataType(dataType) : undefined
  if (dt?.domain === 'endoscopy') return 'endoscopy'
  if (dt?.domain === 'radiology') return modalityOf(message) === 'ES' ? 'endoscopy' : 'radiology'
  if (dt?.domain === 'specimen') return isPathology(message) ? 'pathology' : undefined
  if (isPathology(message)) return 'pathology'
  const m = modalityOf(message)
  if (m === 'ES' || endoscopyExamType(message)) return 'endoscopy'
  if (m) return 'radiology'
  return undefined
}

/**
 * A record's first fields, `schema`, `source`, `subject` and `department` when the file name has one; the caller
 * adds the rest in the order records have always had (their JSON keeps it). Built field by field: object spreads
 * (`{ ...common, kind, ..., ...(text ? { text } : {}) }`) cost more than the rest of the mapping together.
 */
function recordHead<R extends ClinicalRecord>(input: MappingInput, subject: SubjectIdentity): R {
  const r = { schema: RECORD_SCHEMA, source: { system: 'ssmix2', ref: input.path }, subject } as R
  if (input.file?.department) r.department = input.file.department
  return r
}

/** recordHead, then what every clinical (non-patient) record has before its `kind`. */
function clinicalHead<R extends EndoscopyRecord | RadiologyRecord | PathologyRecord>(input: MappingInput, subject: SubjectIdentity, recordId: string, performedAt: string, images: ImageRef[]): R {
  const r = recordHead<R>(input, subject)
  r.recordId = recordId
  r.performedAt = performedAt
  r.images = images
  return r
}

/**
 * Maps one parsed SS-MIX2 message to standard records. Never throws for bad content: what cannot be mapped is
 * `held` with per-field reasons; what is not meant to be a record is `skipped` with why.
 */
export function toClinicalRecords(message: Hl7Message, input: MappingInput): MappingResult {
  const dataType = input.file?.dataType
  const dt = dataType ? ssmix2DataType(dataType) : undefined
  const code = message.msh.get(9, 1)
  const trigger = message.msh.get(9, 2)
  if (!code) return held(input, message, [{ path: 'MSH-9', message: 'message type (MSH-9) is empty' }])
  if (dt?.domain === 'visit') return skip(`${dataType} is a visit event, not a clinical record`)
  if (dt && (dt.domain === 'other' || dt.domain === 'physiology')) return skip(`${dataType} (${dt.name}) is not one of the records Kura keeps`)
  if (dt?.order) return skip(`${dataType} is an order; the record comes from its performed notice or report`)
  const pid = message.segment('PID')
  if (!pid) return held(input, message, [{ path: 'PID', message: 'the message has no PID segment, so it cannot be tied to a patient' }])
  const { identity, errors } = readIdentity(pid, input.file)
  if (!identity) return held(input, message, errors)
  if (dataType === 'ADT-00' || (!dt && code === 'ADT' && trigger === 'A08')) {
    if (errors.length) return held(input, message, errors)
    const performedAt = hl7DateTime(message.segment('EVN')?.get(2) ?? '') ?? hl7DateTime(message.msh.get(7)) ?? ''
    const r = recordHead<PatientRecord>(input, identity)
    r.kind = 'patient'
    r.recordId = identity.patientId
    r.performedAt = performedAt
    r.images = []
    return ok([r])
  }
  if (code === 'ADT') return skip('ADT event that is not ADT-00 (patient basic information)')
  const orc = message.segment('ORC')
  const control = orc ? upper(orc.get(1).trim()) : ''
  if (control === 'CA' || control === 'OC' || control === 'CR') return skip('the order was cancelled (ORC-1)')
  const kind = kindOf(message, dataType)
  if (!kind) return skip(dt?.domain === 'specimen' ? 'specimen result that is not pathology (lab values are not a standard record)' : 'message is not an endoscopy, pathology or radiology record')
  const obx = readObx(message)
  const recordId = orc?.get(2).trim() || message.segment('OBR')?.get(2).trim() || input.file?.orderNumber || message.controlId
  const performedAt = performedAtOf(message, input.file)
  if (!recordId) errors.push({ path: 'ORC-2', message: 'no order number (ORC-2, OBR-2, or in the file name) to identify the record' })
  if (!performedAt) errors.push({ path: 'OBR-7', message: 'no exam date/time (OBR-7, TQ1-7, ORC-9) and no date in the file name' })
  const images = imagesOf(message, obx)
  const report = textOf(obx, OBX_CODES.report)

  if (kind === 'endoscopy') {
    const examType = endoscopyExamType(message)
    if (!examType) errors.push({ path: 'OBR-4', message: 'exam type not recognised from the order code/name (OBR-4): expected upper GI, colonoscopy, small bowel or ERCP' })
    const hpRaw = firstObx(obx, OBX_CODES.hPylori)
    const hpCode = hpRaw ? upper((hpRaw.values[0]?.component(1) || hpRaw.values[0]?.component(2) || '').trim()) : ''
    const sedationDrugs = codedAll(obx, OBX_CODES.sedation, 'LOCAL:ssmix2', true)
    const scopeModel = firstObx(obx, OBX_CODES.scopeModel)
    const scopeSerial = firstObx(obx, OBX_CODES.scopeSerial)
    if (errors.length) return held(input, message, errors)
    const text = report ?? textOf(obx, LOINC_FINDINGS)
    const r = clinicalHead<EndoscopyRecord>(input, identity, recordId, performedAt ?? '', images)
    r.kind = 'endoscopy'
    r.examType = examType!
    r.indication = codedAll(obx, OBX_CODES.indication, 'LOCAL:ssmix2')
    r.sedation = { used: sedationDrugs.length > 0, drugs: sedationDrugs }
    r.antithrombotics = codedAll(obx, OBX_CODES.antithrombotic, 'LOCAL:ssmix2', true)
    r.hPylori = H_PYLORI.get(hpCode) ?? 'unknown'
    r.findings = findingsOf(obx)
    r.diagnoses = codedAll(obx, OBX_CODES.diagnosis, 'LOCAL:ssmix2')
    r.procedures = codedAll(obx, OBX_CODES.procedure, 'LOCAL:ssmix2')
    r.adverseEvents = codedAll(obx, OBX_CODES.adverseEvent, 'LOCAL:ssmix2', true)
    r.staff = staffOf(message, 'endoscopist')
    if (text) r.text = text
    if (scopeModel || scopeSerial) {
      r.scope = {}
      const model = scopeModel ? obxText(scopeModel).trim() : ''
      const serial = scopeSerial ? obxText(scopeSerial).trim() : ''
      if (model) r.scope.model = model
      if (serial) r.scope.serial = serial
    }
    return ok([r])
  }

  if (kind === 'radiology') {
    const modality = modalityOf(message)
    if (!modality) errors.push({ path: 'IPC-5', message: 'modality not given (IPC-5, OBR-24) nor recognisable from the order name (OBR-4)' })
    if (errors.length) return held(input, message, errors)
    const findingsText = textOf(obx, FINDINGS_CODES)
    const impression = textOf(obx, IMPRESSION_CODES)
    const bodyPart = coded(firstObx(obx, OBX_CODES.bodyPart)?.values[0], 'LOCAL:ssmix2')
    const text = report ?? ([findingsText, impression].filter(Boolean).join('\n') || undefined)
    const r = clinicalHead<RadiologyRecord>(input, identity, recordId, performedAt ?? '', images)
    r.kind = 'radiology'
    r.modality = modality!
    r.staff = staffOf(message, 'radiologist')
    if (bodyPart) r.bodyPart = bodyPart
    if (findingsText) r.findingsText = findingsText
    if (impression) r.impression = impression
    if (text) r.text = text
    return ok([r])
  }

  // Pathology: SPM-4 specimen type, SPM-8 source site, SPM-13 count; diagnosis coded or as text; Group class.
  const spm = message.segment('SPM')
  const specimenType = coded(spm?.repetitions(4)[0], 'LOCAL:ssmix2')
  const site = coded(spm?.repetitions(8)[0], 'LOCAL:ssmix2')
  if (!specimenType) errors.push({ path: 'SPM-4', message: 'specimen type (SPM-4) is missing' })
  if (!site) errors.push({ path: 'SPM-8', message: 'specimen source site (SPM-8) is missing' })
  if (errors.length) return held(input, message, errors)
  const diagText = textOf(obx, DIAGNOSIS_TEXT_CODES)
  const text = report ?? diagText
  const groupObx = firstObx(obx, OBX_CODES.group)
  const group = (groupObx ? groupFromText(`Group ${groupObx.values[0]?.component(1) ?? ''}`) : undefined) ?? (text ? groupFromText(text) : undefined)
  const countRaw = Number(spm?.get(13) || firstObx(obx, OBX_CODES.specimenCount)?.values[0]?.component(1))
  const r = clinicalHead<PathologyRecord>(input, identity, recordId, performedAt ?? '', images)
  r.kind = 'pathology'
  r.specimen = { type: specimenType!, site: site! }
  if (Number.isInteger(countRaw) && countRaw > 0) r.specimen.count = countRaw
  r.diagnoses = []
  for (const o of obx) {
    if (o.code !== OBX_CODES.diagnosis || (o.type !== 'CWE' && o.type !== 'CE')) continue
    for (const v of o.values) {
      const c = coded(v, 'LOCAL:ssmix2')
      if (c) r.diagnoses.push(c)
    }
  }
  r.staff = staffOf(message, 'pathologist')
  if (group) r.group = group
  if (text) r.text = text
  return ok([r])
}
