/**
 * @module The SS-MIX2 generator: deterministic standardized-storage trees of made-up Japanese patients with
 * several years of messages each (ADT-00 demographics with updates, outpatient visits, prescriptions, endoscopy
 * orders and performed notices, biopsies with pathology results, radiology), all in ISO-2022-JP, with the
 * real-world variants a reader must tolerate and a list of deliberately malformed files it must hold.
 *
 * It returns what tests need to fail properly: every identifier it wrote (names in every script, IDs, birth
 * dates, addresses, postal codes, phones, staff names) so an end-to-end test can scan a hub for leaks; every
 * Study Instance UID it referenced; the expected reader/mapping outcome counts; and each malformed file with the
 * reason it must be held. With `dicom` set, patients and studies come from the @kura/dicom synthetic corpus of
 * the same options, so records and images share patient IDs and Study Instance UIDs.
 * `synthSsmix2Files` yields the files in memory (the benchmark's path); `writeSsmix2Tree` writes them.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import iconv from 'iconv-lite'
import { Prng, normalizeOptions, planStudy, synthUid, type SynthOptions } from '@kura/dicom/synth'
import { encodeIso2022Jp } from '../hl7/charset.ts'
import { escapeHl7 } from '../hl7/escape.ts'
import type { RecordKind } from '../schema/types.ts'
import { formatSsmix2FileName, ssmix2Directory, type Ssmix2FileName } from '../ssmix2/file-name.ts'
import {
  ADVERSE_EVENTS, ANTITHROMBOTICS, CLASSIFICATIONS, DEPARTMENTS, DIAGNOSES, DRUGS, ENDOSCOPY_EXAMS, H_PYLORI, INDICATIONS, JNET_TYPES,
  PATHOLOGY_OUTCOMES, PROCEDURES, RADIOLOGY_EXAMS, SEDATIONS, SPECIMEN_TYPES, type EndoscopyExamKind, type RadiologyExamKind,
} from './ssmix2-exams.ts'
import {
  adt00, adt12, omg19, omiZ23, omlO33, omp01, oulR22, type CharsetStyle, type Exam, type MessageContext, type NameStyle, type Obx, type Specimen,
} from './ssmix2-messages.ts'
import { synthPerson, synthStaff, toHalfWidth, toRomaji, type SynthPerson, type SynthStaff } from './ssmix2-people.ts'

export interface Ssmix2SynthOptions {
  /** Patients of the generator's own (in addition to those linked from `dicom`). */
  patients: number
  seed?: number
  /** Years of history per patient (default 3). */
  years?: number
  /** First day of the history, `YYYY-MM-DD` (default 2021-04-01). */
  start?: string
  /** Link to the @kura/dicom synthetic corpus made with these options: its patients and Study Instance UIDs. */
  dicom?: SynthOptions
  /** Real-world variants (charset spellings, CRLF/LF, trailing garbage, name orders, stale flags...). Default true. */
  variants?: boolean
  /** Deliberately malformed files, under one extra patient. Default true. */
  malformed?: boolean
  /** Collect identifiers, studies and per-file variant notes (default true; turn off for a million messages). */
  collect?: boolean
}

export interface Ssmix2SynthFile {
  /** Relative to the root, "/" separators. */
  path: string
  bytes: Uint8Array
}

/** What the reader and mapping should make of the tree. */
export interface Ssmix2Expected {
  files: number
  current: number
  superseded: number
  deleted: number
  /** Held by the tree reader (name, place, bytes, HL7). */
  heldByReader: number
  /** Read, but held by the mapping (content). */
  heldByMapping: number
  /** Current files that are deliberately not records (orders, visits, prescriptions, cancellations). */
  skipped: number
  records: Record<RecordKind, number>
}

export interface Ssmix2Malformed {
  path: string
  /** Which stage must hold it. */
  stage: 'reader' | 'mapping'
  /** The KuraError code (reader, HL7 problems) or the FieldError path (mapping, file name). */
  code: string
  /** What is wrong, in words. */
  reason: string
}

export interface Ssmix2SynthPatient {
  patientId: string
  kanji: string
  kana: string
  birthDate: string
  sex: 'M' | 'F'
  linkedToDicom: boolean
}

export interface Ssmix2SynthResult {
  files: number
  bytes: number
  expected: Ssmix2Expected
  malformed: Ssmix2Malformed[]
  /** Every identifying string written, in every form it was written (empty when `collect` is false). */
  identifiers: {
    patientIds: string[]
    names: string[]
    birthDates: string[]
    addresses: string[]
    postalCodes: string[]
    phones: string[]
    staffNames: string[]
    staffIds: string[]
  }
  patients: Ssmix2SynthPatient[]
  /** Studies the performed notices reference (current files only). */
  studies: Array<{ patientId: string; studyInstanceUid: string; accessionNumber: string; kind: 'endoscopy' | 'radiology'; path: string; linkedToDicom: boolean }>
  /** Files written with a real-world variant, and which. */
  variants: Array<{ path: string; variant: string }>
}

type Outcome = RecordKind | 'skipped' | 'superseded' | 'deleted' | 'held-reader' | 'held-mapping'

const DAY = 86_400_000
const pad = (n: number, w: number) => String(n).padStart(w, '0')

function ymd(t: number): string {
  const d = new Date(t)
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`
}
/** 14-digit HL7 TS for an instant. */
function ts14(t: number): string {
  const d = new Date(t)
  return `${ymd(t)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`
}
const ts17 = (t: number) => `${ts14(t)}${pad(new Date(t).getUTCMilliseconds(), 3)}`

interface Linked {
  person: SynthPerson
  halfWidthKana: boolean
  hiragana: string
  studies: Array<{ uid: string; accession: string; modality: string; date: string; time: string; description: string; bodyPart: string }>
}

function linkedPatients(opts: SynthOptions): Linked[] {
  const o = normalizeOptions(opts)
  const byId = new Map<string, Linked>()
  for (let i = 0; i < o.studies; i++) {
    const s = planStudy(o, i)
    const p = s.patient
    let l = byId.get(p.patientId)
    if (!l) {
      const [fk = '', gk = ''] = (p.name.Ideographic ?? '').split('^')
      const [fp = '', gp = ''] = (p.name.Phonetic ?? '').split('^')
      const kana = (x: string) => x.normalize('NFKC').replace(/[\u3041-\u3096]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60))
      const extra = synthPerson(o.seed, 1_000_000 + p.index, p.patientId)
      l = {
        person: { ...extra, patientId: p.patientId, family: { kanji: fk, kana: kana(fp) }, given: { kanji: gk, kana: kana(gp) }, sex: p.sex, birthDate: p.birthDate },
        halfWidthKana: p.halfWidthKana,
        hiragana: `${fp} ${gp}`,
        studies: [],
      }
      byId.set(p.patientId, l)
    }
    l.studies.push({ uid: s.studyInstanceUid, accession: s.accessionNumber, modality: s.modality, date: s.date, time: s.time, description: s.description, bodyPart: s.bodyPart })
  }
  return [...byId.values()]
}

interface Ctx {
  seed: number
  variants: boolean
  collect: boolean
  start: number
  years: number
  endoscopists: SynthStaff[]
  radiologists: SynthStaff[]
  pathologists: SynthStaff[]
  result: Ssmix2SynthResult
  ids: Record<keyof Ssmix2SynthResult['identifiers'], Set<string>>
}

/** One patient's files, with their expected outcomes. */
class PatientWriter {
  readonly out: Array<{ file: Ssmix2SynthFile; outcome: Outcome }> = []
  private seq = 0
  constructor(
    private readonly c: Ctx,
    readonly person: SynthPerson,
    readonly index: number,
    readonly rng: Prng,
    readonly nameStyle: NameStyle,
    readonly charsetStyle: CharsetStyle,
  ) {}

  ctx(t: number, department = DEPARTMENTS[0]): MessageContext {
    return { person: this.person, ts: ts14(t), controlId: `${this.index}-${++this.seq}`, nameStyle: this.nameStyle, charsetStyle: this.charsetStyle, department }
  }

  orderNo(): string {
    return pad(this.index * 1000 + ++this.seq, 15)
  }

  /** Encodes and files one message; `byteVariant` may damage or vary the bytes on purpose. */
  file(n: Omit<Ssmix2FileName, 'patientId'>, text: string, outcome: Outcome, variant?: string): string {
    const name: Ssmix2FileName = { patientId: this.person.patientId, ...n }
    const path = `${ssmix2Directory(name)}/${formatSsmix2FileName(name)}`
    let v = variant === 'none' ? undefined : variant
    if (variant === undefined && this.c.variants && outcome !== 'held-reader') {
      const r = this.rng.next()
      v = r < 0.04 ? 'crlf' : r < 0.07 ? 'lf' : r < 0.1 ? 'trailing-garbage' : r < 0.13 ? 'blank-lines' : r < 0.15 ? 'esc-(-j' : undefined
    }
    let t = text
    if (v === 'crlf') t = t.replace(/\r/g, '\r\n')
    else if (v === 'lf') t = t.replace(/\r/g, '\n')
    else if (v === 'blank-lines') t = t.replace('\rPID', '\r\rPID')
    let bytes = encodeIso2022Jp(t)
    if (v === 'trailing-garbage') bytes = concat(bytes, Uint8Array.from([0x00, 0x00, 0x1a]))
    else if (v === 'esc-(-j') bytes = replaceEsc(bytes)
    if (v && this.c.collect) this.c.result.variants.push({ path, variant: v })
    this.out.push({ file: { path, bytes }, outcome })
    return path
  }

  raw(path: string, bytes: Uint8Array, outcome: Outcome): void {
    this.out.push({ file: { path, bytes }, outcome })
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const r = new Uint8Array(a.length + b.length)
  r.set(a)
  r.set(b, a.length)
  return r
}

/** ESC ( B → ESC ( J (JIS X 0201 Roman), as some older writers designate "ASCII". */
function replaceEsc(b: Uint8Array): Uint8Array {
  const r = Uint8Array.from(b)
  for (let i = 0; i + 2 < r.length; i++) if (r[i] === 0x1b && r[i + 1] === 0x28 && r[i + 2] === 0x42) r[i + 2] = 0x4a
  return r
}

function reportText(rng: Prng, p: SynthPerson, exam: EndoscopyExamKind, site: string, finding: string, size: number, mention: boolean): string {
  const lines = [`${site}に${size}mm大の${finding}を認める。`, rng.chance(0.5) ? '周囲粘膜に萎縮性変化あり | 経過観察。' : '生検施行（2個）。出血なし。']
  if (exam.examType === 'colonoscopy') lines.push('前処置良好。盲腸まで挿入。')
  // Real reports name the patient now and then ("○○様"): free text must be scrubbed.
  if (mention) lines.unshift(`${p.family.kanji}${p.given.kanji}様（ID:${p.patientId}）`)
  return lines.map((l) => escapeHl7(l)).join('\\.br\\')
}

function endoscopyObx(rng: Prng, exam: EndoscopyExamKind, p: SynthPerson, mention: boolean): { obx: Obx[]; site: readonly [string, string]; biopsy: boolean } {
  const o: Obx[] = []
  const term = (t: readonly [string, string], system = '99KURA') => `${t[0]}^${escapeHl7(t[1])}^${system}`
  o.push({ type: 'CWE', code: 'INDICATION', name: '検査目的', value: term(rng.pick(INDICATIONS)) })
  o.push({ type: 'CWE', code: 'SEDATION', name: '鎮静', value: term(rng.pick(SEDATIONS)) })
  o.push({ type: 'CWE', code: 'ANTITHROMBOTIC', name: '抗血栓薬', value: term(rng.pick(ANTITHROMBOTICS)) })
  if (exam.examType === 'upper-gi') o.push({ type: 'CWE', code: 'HPYLORI', name: 'H.pylori', value: term(rng.pick(H_PYLORI)) })
  const nFindings = rng.int(1, 3)
  let firstSite: readonly [string, string] = exam.sites[0]
  let firstFinding = ''
  let size = 0
  for (let k = 1; k <= nFindings; k++) {
    const site = rng.pick(exam.sites)
    const finding = rng.pick(exam.findings)
    if (k === 1) { firstSite = site; firstFinding = finding[1] }
    o.push({ type: 'CWE', code: 'SITE', name: '部位', subId: String(k), value: term(site, 'MST3') })
    o.push({ type: 'CWE', code: 'FINDING', name: '所見', subId: String(k), value: term(finding, 'MST3') })
    if (finding[0] === 'POLYP' || finding[0] === 'TUMOR') {
      const s = rng.int(3, 30)
      if (k === 1) size = s
      o.push({ type: 'NM', code: 'SIZE', name: '大きさ', subId: String(k), value: String(s), units: 'mm' })
      o.push({ type: 'CWE', code: 'CLASS', name: '肉眼型', subId: String(k), value: term(rng.pick(CLASSIFICATIONS), 'PARIS') })
      if (exam.examType === 'colonoscopy' && rng.chance(0.5)) o.push({ type: 'CWE', code: 'CLASS', name: 'JNET分類', subId: String(k), value: term(rng.pick(JNET_TYPES), 'JNET') })
    }
    const dx = DIAGNOSES[`${exam.examType}:${finding[0]}`] ?? DIAGNOSES[`any:${finding[0]}`]
    if (dx) o.push({ type: 'CWE', code: 'DIAGNOSIS', name: '診断', value: term([dx[0], dx[1]], dx[2]) })
  }
  const biopsy = rng.chance(0.4)
  if (biopsy) o.push({ type: 'CWE', code: 'PROCEDURE', name: '処置', value: term(PROCEDURES[0]) })
  else if (rng.chance(0.2)) o.push({ type: 'CWE', code: 'PROCEDURE', name: '処置', value: term(exam.examType === 'ercp' ? PROCEDURES[4] : rng.pick(PROCEDURES.slice(1, 4))) })
  o.push({ type: 'CWE', code: 'ADVERSE', name: '偶発症', value: term(rng.chance(0.95) ? ADVERSE_EVENTS[0] : ADVERSE_EVENTS[1]) })
  o.push({ type: 'ST', code: 'SCOPE', name: 'スコープ', value: rng.pick(exam.scopes) })
  o.push({ type: 'ST', code: 'SCOPESN', name: 'スコープ製造番号', value: String(rng.int(1_000_000, 9_999_999)) })
  o.push({ type: 'FT', code: 'REPORT', name: '所見文', value: reportText(rng, p, exam, firstSite[1], firstFinding || '病変', size || 5, mention) })
  return { obx: o, site: firstSite, biopsy }
}

function radiologyObx(rng: Prng, kind: RadiologyExamKind): Obx[] {
  return [
    { type: 'CWE', code: 'BODYPART', name: '部位', value: `${kind.bodyPart[0]}^${escapeHl7(kind.bodyPart[1])}^SCT` },
    { type: 'FT', code: '18782-3', name: '所見', system: 'LN', value: escapeHl7(rng.pick(kind.findings)) },
    { type: 'FT', code: '19005-8', name: '診断', system: 'LN', value: escapeHl7(rng.pick(kind.impressions)) },
  ]
}

const GROUP_SPELLINGS = [(g: string) => `Group ${g}`, (g: string) => `グループ${'０１２３４５'[Number(g)] ?? g}`, (g: string) => `Group ${['', 'I', 'II', 'III', 'IV', 'V'][Number(g)]}`]

function pathologyObx(rng: Prng): { obx: Obx[]; group: string } {
  const outcome = rng.pick(PATHOLOGY_OUTCOMES)
  const spelled = rng.pick(GROUP_SPELLINGS)(outcome.group)
  const obx: Obx[] = [{ type: 'CWE', code: 'DIAGNOSIS', name: '病理診断', value: `${outcome.diagnosis[0]}^${escapeHl7(outcome.diagnosis[1])}^I10` }]
  // Half the reports code the Group; the others only write it in the text, which the mapping must find.
  if (rng.chance(0.5)) obx.push({ type: 'CWE', code: 'GROUP', name: 'Group分類', value: `${outcome.group}^Group ${outcome.group}^JGCA` })
  obx.push({ type: 'FT', code: '22637-3', name: '病理診断', system: 'LN', value: escapeHl7(`${spelled}. ${outcome.text}`) })
  return { obx, group: outcome.group }
}

function exam(w: PatientWriter, t: number, code: string, name: string, modality: string, staff: SynthStaff, uid: string, accession?: string): Exam {
  const orderNo = w.orderNo()
  return { orderNo, fillerNo: `F${orderNo.slice(-9)}`, code, name, performed: ts14(t), accession: accession ?? `A${orderNo.slice(-10)}`, studyUid: uid, modality, staff }
}

function writeEndoscopy(c: Ctx, w: PatientWriter, t: number, kind: EndoscopyExamKind, uid: string, accession: string | undefined, linked: boolean): void {
  const rng = w.rng
  const dept = DEPARTMENTS[1]
  const date = ymd(t)
  const x = exam(w, t, kind.code, kind.name, 'ES', rng.pick(c.endoscopists), uid, accession)
  const orderAt = t - rng.int(3, 30) * DAY
  // The order, sometimes revised (old version flag 0), sometimes with a stale flag-1 copy a writer left behind.
  const revised = c.variants && rng.chance(0.15)
  if (revised) {
    const stale = rng.chance(0.3)
    w.file({ date, dataType: 'OMG-02', orderNumber: x.orderNo, timestamp: ts17(orderAt), department: dept.code, flag: stale ? '1' : '0' }, omg19(w.ctx(orderAt, dept), x), 'superseded', stale ? 'stale-flag-1' : 'superseded-version')
  }
  w.file({ date, dataType: 'OMG-02', orderNumber: x.orderNo, timestamp: ts17(orderAt + 3_600_000), department: dept.code, flag: '1' }, omg19(w.ctx(orderAt + 3_600_000, dept), x), 'skipped')
  const { obx, site, biopsy } = endoscopyObx(rng, kind, w.person, rng.chance(0.25))
  const path = w.file({ date, dataType: 'OMG-12', orderNumber: x.orderNo, timestamp: ts17(t + 1_800_000), department: dept.code, flag: '1' }, omiZ23(w.ctx(t + 1_800_000, dept), x, obx, 'ES'), 'endoscopy')
  if (c.collect) c.result.studies.push({ patientId: w.person.patientId, studyInstanceUid: uid, accessionNumber: x.accession, kind: 'endoscopy', path, linkedToDicom: linked })
  if (!biopsy) return
  const pathOrder = w.orderNo()
  const s: Specimen = { id: `S${pathOrder.slice(-9)}`, type: [...rng.pick(SPECIMEN_TYPES)] as [string, string], site: [site[0], site[1], 'MST3'], count: rng.int(1, 3), collected: ts14(t + 1_200_000) }
  w.file({ date, dataType: 'OML-01', orderNumber: pathOrder, timestamp: ts17(t + 1_300_000), department: dept.code, flag: '1' }, omlO33(w.ctx(t + 1_300_000, dept), pathOrder, s), 'skipped')
  const { obx: pobx } = pathologyObx(rng)
  const resultAt = t + rng.int(5, 10) * DAY
  w.file({ date, dataType: 'OML-11', orderNumber: pathOrder, timestamp: ts17(resultAt), department: dept.code, flag: '1' }, oulR22(w.ctx(resultAt, dept), pathOrder, `P${pathOrder.slice(-9)}`, s, pobx, rng.pick(c.pathologists)), 'pathology')
}

function writeRadiology(c: Ctx, w: PatientWriter, t: number, kind: RadiologyExamKind, uid: string, accession: string | undefined, linked: boolean): void {
  const rng = w.rng
  const dept = DEPARTMENTS[3]
  const date = ymd(t)
  const x = exam(w, t, kind.code, kind.name, kind.modality, rng.pick(c.radiologists), uid, accession)
  const orderAt = t - rng.int(1, 20) * DAY
  w.file({ date, dataType: 'OMG-01', orderNumber: x.orderNo, timestamp: ts17(orderAt), department: dept.code, flag: '1' }, omg19(w.ctx(orderAt, dept), x), 'skipped')
  const path = w.file({ date, dataType: 'OMG-11', orderNumber: x.orderNo, timestamp: ts17(t + 2_400_000), department: dept.code, flag: '1' }, omiZ23(w.ctx(t + 2_400_000, dept), x, radiologyObx(rng, kind), kind.modality), 'radiology')
  if (c.collect) c.result.studies.push({ patientId: w.person.patientId, studyInstanceUid: uid, accessionNumber: x.accession, kind: 'radiology', path, linkedToDicom: linked })
}

function collectPerson(c: Ctx, p: SynthPerson, linked: boolean, extraNames: string[] = []): void {
  if (!c.collect) return
  const ids = c.ids
  ids.patientIds.add(p.patientId)
  const fk = p.family.kanji, gk = p.given.kanji, fa = p.family.kana, ga = p.given.kana
  for (const n of [`${fk} ${gk}`, `${fk}${gk}`, `${fk}　${gk}`, fk, gk, `${fa} ${ga}`, `${fa}${ga}`, fa, ga, toHalfWidth(`${fa} ${ga}`), toHalfWidth(fa), toHalfWidth(ga), `${toRomaji(fa)} ${toRomaji(ga)}`, ...extraNames]) if (n.trim()) ids.names.add(n)
  ids.birthDates.add(p.birthDate)
  ids.birthDates.add(`${p.birthDate.slice(0, 4)}-${p.birthDate.slice(4, 6)}-${p.birthDate.slice(6, 8)}`)
  ids.addresses.add(p.address)
  ids.postalCodes.add(p.postalCode)
  ids.phones.add(p.phone)
  c.result.patients.push({ patientId: p.patientId, kanji: `${fk} ${gk}`, kana: `${fa} ${ga}`, birthDate: p.birthDate, sex: p.sex, linkedToDicom: linked })
}

/** Demographics, visits and prescriptions: what every patient has. */
function writeBasics(c: Ctx, w: PatientWriter, firstVisit: number): void {
  const rng = w.rng
  const p = w.person
  const updated = c.variants && rng.chance(0.3)
  if (updated) {
    // The patient moved: the old ADT-00 stays with flag 0, the new one has the new address and phone.
    w.file({ dataType: 'ADT-00', orderNumber: '999999999999999', timestamp: ts17(firstVisit), flag: '0' }, adt00(w.ctx(firstVisit)), 'superseded', 'superseded-version')
    const moved = synthPerson(c.seed, 2_000_000 + w.index, p.patientId)
    p.address = moved.address
    p.postalCode = moved.postalCode
    p.phone = moved.phone
    if (c.collect) { c.ids.addresses.add(p.address); c.ids.postalCodes.add(p.postalCode); c.ids.phones.add(p.phone) }
    const later = firstVisit + rng.int(30, 400) * DAY
    w.file({ dataType: 'ADT-00', orderNumber: '999999999999999', timestamp: ts17(later), flag: '1' }, adt00(w.ctx(later)), 'patient')
  } else {
    w.file({ dataType: 'ADT-00', orderNumber: '999999999999999', timestamp: ts17(firstVisit), flag: '1' }, adt00(w.ctx(firstVisit)), 'patient')
  }
  const visits = rng.int(2, 5)
  for (let k = 0; k < visits; k++) {
    // Milliseconds drawn too: two visits on one day must not share a file name.
    const t = firstVisit + rng.int(0, c.years * 365) * DAY + rng.int(0, 7 * 3_600_000 - 1)
    w.file({ date: ymd(t), dataType: 'ADT-12', timestamp: ts17(t), department: '01', flag: '1' }, adt12(w.ctx(t)), 'skipped')
  }
  const prescriptions = rng.int(0, 2)
  for (let k = 0; k < prescriptions; k++) {
    const t = firstVisit + rng.int(0, c.years * 365) * DAY + rng.int(9, 16) * 3_600_000
    const no = w.orderNo()
    w.file({ date: ymd(t), dataType: 'OMP-01', orderNumber: no, timestamp: ts17(t), department: '13', flag: '1' }, omp01(w.ctx(t, DEPARTMENTS[1]), no, rng.pick(DRUGS)), 'skipped')
  }
  // A withdrawn order (only a flag-0 file: "deleted") and a cancelled one (ORC-1 CA, flag 1): neither is a record.
  if (c.variants && rng.chance(0.05)) {
    const t = firstVisit + rng.int(0, c.years * 365) * DAY
    const x = exam(w, t, 'ES-UGI', '上部消化管内視鏡検査', 'ES', c.endoscopists[0], synthUid(c.seed, 'ssmix2-deleted', w.index))
    w.file({ date: ymd(t), dataType: 'OMG-02', orderNumber: x.orderNo, timestamp: ts17(t), department: '13', flag: '0' }, omg19(w.ctx(t, DEPARTMENTS[1]), x), 'deleted', 'deleted-order')
  }
  if (c.variants && rng.chance(0.05)) {
    const t = firstVisit + rng.int(0, c.years * 365) * DAY
    const x = exam(w, t, 'ES-CS', '下部消化管内視鏡検査', 'ES', c.endoscopists[0], synthUid(c.seed, 'ssmix2-cancelled', w.index))
    w.file({ date: ymd(t), dataType: 'OMG-02', orderNumber: x.orderNo, timestamp: ts17(t), department: '13', flag: '1' }, omg19(w.ctx(t, DEPARTMENTS[1]), x, true), 'skipped', 'cancelled-order')
  }
}

const NAME_STYLES: NameStyle[] = ['kana-first', 'no-codes', 'kanji-only', 'with-alphabetic', 'half-width-kana']
const CHARSET_STYLES: CharsetStyle[] = ['iso2022-nospace', 'no-msh18', 'msh18-only']

function styles(c: Ctx, rng: Prng, halfWidth = false): [NameStyle, CharsetStyle] {
  if (!c.variants) return ['standard', 'standard']
  const name: NameStyle = halfWidth ? 'half-width-kana' : rng.chance(0.7) ? 'standard' : rng.pick(NAME_STYLES)
  const cs: CharsetStyle = rng.chance(0.7) ? 'standard' : rng.pick(CHARSET_STYLES)
  return [name, cs]
}

/** The malformed files, under one extra patient, each with the stage and reason that must hold it. */
function writeMalformed(c: Ctx, index: number): PatientWriter {
  const person = synthPerson(c.seed, index, String(9_000_000_000 + index))
  collectPerson(c, person, false)
  const rng = Prng.for(c.seed, 'ssmix2-malformed')
  const w = new PatientWriter(c, person, index, rng, 'standard', 'standard')
  const t = c.start + 100 * DAY + 10 * 3_600_000
  const date = ymd(t)
  const add = (path: string, stage: 'reader' | 'mapping', code: string, reason: string) => c.result.malformed.push({ path, stage, code, reason })
  w.file({ dataType: 'ADT-00', orderNumber: '999999999999999', timestamp: ts17(t), flag: '1' }, adt00(w.ctx(t)), 'patient', 'none')
  const base = (dataType: string, k: number, orderNumber?: string): Ssmix2FileName => ({ patientId: person.patientId, date, dataType, orderNumber, timestamp: ts17(t + k * 60_000), department: '01', flag: '1' })
  const place = (n: Ssmix2FileName) => `${ssmix2Directory(n)}/${formatSsmix2FileName(n)}`
  const visitText = adt12(w.ctx(t))
  let n = base('ADT-12', 1)
  w.raw(place(n), iconv.encode(visitText, 'shift_jis'), 'held-reader')
  add(place(n), 'reader', 'HL7_CHARSET_SHIFT_JIS', 'message written in Shift_JIS instead of ISO-2022-JP')
  n = base('ADT-12', 2)
  w.raw(place(n), new TextEncoder().encode(visitText), 'held-reader')
  add(place(n), 'reader', 'HL7_CHARSET_UTF8', 'message written in UTF-8 instead of ISO-2022-JP')
  const kind = ENDOSCOPY_EXAMS[0]
  const x = exam(w, t, kind.code, kind.name, 'ES', c.endoscopists[0], synthUid(c.seed, 'ssmix2-malformed', 1))
  const full = encodeIso2022Jp(omiZ23(w.ctx(t), x, endoscopyObx(rng, kind, person, false).obx, 'ES'))
  const kanjiAt = full.findIndex((b, i) => b === 0x1b && full[i + 1] === 0x24 && full[i + 2] === 0x42)
  n = base('OMG-12', 3, x.orderNo)
  w.raw(place(n), full.subarray(0, kanjiAt + 4), 'held-reader')
  add(place(n), 'reader', 'HL7_BAD_ISO2022', 'file truncated in the middle of a kanji')
  n = base('OMG-12', 4, w.orderNo())
  w.raw(place(n), new TextEncoder().encode('%PDF-1.4\n%\u00e2\u00e3\n1 0 obj << /Type /Catalog >> endobj\n'), 'held-reader')
  add(place(n), 'reader', 'HL7_NO_MSH', 'a PDF stored where an HL7 message belongs')
  n = base('OMG-12', 5, w.orderNo())
  w.raw(place(n), new Uint8Array(0), 'held-reader')
  add(place(n), 'reader', 'HL7_EMPTY', 'empty file (writer crashed)')
  const dir = ssmix2Directory({ patientId: person.patientId, date, dataType: 'ADT-12' })
  w.raw(`${dir}/${person.patientId}_${date}_ADT-12_${ts17(t)}_01_1`, encodeIso2022Jp(visitText), 'held-reader')
  add(`${dir}/${person.patientId}_${date}_ADT-12_${ts17(t)}_01_1`, 'reader', 'fileName', 'file name with six parts (order number missing)')
  const other = { ...base('ADT-12', 6), patientId: String(Number(person.patientId) + 1) }
  w.raw(`${dir}/${formatSsmix2FileName(other)}`, encodeIso2022Jp(visitText), 'held-reader')
  add(`${dir}/${formatSsmix2FileName(other)}`, 'reader', 'fileName', "file name's patient ID differs from its folder (misfiled)")
  // Mapping-stage problems: the bytes and names are fine, the content is not.
  const y = exam(w, t, kind.code, kind.name, 'ES', c.endoscopists[0], synthUid(c.seed, 'ssmix2-malformed', 2))
  const wrongPatient = { ...person, patientId: String(Number(person.patientId) + 7) }
  const mismatched = omiZ23({ ...w.ctx(t), person: wrongPatient }, y, [], 'ES')
  let p = w.file({ date, dataType: 'OMG-12', orderNumber: y.orderNo, timestamp: ts17(t + 7 * 60_000), department: '13', flag: '1' }, mismatched, 'held-mapping', 'none')
  add(p, 'mapping', 'PID-3', "PID-3 names another patient than the file name and folder")
  if (c.collect) c.ids.patientIds.add(wrongPatient.patientId)
  const z = exam(w, t, 'ES-XYZ', '特殊検査', 'OT', c.endoscopists[0], synthUid(c.seed, 'ssmix2-malformed', 3))
  p = w.file({ date, dataType: 'OMG-12', orderNumber: z.orderNo, timestamp: ts17(t + 8 * 60_000), department: '13', flag: '1' }, omiZ23(w.ctx(t), z, [], 'ES'), 'held-mapping', 'none')
  add(p, 'mapping', 'OBR-4', 'endoscopy exam type cannot be recognised from OBR-4')
  const po = w.orderNo()
  const s: Specimen = { id: 'S1', type: ['SP-BIOPSY', '生検'], site: ['ST-BODY-M', '胃体中部', 'MST3'], count: 1, collected: ts14(t) }
  p = w.file({ date, dataType: 'OML-11', orderNumber: po, timestamp: ts17(t + 9 * 60_000), department: '13', flag: '1' }, oulR22(w.ctx(t), po, 'P1', s, pathologyObx(rng).obx, c.pathologists[0], false), 'held-mapping', 'none')
  add(p, 'mapping', 'SPM-4', 'pathology result without its specimen (no SPM segment)')
  const badBirth = { ...person, birthDate: '19991340' }
  p = w.file({ date, dataType: 'OMG-12', orderNumber: w.orderNo(), timestamp: ts17(t + 10 * 60_000), department: '13', flag: '1' }, omiZ23({ ...w.ctx(t), person: badBirth }, exam(w, t, kind.code, kind.name, 'ES', c.endoscopists[0], synthUid(c.seed, 'ssmix2-malformed', 4)), [], 'ES'), 'held-mapping', 'none')
  add(p, 'mapping', 'PID-7', 'birth date 1999-13-40 is not a date')
  return w
}

/**
 * Yields the tree's files in a deterministic order (patients in turn; within a patient, as generated) and
 * returns the summary. Memory stays flat when `collect` is false: nothing but one patient is held at a time.
 */
export function* synthSsmix2Files(opts: Ssmix2SynthOptions): Generator<Ssmix2SynthFile, Ssmix2SynthResult> {
  if (!Number.isInteger(opts.patients) || opts.patients < 0) throw new RangeError(`patients must be a whole number ≥ 0 (got ${opts.patients}).`)
  const seed = opts.seed ?? 1
  const result: Ssmix2SynthResult = {
    files: 0, bytes: 0,
    expected: { files: 0, current: 0, superseded: 0, deleted: 0, heldByReader: 0, heldByMapping: 0, skipped: 0, records: { patient: 0, endoscopy: 0, pathology: 0, radiology: 0 } },
    malformed: [],
    identifiers: { patientIds: [], names: [], birthDates: [], addresses: [], postalCodes: [], phones: [], staffNames: [], staffIds: [] },
    patients: [], studies: [], variants: [],
  }
  const c: Ctx = {
    seed, variants: opts.variants ?? true, collect: opts.collect ?? true,
    start: Date.parse(`${opts.start ?? '2021-04-01'}T00:00:00Z`), years: opts.years ?? 3,
    endoscopists: synthStaff(seed, 'endoscopist'), radiologists: synthStaff(seed, 'radiologist'), pathologists: synthStaff(seed, 'pathologist'),
    result,
    ids: { patientIds: new Set(), names: new Set(), birthDates: new Set(), addresses: new Set(), postalCodes: new Set(), phones: new Set(), staffNames: new Set(), staffIds: new Set() },
  }
  if (Number.isNaN(c.start)) throw new RangeError(`start must be YYYY-MM-DD (got ${opts.start}).`)
  if (c.collect) for (const s of [...c.endoscopists, ...c.radiologists, ...c.pathologists]) { c.ids.staffNames.add(`${s.family} ${s.given}`); c.ids.staffNames.add(`${s.family}${s.given}`); c.ids.staffIds.add(s.id) }

  const account = (w: PatientWriter) => {
    const e = result.expected
    for (const { file, outcome } of w.out) {
      e.files++
      result.files++
      result.bytes += file.bytes.length
      if (outcome === 'superseded') e.superseded++
      else if (outcome === 'deleted') e.deleted++
      else if (outcome === 'held-reader') e.heldByReader++
      else {
        e.current++
        if (outcome === 'held-mapping') e.heldByMapping++
        else if (outcome === 'skipped') e.skipped++
        else e.records[outcome]++
      }
    }
  }

  let index = 0
  for (const l of opts.dicom ? linkedPatients(opts.dicom) : []) {
    const rng = Prng.for(seed, 'ssmix2-timeline', index)
    const [ns, cs] = styles(c, rng, l.halfWidthKana)
    const w = new PatientWriter(c, l.person, index, rng, ns, cs)
    collectPerson(c, l.person, true, [l.hiragana])
    const first = Math.min(...l.studies.map((s) => Date.parse(`${s.date.slice(0, 4)}-${s.date.slice(4, 6)}-${s.date.slice(6, 8)}T00:00:00Z`))) - rng.int(30, 300) * DAY
    writeBasics(c, w, first + 10 * 3_600_000)
    for (const s of l.studies) {
      const t = Date.parse(`${s.date.slice(0, 4)}-${s.date.slice(4, 6)}-${s.date.slice(6, 8)}T${s.time.slice(0, 2)}:${s.time.slice(2, 4)}:${s.time.slice(4, 6)}Z`)
      if (s.modality === 'ES') {
        const kind = s.bodyPart === 'STOMACH' || /上部|Upper|EGD/i.test(s.description) ? ENDOSCOPY_EXAMS[0] : ENDOSCOPY_EXAMS[1]
        writeEndoscopy(c, w, t, kind, s.uid, s.accession, true)
      } else {
        const kind = RADIOLOGY_EXAMS.find((k) => k.modality === s.modality && k.code.endsWith(s.bodyPart.slice(0, 3))) ?? RADIOLOGY_EXAMS.find((k) => k.modality === s.modality) ?? RADIOLOGY_EXAMS[0]
        writeRadiology(c, w, t, { ...kind, modality: s.modality }, s.uid, s.accession, true)
      }
    }
    account(w)
    for (const { file } of w.out) yield file
    index++
  }
  const mrnOffset = Prng.for(seed, 'ssmix2-mrn').int(0, 899_999_999)
  for (let i = 0; i < opts.patients; i++, index++) {
    const rng = Prng.for(seed, 'ssmix2-timeline', index)
    // 10-digit patient IDs, unique per index (odd multiplier: a bijection modulo 9·10⁸).
    const person = synthPerson(seed, index, String(1_000_000_000 + ((i * 7919 + mrnOffset) % 900_000_000)))
    const [ns, cs] = styles(c, rng)
    const w = new PatientWriter(c, person, index, rng, ns, cs)
    collectPerson(c, person, false)
    const first = c.start + rng.int(0, 180) * DAY + rng.int(9, 16) * 3_600_000
    writeBasics(c, w, first)
    const endoscopies = rng.int(1, 3)
    for (let k = 0; k < endoscopies; k++) {
      const t = first + rng.int(7, c.years * 365) * DAY + rng.int(0, 6) * 3_600_000
      writeEndoscopy(c, w, t, rng.chance(0.85) ? ENDOSCOPY_EXAMS[rng.int(0, 1)] : rng.pick(ENDOSCOPY_EXAMS.slice(2)), synthUid(seed, 'ssmix2-study', index, k), undefined, false)
    }
    const radiology = rng.int(0, 2)
    for (let k = 0; k < radiology; k++) {
      const t = first + rng.int(7, c.years * 365) * DAY + rng.int(0, 6) * 3_600_000
      writeRadiology(c, w, t, rng.pick(RADIOLOGY_EXAMS), synthUid(seed, 'ssmix2-study', index, 10 + k), undefined, false)
    }
    account(w)
    for (const { file } of w.out) yield file
  }
  if (opts.malformed ?? true) {
    const w = writeMalformed(c, index)
    account(w)
    for (const { file } of w.out) yield file
  }
  if (c.collect) for (const k of Object.keys(c.ids) as Array<keyof typeof c.ids>) result.identifiers[k] = [...c.ids[k]]
  return result
}

/** Writes the tree under `root` (created if missing) and returns what was written and what a reader should find. */
export async function writeSsmix2Tree(root: string, opts: Ssmix2SynthOptions, onFile?: (done: { files: number; bytes: number }) => void): Promise<Ssmix2SynthResult & { root: string }> {
  const made = new Set<string>()
  const gen = synthSsmix2Files(opts)
  let files = 0
  let bytes = 0
  for (;;) {
    const n = gen.next()
    if (n.done) return { ...n.value, root }
    const f = n.value
    const dir = f.path.slice(0, f.path.lastIndexOf('/'))
    if (!made.has(dir)) {
      mkdirSync(join(root, dir), { recursive: true })
      made.add(dir)
      if (made.size > 100_000) made.clear()
    }
    writeFileSync(join(root, f.path), f.bytes)
    files++
    bytes += f.bytes.length
    if (onFile && files % 1000 === 0) onFile({ files, bytes })
    // Let timers and I/O run now and then: a million files is minutes of work.
    if (files % 5000 === 0) await new Promise((r) => setImmediate(r))
  }
}
