/**
 * @module Reading a vendor export through an adapter: rows are streamed (never the whole export in memory),
 * grouped into records by the record key (a record's rows must be consecutive, as exports list them), mapped,
 * validated, and yielded one by one as a record or as a held record with its reasons and raw rows. Nothing is
 * dropped: a row without a key, a key that comes back after other records, a bad date, an unmapped term each
 * hold the record (or row) with a reason that says what to fix.
 */
import { KuraError } from '@kura/core'
import { validateRecord } from '../schema/validate.ts'
import { RECORD_SCHEMA, type ClinicalRecord, type FieldError, type HeldRecord, type RecordSource } from '../schema/types.ts'
import type { Adapter, Column, ExportEncoding } from './adapter.ts'
import { delimitedRows } from './csv.ts'
import { textChunks, type ExportInput } from './decode.ts'
import { fieldValue, setPath, type RowView, type TermListener } from './fields.ts'
import { xmlElements, xmlRows, xmlValue } from './xml.ts'

export type ExportItem = { record: ClinicalRecord } | { held: HeldRecord }

export interface ReadExportOptions {
  /** Overrides the adapter's encoding (the same layout exported in another encoding). */
  encoding?: ExportEncoding
  /** The export's name for `source.ref` and messages (default: the file name, or "export"). */
  sourceName?: string
  /** Hears every term and value map lookup (unmapped-term report). */
  listener?: TermListener
}

interface Row {
  line: number
  view: RowView
  raw: string
  /** A row that could not even be parsed. */
  error?: string
}

const norm = (s: string): string => s.normalize('NFKC').trim()

function csvQuote(v: string, delimiter: string): string {
  return v.includes(delimiter) || v.includes('"') || v.includes('\n') ? `"${v.replaceAll('"', '""')}"` : v
}

/** The columns an adapter reads, for checking a header up front. */
function columnsOf(adapter: Adapter): Column[] {
  const out: Column[] = [adapter.recordKey]
  const add = (s: { column?: Column; concat?: Column[] } | undefined) => {
    if (s?.column !== undefined) out.push(s.column)
    if (s?.concat) out.push(...s.concat)
  }
  for (const s of Object.values(adapter.fields)) add(s)
  for (const r of Object.values(adapter.rows)) {
    if (r.when !== undefined) out.push(r.when)
    for (const s of Object.values(r.fields ?? {})) add(s)
    add(r.value)
  }
  return out
}

/** One CSV/TSV row; columns by header name (as written, or NFKC-folded) or 1-based number. */
class CsvRowView implements RowView {
  constructor(private readonly values: string[], private readonly header: Map<string, number> | undefined) {}
  get(c: Column): string | undefined {
    if (typeof c === 'number') return this.values[c - 1]
    const i = this.header?.get(c) ?? this.header?.get(norm(c))
    return i === undefined ? undefined : this.values[i]
  }
  items(): RowView[] {
    return [this]
  }
}

async function* csvRows(text: AsyncIterable<string>, adapter: Adapter): AsyncGenerator<Row> {
  const delimiter = adapter.format === 'tsv' ? '\t' : ','
  let header: Map<string, number> | undefined
  let width = 0
  for await (const r of delimitedRows(text, delimiter)) {
    if (adapter.header && !header) {
      header = new Map(r.values.map((v, i) => [norm(v), i]))
      width = r.values.length
      const missing = [...new Set(columnsOf(adapter))].filter((c) => typeof c === 'string' && !header!.has(norm(c)))
      if (missing.length > 0) {
        throw new KuraError('RECORDS_EXPORT_COLUMNS_MISSING', `The export's header has no column ${missing.map((m) => `"${m}"`).join(', ')} that adapter ${adapter.name} maps; check that the adapter fits this export (kura records propose-mapping drafts one).`, { status: 400 })
      }
      continue
    }
    const values = r.values
    const view = new CsvRowView(values, header)
    const row: Row = { line: r.line, view, raw: values.map((v) => csvQuote(v, delimiter)).join(delimiter) }
    if (header && values.length !== width) row.error = `line ${r.line} has ${values.length} values but the header has ${width} columns`
    yield row
  }
}

function xmlView(el: unknown): RowView {
  const view: RowView = {
    get: (c) => (typeof c === 'string' ? xmlValue(el, c) : undefined),
    items: (each) => (each ? xmlElements(el, each).map(xmlView) : [view]),
  }
  return view
}

async function* rowsOf(input: ExportInput, adapter: Adapter, encoding: ExportEncoding): AsyncGenerator<Row> {
  const text = textChunks(input, encoding)
  if (adapter.format !== 'xml') return yield* csvRows(text, adapter)
  for await (const r of xmlRows(text, adapter.rowElement!)) {
    if ('error' in r) yield { line: r.line, raw: r.raw, error: r.error, view: { get: () => undefined, items: () => [] } }
    else yield { line: r.line, raw: r.raw, view: xmlView(r.element) }
  }
}

function skeleton(adapter: Adapter, source: RecordSource): Record<string, unknown> {
  const base: Record<string, unknown> = { schema: RECORD_SCHEMA, kind: adapter.kind, recordId: '', source, subject: { patientId: '' }, performedAt: '', images: [] }
  if (adapter.kind === 'endoscopy') {
    Object.assign(base, { indication: [], sedation: { used: false, drugs: [] }, antithrombotics: [], hPylori: 'unknown', findings: [], diagnoses: [], procedures: [], adverseEvents: [], staff: [] })
  } else if (adapter.kind === 'pathology') Object.assign(base, { diagnoses: [], staff: [] })
  else if (adapter.kind === 'radiology') Object.assign(base, { staff: [] })
  return base
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** Maps one record's rows; returns the record (maybe invalid) and the mapping's own errors. */
function mapRecord(rows: Row[], adapter: Adapter, source: RecordSource, listener?: TermListener): { record: Record<string, unknown>; errors: FieldError[] } {
  const errors: FieldError[] = []
  const record = skeleton(adapter, source)
  for (const r of rows) if (r.error) errors.push({ path: `row ${r.line}`, message: r.error })
  for (const [path, spec] of Object.entries(adapter.fields)) {
    let value: unknown
    let from = 0
    for (const r of rows) {
      const v = fieldValue(spec, r.view, adapter, path, errors, value === undefined ? listener : undefined)
      if (v === undefined) continue
      if (value === undefined) { value = v; from = r.line; continue }
      if (v !== value && spec.const === undefined && !sameJson(v, value)) {
        errors.push({ path, message: `rows at lines ${from} and ${r.line} of one record disagree on column ${String(spec.column ?? spec.concat?.join('+'))}; each row of a record must repeat the same value or leave it empty` })
      }
    }
    if (value !== undefined) setPath(record, path, value)
  }
  for (const [listPath, item] of Object.entries(adapter.rows)) {
    const list: unknown[] = []
    for (const r of rows) {
      for (const view of r.view.items(item.each)) {
        if (item.when !== undefined && !view.get(item.when)?.trim()) continue
        if (item.value) {
          const v = fieldValue(item.value, view, adapter, listPath, errors, listener)
          for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) if (!list.some((y) => sameJson(x, y))) list.push(x)
          continue
        }
        const obj: Record<string, unknown> = {}
        const at = `${listPath}[${list.length}]`
        for (const [p, spec] of Object.entries(item.fields ?? {})) {
          const v = fieldValue(spec, view, adapter, `${at}.${p}`, errors, listener)
          if (v !== undefined) setPath(obj, p, v)
        }
        list.push(obj)
      }
    }
    setPath(record, listPath, list)
  }
  return { record, errors }
}

/**
 * The records of a vendor export, read through `adapter`, streamed: each is `{ record }` (valid) or `{ held }`
 * (with every reason, and the raw rows). Throws only when the export as a whole cannot be read (unknown
 * encoding, unreadable file, a header lacking the adapter's columns).
 */
export async function* readVendorExport(input: ExportInput, adapter: Adapter, opts: ReadExportOptions = {}): AsyncGenerator<ExportItem> {
  const encoding = opts.encoding ?? adapter.encoding
  const name = opts.sourceName ?? (typeof input === 'string' ? input.split('/').pop()! : 'export')
  const system = `adapter:${adapter.name}`
  const done = new Set<string>()
  let group: Row[] = []
  let key = ''

  const finish = (rows: Row[], k: string): ExportItem => {
    const first = rows[0]!.line
    const last = rows[rows.length - 1]!.line
    const source: RecordSource = { system, ref: `${name}:${first === last ? first : `${first}-${last}`}` }
    const raw = rows.map((r) => r.raw).join('\n')
    if (done.has(k)) {
      return { held: { source, raw, reasons: [{ path: 'recordId', message: `rows of record ${k} appear again at line ${first} after other records; an export must list a record's rows together` }] } }
    }
    done.add(k)
    const { record, errors } = mapRecord(rows, adapter, source, opts.listener)
    // A field the mapping already faulted is not reported again as "required" by validation.
    const faulted = errors.map((e) => e.path)
    const unique = errors.filter((e, i) => errors.findIndex((x) => x.path === e.path && x.message === e.message) === i)
    const reasons = [...unique, ...validateRecord(record).filter((e) => !faulted.some((p) => e.path === p || e.path.startsWith(`${p}.`)))]
    if (reasons.length > 0) return { held: { source, raw, reasons } }
    return { record: record as unknown as ClinicalRecord }
  }

  for await (const row of rowsOf(input, adapter, encoding)) {
    const k = row.error && adapter.format === 'xml' ? '' : row.view.get(adapter.recordKey)?.trim() ?? ''
    if (k === '') {
      if (group.length > 0) { yield finish(group, key); group = [] }
      const reason = row.error ?? `the record key column ${String(adapter.recordKey)} is empty, so the row belongs to no record; fill it in the source system and export again`
      yield { held: { source: { system, ref: `${name}:${row.line}` }, raw: row.raw, reasons: [{ path: 'recordId', message: reason }] } }
      continue
    }
    if (group.length > 0 && k !== key) {
      yield finish(group, key)
      group = []
    }
    key = k
    group.push(row)
  }
  if (group.length > 0) yield finish(group, key)
}
