/**
 * @module The adapter: a declarative YAML mapping from one vendor's export layout to `kura.record/1` (never code,
 * so a site can read, review and complete it). Its parts: format (csv | tsv | xml with the repeating row element),
 * encoding, header or column positions, the record key that groups rows into one record (a finding per row),
 * field specs (column → record path, with concat, split, default, value map, date formats, number, term list),
 * per-row items (findings, procedures, ...), and term maps (vendor term → standard code, per code list).
 * `loadAdapter` checks all of it up front and names every problem.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { CODE_LISTS, type CodeListName } from '../schema/codes/index.ts'
import { RECORD_KINDS, type RecordKind } from '../schema/types.ts'
import { AdapterErrors } from './errors.ts'
import { compileDateFormat, type DateParser } from './dates.ts'

export type ExportFormat = 'csv' | 'tsv' | 'xml'
export type ExportEncoding = 'utf-8' | 'shift_jis' | 'cp932' | 'euc-jp' | 'iso-2022-jp'
export const ENCODINGS: readonly ExportEncoding[] = ['utf-8', 'shift_jis', 'cp932', 'euc-jp', 'iso-2022-jp']

/** Where a value comes from: a column name (header), a 1-based column number, or an XML child path (`Patient/Name`, `@code`). */
export type Column = string | number

/** One field's mapping, as written in YAML (a bare column is shorthand for `{ column }`). */
export interface FieldSpec {
  column?: Column
  /** Several columns joined with `separator` (default one space), e.g. date and time. */
  concat?: Column[]
  separator?: string
  /** A fixed value, whatever the row says. */
  const?: string | number | boolean
  /** Used when the column is empty. */
  default?: string | number | boolean
  /** Splits the value into a list (`、` or `;`), each item mapped on its own. */
  split?: string
  /** Value map: vendor value → the record's value (an enum word, true/false, a number). */
  map?: Record<string, string | number | boolean>
  /** Date formats tried in order: `yyyy/MM/dd`, `yyyyMMdd`, `yyyy/M/d H:mm`, `era` (令和5年4月1日, R05.04.01). */
  date?: string[]
  number?: boolean
  /** The code list this field's terms map into (`site`, `finding`, `antithrombotic`, ...): gives a Coded. */
  terms?: CodeListName
}

/** A per-row list item: an object built from `fields`, or one value from `value`. */
export interface RowItemSpec {
  /** XML: the child elements of the row element that each give one item (`Findings/Finding`); CSV/TSV: one per row. */
  each?: string
  /** Only rows where this column has a value give an item (CSV rows without a finding). */
  when?: Column
  fields?: Record<string, FieldSpec>
  value?: FieldSpec
}

export interface Adapter {
  name: string
  version: string
  kind: RecordKind
  format: ExportFormat
  encoding: ExportEncoding
  /** CSV/TSV: the first row names the columns. */
  header: boolean
  /** XML: the repeating element, one per row (the last step of a path like `Exams/Exam`). */
  rowElement?: string
  recordKey: Column
  fields: Record<string, FieldSpec>
  rows: Record<string, RowItemSpec>
  /** Term maps by code list: vendor term → code of that list. */
  terms: Partial<Record<CodeListName, Record<string, string>>>
  note?: string
  /** Compiled date parsers, per date format string. */
  readonly dateParsers: ReadonlyMap<string, DateParser>
}

const TOP_KEYS = ['adapter', 'version', 'kind', 'note', 'format', 'encoding', 'header', 'rowElement', 'recordKey', 'fields', 'rows', 'terms']
const FIELD_KEYS = ['column', 'concat', 'separator', 'const', 'default', 'split', 'map', 'date', 'number', 'terms']
const ROW_KEYS = ['each', 'when', 'fields', 'value']
const PATH = /^[A-Za-z][A-Za-z0-9]*(?:\[[a-z]*\])?(?:\.[A-Za-z][A-Za-z0-9]*(?:\[[a-z]*\])?)*$/

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isColumn = (v: unknown): v is Column => (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isInteger(v) && v >= 1)

function fieldSpec(v: unknown, at: string, problems: string[], dates: Map<string, DateParser>): FieldSpec {
  if (isColumn(v)) return { column: v }
  if (!isObj(v)) return problems.push(`${at}: expected a column or a field spec`), {}
  for (const k of Object.keys(v)) if (!FIELD_KEYS.includes(k)) problems.push(`${at}.${k}: unknown key; allowed: ${FIELD_KEYS.join(', ')}`)
  const spec = v as FieldSpec
  const sources = ['column', 'concat', 'const'].filter((k) => v[k] !== undefined)
  if (sources.length !== 1) problems.push(`${at}: give exactly one of column, concat, const`)
  if (v.column !== undefined && !isColumn(v.column)) problems.push(`${at}.column: a column name or 1-based number`)
  if (v.concat !== undefined && (!Array.isArray(v.concat) || v.concat.length < 2 || !v.concat.every(isColumn))) problems.push(`${at}.concat: a list of two or more columns`)
  if (v.split !== undefined && (typeof v.split !== 'string' || v.split === '')) problems.push(`${at}.split: a separator`)
  if (v.map !== undefined && !isObj(v.map)) problems.push(`${at}.map: vendor value → value`)
  if (v.terms !== undefined && !CODE_LISTS.has(v.terms as CodeListName)) problems.push(`${at}.terms: unknown code list "${String(v.terms)}"; one of ${[...CODE_LISTS.keys()].join(', ')}`)
  if (v.date !== undefined) {
    const list = typeof v.date === 'string' ? [v.date] : v.date
    if (!Array.isArray(list) || list.length === 0) problems.push(`${at}.date: a date format or a list of them`)
    else {
      spec.date = list as string[]
      for (const f of list) {
        try {
          if (!dates.has(String(f))) dates.set(String(f), compileDateFormat(String(f)))
        } catch (e) {
          problems.push(`${at}.date: ${(e as Error).message}`)
        }
      }
    }
  }
  return spec
}

/** Parses and checks an adapter (YAML text, or a path to a `.yaml` file). Throws RECORDS_ADAPTER_INVALID listing every problem. */
export function loadAdapter(pathOrYaml: string): Adapter {
  const isText = pathOrYaml.includes('\n') || pathOrYaml.trimStart().startsWith('adapter:')
  const where = isText ? '(given as text)' : `file ${pathOrYaml.split('/').pop()}`
  let doc: unknown
  try {
    doc = parseYaml(isText ? pathOrYaml : readFileSync(pathOrYaml, 'utf8'))
  } catch (e) {
    throw AdapterErrors.invalid(where, [`not readable YAML (${(e as Error).message.split('\n')[0]})`])
  }
  const problems: string[] = []
  if (!isObj(doc)) throw AdapterErrors.invalid(where, ['expected a YAML mapping'])
  for (const k of Object.keys(doc)) if (!TOP_KEYS.includes(k)) problems.push(`${k}: unknown key; allowed: ${TOP_KEYS.join(', ')}`)
  const name = doc.adapter
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) problems.push('adapter: a name of lower-case letters, digits and dashes')
  const kind = doc.kind
  if (!RECORD_KINDS.includes(kind as RecordKind)) problems.push(`kind: one of ${RECORD_KINDS.join(', ')}`)
  const format = doc.format
  if (!['csv', 'tsv', 'xml'].includes(format as string)) problems.push('format: csv, tsv or xml')
  const encoding = doc.encoding ?? 'utf-8'
  if (!ENCODINGS.includes(encoding as ExportEncoding)) problems.push(`encoding: one of ${ENCODINGS.join(', ')}`)
  if (format === 'xml' && (typeof doc.rowElement !== 'string' || doc.rowElement === '')) problems.push('rowElement: the repeating element of an XML export (e.g. Exams/Exam)')
  if (!isColumn(doc.recordKey)) problems.push('recordKey: the column that identifies a record (its rows share it)')
  const dates = new Map<string, DateParser>()
  const fields: Record<string, FieldSpec> = {}
  if (!isObj(doc.fields)) problems.push('fields: a mapping of record paths to field specs')
  else {
    for (const [path, spec] of Object.entries(doc.fields)) {
      if (!PATH.test(path) || path.endsWith(']')) problems.push(`fields.${path}: not a record path (a.b, list[].x, staff[role].id)`)
      fields[path] = fieldSpec(spec, `fields.${path}`, problems, dates)
    }
    if (!fields.recordId) problems.push('fields.recordId: required')
    if (!fields['subject.patientId']) problems.push('fields.subject.patientId: required')
    if (!fields.performedAt) problems.push('fields.performedAt: required')
  }
  const rows: Record<string, RowItemSpec> = {}
  if (doc.rows !== undefined) {
    if (!isObj(doc.rows)) problems.push('rows: a mapping of list paths to item specs')
    else {
      for (const [path, item] of Object.entries(doc.rows)) {
        if (!PATH.test(path) || path.includes('[')) problems.push(`rows.${path}: not the path of a list (findings, sedation.drugs)`)
        if (!isObj(item)) { problems.push(`rows.${path}: expected {fields} or {value}`); continue }
        for (const k of Object.keys(item)) if (!ROW_KEYS.includes(k)) problems.push(`rows.${path}.${k}: unknown key; allowed: ${ROW_KEYS.join(', ')}`)
        if ((item.fields === undefined) === (item.value === undefined)) problems.push(`rows.${path}: give fields or value`)
        if (format === 'xml' && item.each !== undefined && typeof item.each !== 'string') problems.push(`rows.${path}.each: a child path`)
        const spec: RowItemSpec = { each: item.each as string | undefined, when: item.when as Column | undefined }
        if (isObj(item.fields)) {
          spec.fields = {}
          for (const [p, f] of Object.entries(item.fields)) spec.fields[p] = fieldSpec(f, `rows.${path}.fields.${p}`, problems, dates)
        }
        if (item.value !== undefined) spec.value = fieldSpec(item.value, `rows.${path}.value`, problems, dates)
        rows[path] = spec
      }
    }
  }
  const terms: Adapter['terms'] = {}
  if (doc.terms !== undefined) {
    if (!isObj(doc.terms)) problems.push('terms: a mapping of code lists to term maps')
    else {
      for (const [listName, map] of Object.entries(doc.terms)) {
        const list = CODE_LISTS.get(listName as CodeListName)
        if (!list) { problems.push(`terms.${listName}: unknown code list; one of ${[...CODE_LISTS.keys()].join(', ')}`); continue }
        if (!isObj(map)) { problems.push(`terms.${listName}: vendor term → ${list.system} code`); continue }
        const out: Record<string, string> = {}
        for (const [vendor, code] of Object.entries(map)) {
          if (typeof code !== 'string' || !list.terms.has(code)) problems.push(`terms.${listName}."${vendor}": "${String(code)}" is not a code of the ${listName} list (${list.system})`)
          else out[vendor.normalize('NFKC').trim()] = code
        }
        terms[listName as CodeListName] = out
      }
    }
  }
  if (problems.length > 0) throw AdapterErrors.invalid(where, problems)
  return {
    name: name as string,
    version: String(doc.version ?? '1'),
    kind: kind as RecordKind,
    format: format as ExportFormat,
    encoding: encoding as ExportEncoding,
    header: doc.header !== false,
    rowElement: typeof doc.rowElement === 'string' ? doc.rowElement.split('/').pop() : undefined,
    recordKey: doc.recordKey as Column,
    fields,
    rows,
    terms,
    note: typeof doc.note === 'string' ? doc.note : undefined,
    dateParsers: dates,
  }
}
