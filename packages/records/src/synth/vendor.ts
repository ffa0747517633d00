/**
 * @module Generated vendor exports for the two shipped adapters (vendor-a-csv, vendor-b-xml), in any supported
 * encoding: realistic endoscopy exams of invented Japanese patients (kanji/kana names with Shift_JIS 0x5C trail
 * bytes, IDs, era birth dates), free-text comments that quote names, birth dates, phones and addresses, and
 * deliberately malformed rows (bad date, unknown term, missing exam id), each listed with the reason a reader
 * must give. Returns every identifier it wrote and the study UIDs, so tests can prove none survives.
 */
import type { ExportEncoding } from '../adapters/adapter.ts'
import { gregorianToEra } from '../adapters/dates.ts'
import { encodeText } from './vendor-encode.ts'
import { pick, prng, synthPatients, type SynthPatient } from './vendor-people.ts'

export type VendorLayout = 'vendor-a-csv' | 'vendor-b-xml'

export interface VendorExportOptions {
  layout: VendorLayout
  encoding?: ExportEncoding
  /** Well-formed exams (default 20). */
  exams?: number
  /** Distinct patients (default exams / 2, at least 1). */
  patients?: number
  seed?: number
  /** Add one exam of each malformed kind (default true). */
  malformed?: boolean
}

export interface GeneratedExam {
  recordId: string
  patientId: string
  studyInstanceUid: string
  findings: number
  /** YYYY-MM-DD */
  performedOn: string
}

export interface MalformedExam {
  /** The exam id written, or '' for the exam written without one. */
  recordId: string
  kind: 'bad-date' | 'unknown-term' | 'missing-exam-id'
  /** A substring the held record's reason contains. */
  reason: string
}

export interface GeneratedVendorExport {
  layout: VendorLayout
  encoding: ExportEncoding
  bytes: Uint8Array
  /** The well-formed exams, in export order. */
  exams: GeneratedExam[]
  malformed: MalformedExam[]
  /** Every patient written (identifiers to search for after de-identification). */
  patients: SynthPatient[]
  /** Staff names and ids written. */
  staff: Array<{ id: string; name: string }>
  studyUids: string[]
  /** How many held items a reader must yield: one per malformed exam, but one per ROW for an exam without an id. */
  expectedHeld: number
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

// [ja term (vendor A), vendor B code] pairs matching the shipped adapters' term maps.
const UPPER_SITES: ReadonlyArray<[string, string]> = [['胸部中部食道', 'S02'], ['胃体中部', 'S13'], ['胃角', 'S15'], ['前庭部', 'S16'], ['十二指腸球部', 'S20']]
const COLON_SITES: ReadonlyArray<[string, string]> = [['盲腸', 'C02'], ['上行結腸', 'C03'], ['横行結腸', 'C04'], ['S状結腸', 'C06'], ['直腸', 'C07']]
const FINDINGS: ReadonlyArray<[string, string]> = [['発赤', 'F01'], ['萎縮', 'F02'], ['びらん', 'F03'], ['潰瘍', 'F04'], ['ポリープ', 'F05'], ['腫瘍', 'F06']]
const DRUGS: ReadonlyArray<[string, string]> = [['アスピリン', 'AT1'], ['クロピドグレル', 'AT2'], ['ワルファリン', 'AT3'], ['エドキサバン', 'AT4']]
const STAFF: ReadonlyArray<[string, string]> = [['D0107', '能勢 健一'], ['D0212', '表 正樹'], ['D0345', '曽我 直子']]
const SCOPES = ['GIF-H290Z', 'CF-HQ290ZI', 'EG-L600ZW7']

interface Exam {
  recordId: string
  p: SynthPatient
  type: 'upper-gi' | 'colonoscopy'
  date: string
  time: string
  uid: string
  findings: Array<{ site: [string, string]; term: [string, string]; paris?: string; size?: number }>
  drugs: Array<[string, string]>
  staff: [string, string]
  scope: string
  serial: string
  comment: string
  hp: 'positive' | 'negative' | 'eradicated'
}

function eraJa(iso: string, letter: boolean): string {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number]
  const e = gregorianToEra(y, m, d)!
  if (letter) return `${e.letter}${pad(e.year)}.${pad(m)}.${pad(d)}`
  return `${e.kanji}${e.year === 1 ? '元' : e.year}年${m}月${d}日`
}

function studyUid(rnd: () => number): string {
  let s = '2.25.'
  s += String(1 + Math.floor(rnd() * 9))
  for (let i = 0; i < 30; i++) s += String(Math.floor(rnd() * 10))
  return s
}

/** A comment that quotes the patient's identifiers in the ways staff write them. */
function comment(rnd: () => number, p: SynthPatient): string {
  const [y, m, d] = p.birthDate.split('-')
  const forms = [
    `${p.kanji.replace(' ', '')}様。前回より著変なし。`,
    `${p.kana.replace(' ', '')}さん（${eraJa(p.birthDate, true)}生）、家族連絡先 ${p.phone}。`,
    `住所 ${p.address}（〒${p.postalCode}）より紹介。`,
    `Pt. ${p.romaji.toUpperCase()}, born ${y}/${+m!}/${+d!}, ID ${p.patientId}. 生検2個。`,
    `${eraJa(p.birthDate, false)}生。ピロリ除菌後。`,
    '前回より著変なし。',
    '前庭部に発赤、\n生検は施行せず。',
  ]
  return pick(rnd, forms)
}

function makeExams(o: Required<Pick<VendorExportOptions, 'exams' | 'seed'>> & { patients: number }): { exams: Exam[]; patients: SynthPatient[]; rnd: () => number } {
  const rnd = prng(o.seed)
  const patients = synthPatients(rnd, o.patients)
  const exams: Exam[] = []
  for (let i = 0; i < o.exams; i++) {
    const p = patients[i % patients.length]!
    const type = rnd() < 0.6 ? 'upper-gi' : 'colonoscopy'
    const sites = type === 'upper-gi' ? UPPER_SITES : COLON_SITES
    const n = 1 + Math.floor(rnd() * 3)
    const findings = Array.from({ length: n }, () => {
      const term = pick(rnd, FINDINGS)
      const polyp = term[1] === 'F05' || term[1] === 'F06'
      return { site: pick(rnd, sites), term, ...(polyp ? { paris: pick(rnd, ['0-IIa', '0-IIc', '0-Ip']), size: 2 + Math.floor(rnd() * 20) } : {}) }
    })
    const year = 2019 + Math.floor(rnd() * 6)
    exams.push({
      recordId: `E${year}${pad(i + 1, 6)}`,
      p,
      type,
      date: `${year}-${pad(1 + Math.floor(rnd() * 12))}-${pad(1 + Math.floor(rnd() * 28))}`,
      time: `${pad(8 + Math.floor(rnd() * 9))}:${pad(Math.floor(rnd() * 60))}`,
      uid: studyUid(rnd),
      findings,
      drugs: rnd() < 0.3 ? [pick(rnd, DRUGS)] : [],
      staff: pick(rnd, STAFF),
      scope: pick(rnd, SCOPES),
      serial: String(2000000 + Math.floor(rnd() * 999999)),
      comment: comment(rnd, p),
      hp: pick(rnd, ['positive', 'negative', 'eradicated'] as const),
    })
  }
  return { exams, patients, rnd }
}

const A_HEADER = ['検査番号', '患者ID', '患者氏名', '患者カナ', '生年月日', '性別', '検査日', '開始時刻', '検査種別', '検査目的', '鎮静', '鎮静薬', '抗血栓薬', 'ピロリ菌',
  '部位', '所見', '肉眼型', '大きさ', '個数', '所見コメント', '診断', '処置', '偶発症', '術者ID', '術者名', 'スコープ', 'スコープシリアル', 'StudyInstanceUID', 'コメント']

const csvField = (v: string): string => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v)
const slash = (iso: string): string => iso.replaceAll('-', '/')

function vendorACsv(exams: Exam[], bad: Map<string, MalformedExam['kind']>): string {
  const lines = [A_HEADER.join(',')]
  const hp = { positive: '陽性', negative: '陰性', eradicated: '除菌後' }
  for (const e of exams) {
    const kind = bad.get(e.recordId)
    e.findings.forEach((f, i) => {
      const row = [
        kind === 'missing-exam-id' ? '' : e.recordId, e.p.patientId, e.p.kanji, e.p.kana, eraJa(e.p.birthDate, false), e.p.sex === 'M' ? '男' : '女',
        kind === 'bad-date' ? '2023/13/45' : slash(e.date), e.time, e.type === 'upper-gi' ? '上部' : '下部', e.type === 'colonoscopy' ? '便潜血陽性' : '検診',
        '有', 'ミダゾラム', e.drugs.map((d) => d[0]).join('、'), hp[e.hp],
        kind === 'unknown-term' && i === 0 ? '胃体真ん中' : f.site[0], f.term[0], f.paris?.replace('0-', '') ?? '', f.size ? String(f.size) : '', f.size ? '1' : '', '',
        i === 0 ? (e.type === 'upper-gi' ? '萎縮性胃炎' : '大腸腺腫') : '', f.size ? '生検' : '', '', e.staff[0], e.staff[1], e.scope, e.serial, e.uid, i === 0 ? e.comment : '',
      ]
      lines.push(row.map(csvField).join(','))
    })
  }
  return `${lines.join('\r\n')}\r\n`
}

const xmlText = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

function vendorBXml(exams: Exam[], bad: Map<string, MalformedExam['kind']>, encoding: ExportEncoding): string {
  const hp = { positive: '1', negative: '0', eradicated: '2' }
  const decl = { 'utf-8': 'UTF-8', shift_jis: 'Shift_JIS', cp932: 'Windows-31J', 'euc-jp': 'EUC-JP', 'iso-2022-jp': 'ISO-2022-JP' }[encoding]
  const out = [`<?xml version="1.0" encoding="${decl}"?>`, '<EndoscopyExport note="designed example layout, not a real vendor format">']
  for (const e of exams) {
    const kind = bad.get(e.recordId)
    const idAttr = kind === 'missing-exam-id' ? '' : ` id="${e.recordId}"`
    out.push(`  <Exam${idAttr}>`)
    out.push(`    <Patient><Id>${e.p.patientId}</Id><Name kana="${xmlText(e.p.kana)}">${xmlText(e.p.kanji)}</Name><BirthDate>${eraJa(e.p.birthDate, true)}</BirthDate><Sex>${e.p.sex === 'M' ? 1 : 2}</Sex></Patient>`)
    out.push(`    <Date>${kind === 'bad-date' ? '20231345' : e.date.replaceAll('-', '')}</Date><Time>${e.time.replace(':', '')}</Time>`)
    out.push(`    <Type code="${e.type === 'upper-gi' ? 'EGD' : 'CS'}"/><Department>消化器内科</Department>`)
    out.push(`    <Purposes><Purpose code="${e.type === 'colonoscopy' ? 'P04' : 'P01'}"/></Purposes>`)
    out.push('    <Sedation used="1"><Drug code="D01"/></Sedation>')
    if (e.drugs.length > 0) out.push(`    <Antithrombotics>${e.drugs.map((d) => `<Drug code="${d[1]}"/>`).join('')}</Antithrombotics>`)
    out.push(`    <HPylori>${hp[e.hp]}</HPylori>`)
    out.push('    <Findings>')
    e.findings.forEach((f, i) => {
      const site = kind === 'unknown-term' && i === 0 ? 'S99' : f.site[1]
      const attrs = `site="${site}" code="${f.term[1]}"${f.paris ? ` morphology="${f.paris}" size="${f.size}" count="1"` : ''}`
      out.push(`      <Finding ${attrs}>${i === 0 && f.size ? xmlText(`${f.site[0]}に${f.size}mm大の病変`) : ''}</Finding>`)
    })
    out.push('    </Findings>')
    out.push(`    <Diagnoses><Diagnosis code="${e.type === 'upper-gi' ? 'G02' : 'K01'}"/></Diagnoses>`)
    if (e.findings.some((f) => f.size)) out.push('    <Procedures><Procedure code="T01"/></Procedures>')
    out.push(`    <Staff><Endoscopist id="${e.staff[0]}">${xmlText(e.staff[1])}</Endoscopist></Staff>`)
    out.push(`    <Scope model="${e.scope}" serial="${e.serial}"/>`)
    out.push(`    <Images studyUid="${e.uid}"/>`)
    out.push(`    <Comment>${xmlText(e.comment)}</Comment>`)
    out.push('  </Exam>')
  }
  out.push('</EndoscopyExport>')
  return `${out.join('\n')}\n`
}

const REASONS: Record<MalformedExam['kind'], string> = {
  'bad-date': "matches none of the adapter's date formats",
  'unknown-term': 'add it to the adapter\'s term map',
  'missing-exam-id': 'is empty, so the row belongs to no record',
}

/** Generates one vendor export. */
export function generateVendorExport(opts: VendorExportOptions): GeneratedVendorExport {
  const encoding = opts.encoding ?? (opts.layout === 'vendor-a-csv' ? 'shift_jis' : 'utf-8')
  const good = opts.exams ?? 20
  const withBad = opts.malformed ?? true
  const total = good + (withBad ? 3 : 0)
  const { exams, patients } = makeExams({ exams: total, seed: opts.seed ?? 1, patients: opts.patients ?? Math.max(1, Math.floor(good / 2)) })
  const bad = new Map<string, MalformedExam['kind']>()
  const malformed: MalformedExam[] = []
  if (withBad) {
    // Spread through the export (not at its end), so a reader must recover and go on.
    const kinds: MalformedExam['kind'][] = ['bad-date', 'unknown-term', 'missing-exam-id']
    kinds.forEach((kind, k) => {
      const e = exams[Math.floor(((k + 1) * total) / 4)]!
      bad.set(e.recordId, kind)
      malformed.push({ recordId: kind === 'missing-exam-id' ? '' : e.recordId, kind, reason: REASONS[kind] })
    })
  }
  const text = opts.layout === 'vendor-a-csv' ? vendorACsv(exams, bad) : vendorBXml(exams, bad, encoding)
  const wellFormed = exams.filter((e) => !bad.has(e.recordId))
  return {
    layout: opts.layout,
    encoding,
    bytes: encodeText(text, encoding),
    exams: wellFormed.map((e) => ({ recordId: e.recordId, patientId: e.p.patientId, studyInstanceUid: e.uid, findings: e.findings.length, performedOn: e.date })),
    malformed,
    patients: patients.filter((p) => exams.some((e) => e.p === p)),
    staff: STAFF.map(([id, name]) => ({ id, name })),
    studyUids: exams.map((e) => e.uid),
    expectedHeld: exams.filter((e) => bad.has(e.recordId)).reduce((n, e) => n + (bad.get(e.recordId) === 'missing-exam-id' && opts.layout === 'vendor-a-csv' ? e.findings.length : 1), 0),
  }
}
