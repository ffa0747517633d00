/**
 * @module The mapping proposer: from a sample of a vendor export, detect its encoding (BOM, ISO-2022 escapes,
 * valid UTF-8, else Shift_JIS/CP932 vs EUC-JP by how Japanese the decoded text looks), its format (XML, TSV or
 * CSV) and, for XML, the repeating row element; guess what each column is from its header (Japanese or English
 * names) and, failing that, from its values (dates, UIDs, kana-only names, sex codes); and write a YAML adapter
 * draft with term-map skeletons (values matched to shipped terms filled in, the rest left as comments to
 * complete). Identifying columns' values are never copied into the draft.
 */
import { stringify } from 'yaml'
import { CODE_LISTS, type CodeListName } from '../schema/codes/index.ts'
import type { ExportEncoding, ExportFormat } from './adapter.ts'
import { delimitedRows } from './csv.ts'
import { chunkDecoder } from './decode.ts'
import { AdapterErrors } from './errors.ts'
import { compileDateFormat } from './dates.ts'
import { xmlRows } from './xml.ts'

export interface ColumnGuess {
  /** Header name, 1-based column number, or XML child path. */
  column: string | number
  /** The record path proposed, or undefined when nothing fits. */
  field?: string
  /** What the guess rests on. */
  by?: 'header' | 'values'
}

export interface AdapterDraft {
  encoding: ExportEncoding
  format: ExportFormat
  rowElement?: string
  header: boolean
  columns: ColumnGuess[]
  /** The adapter YAML to review and complete. */
  yaml: string
}

/** Header names (ja/en) → target. Order matters: the more specific first. `row:` targets are per-row finding fields. */
const HEADER_RULES: Array<[RegExp, string]> = [
  [/所見(コメント|備考)|finding ?(note|comment)|^#text$|Findings\/Finding$/i, 'row:note'],
  [/診療科|department/i, 'department'],
  [/カナ|ｶﾅ|フリガナ|ふりがな|kana/i, 'subject.name.kana'],
  [/生年月日|birth|dob/i, 'subject.birthDate'],
  [/患者ID|患者番号|カルテ番号|patient ?(id|no)|^pid$|mrn|^Patient\/Id$/i, 'subject.patientId'],
  [/検査番号|検査ID|受付番号|オーダ(ー)?番号|exam ?(id|no)|accession|^@id$/i, 'recordId'],
  [/氏名|患者名|^name$|patient ?name|Patient\/Name$/i, 'subject.name.kanji'],
  [/性別|^sex$|gender|\/Sex$/i, 'subject.sex'],
  [/StudyInstanceUID|study ?uid/i, 'images[].studyInstanceUid'],
  [/検査種別|種別|exam ?type|^Type/i, 'examType'],
  [/検査日|実施日|exam ?date|^date$/i, 'date'],
  [/時刻|開始|^time$/i, 'time'],
  [/目的|indication|purpose/i, 'indication'],
  [/鎮静薬|sedative|Sedation\/Drug/i, 'sedation.drugs'],
  [/鎮静|sedation/i, 'sedation.used'],
  [/抗血栓|抗凝固|antithrombotic|anticoag/i, 'antithrombotics'],
  [/ピロリ|pylori/i, 'hPylori'],
  [/部位|^site$|location|@site$/i, 'row:site'],
  [/肉眼型|分類|paris|morpholog/i, 'row:classification'],
  [/大きさ|サイズ|size/i, 'row:sizeMm'],
  [/個数|count/i, 'row:count'],
  [/所見|finding/i, 'row:term'],
  [/診断|diagnos/i, 'diagnoses'],
  [/処置|治療|procedure|treatment/i, 'procedures'],
  [/偶発症|合併症|adverse|complication/i, 'adverseEvents'],
  [/(術者|医師|endoscopist|doctor).*(ID|番号)|Endoscopist\/@id/i, 'staff[endoscopist].id'],
  [/術者|医師|endoscopist|doctor/i, 'staff[endoscopist].name'],
  [/シリアル|serial/i, 'scope.serial'],
  [/スコープ|scope|機種/i, 'scope.model'],
  [/コメント|所見文|備考|comment|remarks|report/i, 'text'],
]

/** Targets whose values are vendor terms: the draft gets a term map for them. */
const TERM_LISTS: Record<string, CodeListName> = {
  'row:site': 'site', 'row:term': 'finding', 'row:classification': 'paris', indication: 'indication', 'sedation.drugs': 'sedation',
  antithrombotics: 'antithrombotic', diagnoses: 'diagnosis', procedures: 'procedure', adverseEvents: 'adverse-event',
}
/** Targets with value maps to propose, by value as many systems write them. */
const VALUE_MAPS: Record<string, Record<string, string | boolean>> = {
  'subject.sex': { 男: 'M', 女: 'F', 男性: 'M', 女性: 'F', M: 'M', F: 'F', '1': 'M', '2': 'F' },
  examType: { 上部: 'upper-gi', 上部消化管: 'upper-gi', 下部: 'colonoscopy', 大腸: 'colonoscopy', 小腸: 'small-bowel', ERCP: 'ercp', EGD: 'upper-gi', CS: 'colonoscopy' },
  hPylori: { 陽性: 'positive', 陰性: 'negative', 除菌後: 'eradicated', 不明: 'unknown' },
  'sedation.used': { 有: true, 無: false, あり: true, なし: false, '1': true, '0': false },
}
/** Columns whose values identify a person: never copied into the draft. */
const IDENTIFYING = new Set(['recordId', 'subject.patientId', 'subject.name.kanji', 'subject.name.kana', 'subject.birthDate', 'staff[endoscopist].id', 'staff[endoscopist].name', 'scope.serial', 'text', 'row:note'])
const DATE_FORMATS = ['yyyy/MM/dd', 'yyyy/M/d', 'yyyyMMdd', 'yyyy-MM-dd', 'era']
const SPLITTERS = ['、', ';', '/', '|']

function detectEncoding(b: Uint8Array): ExportEncoding {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf-8'
  for (let i = 0; i + 1 < b.length; i++) if (b[i] === 0x1b && (b[i + 1] === 0x24 || b[i + 1] === 0x28)) return 'iso-2022-jp'
  // A sample cut mid-character is still UTF-8: allow an incomplete sequence at the very end.
  for (let cut = 0; cut < 4; cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, b.length - cut))
      return 'utf-8'
    } catch { /* not UTF-8 */ }
  }
  const score = (enc: ExportEncoding): number => {
    const d = chunkDecoder(enc)
    const s = d.write(b) + d.end()
    let good = 0
    let bad = 0
    for (const ch of s) {
      const c = ch.codePointAt(0)!
      if ((c >= 0x3040 && c <= 0x30ff) || (c >= 0x4e00 && c <= 0x9fff)) good++
      else if (c === 0xfffd || (c >= 0xff61 && c <= 0xff9f) || (c >= 0x80 && c < 0x3000)) bad++
    }
    return good - 4 * bad
  }
  if (score('euc-jp') > score('shift_jis')) return 'euc-jp'
  // NEC / IBM extension lead bytes (①, ㈱, 髙) exist in CP932 only.
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!
    if ((c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc)) {
      if (c === 0x87 || c === 0xed || c === 0xee || c >= 0xfa) return 'cp932'
      i++
    }
  }
  return 'shift_jis'
}

async function* once(s: string): AsyncGenerator<string> {
  yield s
}

function guessByHeader(name: string): string | undefined {
  return HEADER_RULES.find(([re]) => re.test(name))?.[1]
}

function guessByValues(values: string[]): string | undefined {
  const v = values.filter((x) => x.trim() !== '')
  if (v.length === 0) return undefined
  const all = (re: RegExp) => v.every((x) => re.test(x.normalize('NFKC').trim()))
  if (all(/^[0-2](\.\d+){2,}$/) && v.every((x) => x.length >= 10)) return 'images[].studyInstanceUid'
  if (all(/^(男|女|M|F)$/)) return 'subject.sex'
  if (all(/^(明治|大正|昭和|平成|令和|[MTSHR]\d)/)) return 'subject.birthDate'
  if (all(/^\d{4}[\/-]\d{1,2}[\/-]\d{1,2}$/)) return 'date'
  if (all(/^\d{1,2}:\d{2}$/)) return 'time'
  if (all(/^[\u30a0-\u30ff\s]+$/)) return 'subject.name.kana'
  if (all(/^[\u4e00-\u9fff々]{1,4}[\s\u3000][\u4e00-\u9fff々\u3040-\u309f]{1,4}$/)) return 'subject.name.kanji'
  // An exam number repeats on consecutive rows (a finding per row) and mixes letters and digits; a patient ID is digits.
  if (all(/^[A-Z]{1,3}-?\d{4,}$/)) return 'recordId'
  if (all(/^\d{6,10}$/)) return 'subject.patientId'
  return undefined
}

function dateFormatsFor(values: string[]): string[] {
  const v = values.filter((x) => x.trim() !== '')
  const ok = DATE_FORMATS.filter((f) => { const p = compileDateFormat(f); return v.every((x) => p(x) !== undefined) })
  return ok.length > 0 ? ok : ['yyyy/M/d']
}

function splitterFor(values: string[]): string | undefined {
  return SPLITTERS.find((s) => values.some((v) => v.includes(s)))
}

/** What shipped term a vendor value most likely is (its code, English or Japanese term, NFKC-equal). */
function termFor(list: CodeListName, value: string): string | undefined {
  const v = value.normalize('NFKC').trim().toLowerCase()
  for (const t of CODE_LISTS.get(list)!.terms.values()) {
    // Paris types are often written without the "0-" of type 0 (superficial): IIa for 0-IIa.
    if ([t.code, t.en, t.ja].some((x) => x.normalize('NFKC').toLowerCase() === v) || (list === 'paris' && t.code.toLowerCase() === `0-${v}`)) return t.code
  }
  return undefined
}

interface Sampled {
  column: string | number
  values: string[]
}

/** Proposes an adapter for the export `sample` (its first few hundred KiB is plenty). */
export async function proposeMapping(sample: Uint8Array, name = 'site-export'): Promise<AdapterDraft> {
  const encoding = detectEncoding(sample)
  const d = chunkDecoder(encoding)
  let text = d.write(sample) + d.end()
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const head = text.trimStart()
  if (head === '') throw AdapterErrors.notAnExport('it is empty')
  let format: ExportFormat
  let rowElement: string | undefined
  let columns: Sampled[] = []
  let header = true
  let multiRow = false
  let eachPaths = new Map<string, string>()

  if (head.startsWith('<')) {
    format = 'xml'
    rowElement = repeatingElement(head)
    if (!rowElement) throw AdapterErrors.notAnExport('no repeating element was found under the XML root')
    const paths = new Map<string, string[]>()
    for await (const r of xmlRows(once(head), rowElement)) {
      if ('error' in r) continue
      leafPaths(r.element, '', paths, eachPaths)
    }
    columns = [...paths].map(([column, values]) => ({ column, values }))
  } else {
    const first = head.split('\n', 1)[0]!
    format = (first.match(/\t/g)?.length ?? 0) > (first.match(/,/g)?.length ?? 0) ? 'tsv' : 'csv'
    const rows: string[][] = []
    for await (const r of delimitedRows(once(head), format === 'tsv' ? '\t' : ',')) {
      rows.push(r.values)
      if (rows.length > 500) break
    }
    // The last row of a cut sample may be partial.
    if (rows.length > 2 && rows[rows.length - 1]!.length !== rows[0]!.length) rows.pop()
    if (rows.length === 0) throw AdapterErrors.notAnExport('no rows')
    const names = rows[0]!
    header = names.every((n) => n.trim() !== '' && !/^\d+([./-]\d+)*$/.test(n.trim())) && new Set(names).size === names.length
    const body = header ? rows.slice(1) : rows
    columns = names.map((n, i) => ({ column: header ? n.trim() : i + 1, values: body.map((r) => r[i] ?? '') }))
  }

  const guesses: ColumnGuess[] = []
  const taken = new Set<string>()
  for (const c of columns) {
    let field = typeof c.column === 'string' ? guessByHeader(c.column) : undefined
    let by: ColumnGuess['by'] = field ? 'header' : undefined
    if (!field || taken.has(field)) {
      field = guessByValues(c.values)
      by = field ? 'values' : undefined
    }
    if (field && taken.has(field)) field = undefined
    if (field) taken.add(field)
    guesses.push({ column: c.column, field, by: field ? by : undefined })
  }
  const byField = new Map(guesses.filter((g) => g.field).map((g) => [g.field!, columns.find((c) => c.column === g.column)!]))
  const idCol = byField.get('recordId')
  if (format !== 'xml' && idCol) {
    for (let i = 1; i < idCol.values.length; i++) if (idCol.values[i] !== '' && idCol.values[i] === idCol.values[i - 1]) multiRow = true
  }

  const doc: Record<string, unknown> = {
    adapter: name,
    version: '1',
    kind: 'endoscopy',
    note: 'Drafted by kura records propose-mapping: review every column and complete the term maps.',
    format,
    encoding,
  }
  if (format === 'xml') doc.rowElement = rowElement
  else doc.header = header
  doc.recordKey = idCol?.column ?? (format === 'xml' ? '@id' : 1)
  const fields: Record<string, unknown> = {}
  const rows: Record<string, unknown> = {}
  const findingFields: Record<string, unknown> = {}
  const termValues = new Map<CodeListName, Map<string, number>>()
  const specFor = (target: string, col: Sampled): Record<string, unknown> | string | number => {
    const values = col.values.filter((v) => v.trim() !== '')
    const list = TERM_LISTS[target]
    if (list) {
      const split = target.startsWith('row:') && target !== 'row:classification' ? undefined : splitterFor(values)
      const seen = termValues.get(list) ?? new Map<string, number>()
      for (const v of values) for (const x of split ? v.split(split) : [v]) if (x.trim()) seen.set(x.trim(), (seen.get(x.trim()) ?? 0) + 1)
      termValues.set(list, seen)
      return { column: col.column, ...(split ? { split } : {}), terms: list }
    }
    if (target === 'subject.birthDate') return { column: col.column, date: dateFormatsFor(values) }
    if (target === 'row:sizeMm' || target === 'row:count') return { column: col.column, number: true }
    const vm = VALUE_MAPS[target]
    if (vm) {
      const map: Record<string, string | boolean> = {}
      for (const v of new Set(values.map((x) => x.normalize('NFKC').trim()))) if (vm[v] !== undefined) map[v] = vm[v]
      return { column: col.column, map }
    }
    return col.column
  }
  for (const g of guesses) {
    if (!g.field || g.field === 'date' || g.field === 'time') continue
    const col = columns.find((c) => c.column === g.column)!
    if (g.field.startsWith('row:')) {
      findingFields[g.field.slice(4)] = specFor(g.field, col)
      continue
    }
    // Several rows per record: lists are gathered from every row (repeated values once), not read from the first.
    if (multiRow && TERM_LISTS[g.field]) {
      rows[g.field] = { value: specFor(g.field, col) }
      continue
    }
    // XML lists: each element on the path is one item, whether the sample repeats it or not.
    if (format === 'xml' && TERM_LISTS[g.field]) {
      const [each, leaf] = eachPaths.has(String(g.column)) ? splitEach(String(g.column), eachPaths) : elementAndLeaf(String(g.column))
      rows[g.field] = { each, value: { ...(specFor(g.field, { column: leaf, values: col.values }) as object) } }
      continue
    }
    fields[g.field] = specFor(g.field, col)
  }
  const date = byField.get('date')
  const time = byField.get('time')
  if (date) {
    const fmts = dateFormatsFor(date.values)
    const t = time?.values.filter((v) => v.trim() !== '') ?? []
    const tf = t.length > 0 && t.every((v) => /^\d{4}$/.test(v.trim())) ? 'HHmm' : 'H:mm'
    fields.performedAt = time ? { concat: [date.column, time.column], date: [...fmts.filter((f) => f !== 'era').map((f) => `${f} ${tf}`), ...fmts] } : { column: date.column, date: fmts }
  }
  if (Object.keys(findingFields).length > 0) {
    const eachOf = format === 'xml' ? [...eachPaths.values()][0] : undefined
    const siteCol = (findingFields.site as { column?: string | number } | undefined)?.column
    rows.findings = { ...(eachOf ? { each: eachOf } : {}), ...(format !== 'xml' && siteCol !== undefined ? { when: siteCol } : {}), fields: findingFields }
    const relative = (c: string | number): string => String(c).slice(eachOf!.length + 1) || '#text'
    if (eachOf) {
      for (const [k, f] of Object.entries(findingFields)) {
        if (typeof f === 'object' && f) (f as { column: string }).column = relative((f as { column: string }).column)
        else findingFields[k] = relative(f as string)
      }
    }
  }
  doc.fields = fields
  if (Object.keys(rows).length > 0) doc.rows = rows
  const terms: Record<string, Record<string, string>> = {}
  const todo: string[] = []
  for (const [list, seen] of termValues) {
    const map: Record<string, string> = {}
    for (const [v, n] of [...seen].sort((a, b) => b[1] - a[1]).slice(0, 200)) {
      const code = termFor(list, v)
      if (code) map[v] = code
      else todo.push(`#   ${list}: "${v}" (seen ${n}×) → ?`)
    }
    terms[list] = map
  }
  doc.terms = terms
  const lines = [
    `# Adapter draft proposed from a sample (${encoding}, ${format}${multiRow ? ', several rows per record' : ''}).`,
    '# Check every field; columns left unmapped are listed at the end. This is a draft, not a tested mapping:',
    '# run `kura records check --adapter THIS.yaml EXPORT` and complete the term maps it reports.',
    stringify(doc, { lineWidth: 0 }).trimEnd(),
  ]
  const unmapped = guesses.filter((g) => !g.field).map((g) => `#   ${g.column}`)
  if (unmapped.length > 0) lines.push('# Columns not mapped (map them or leave them out):', ...unmapped)
  if (todo.length > 0) lines.push('# Terms seen with no shipped equivalent (add them under terms: with a code):', ...todo)
  void IDENTIFYING
  return { encoding, format, rowElement, header, columns: guesses, yaml: `${lines.join('\n')}\n` }
}

/** The element repeated directly under the root (the export's row element). */
function repeatingElement(xml: string): string | undefined {
  let depth = 0
  const counts = new Map<string, number>()
  for (const m of xml.matchAll(/<(\/?)([A-Za-z_][\w.-]*)[^>]*?(\/?)>|<[!?][^>]*>/g)) {
    if (!m[2]) continue
    if (m[1]) { depth--; continue }
    if (depth === 1) counts.set(m[2], (counts.get(m[2]) ?? 0) + 1)
    if (!m[3]) depth++
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0]
}

/** Leaf value paths of one row element (`Patient/Id`, `@id`, `Findings/Finding/@site`), with sample values; repeated children noted in `each`. */
function leafPaths(el: unknown, prefix: string, out: Map<string, string[]>, each: Map<string, string>, repeated?: string): void {
  if (typeof el !== 'object' || el === null) {
    const list = out.get(prefix) ?? []
    list.push(String(el))
    out.set(prefix, list)
    if (repeated) each.set(prefix, repeated)
    return
  }
  if (Array.isArray(el)) {
    for (const x of el) leafPaths(x, prefix, out, each, repeated ?? prefix)
    return
  }
  for (const [k, v] of Object.entries(el)) {
    // An element's own text is read at the element's path (xmlValue returns #text there).
    const p = k === '#text' ? prefix || '#text' : prefix ? `${prefix}/${k}` : k
    leafPaths(v, p, out, each, repeated ?? (Array.isArray(v) ? p : undefined))
  }
}

/** `Sedation/Drug/@code` → the element `Sedation/Drug` and its leaf `@code` (`#text` for the element's own text). */
function elementAndLeaf(path: string): [string, string] {
  const steps = path.split('/')
  return steps[steps.length - 1]!.startsWith('@') ? [steps.slice(0, -1).join('/'), steps[steps.length - 1]!] : [path, '#text']
}

/** A path under a repeated element split into the element path and the leaf relative to it. */
function splitEach(path: string, each: Map<string, string>): [string, string] {
  const e = each.get(path)!
  return [e, path.slice(e.length + 1)]
}
