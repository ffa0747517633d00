/**
 * @module Reading a licensed vocabulary (SNOMED CT, ICD-O-3, MEDIS masters) from the CSV or TSV file an institution
 * supplies, and the vocabularies Kura ships as JSON in ./vocabularies/.
 *
 * Licensed masters are never shipped; each institution exports them from its own licensed copy into one table:
 * a header row, then one code per row. Columns are found by name (see COLUMN_NAMES, or map them explicitly):
 * code, meaning_en, meaning_ja, parent (one parent code; empty for a root), status (active/retired, or 1/0 as in
 * SNOMED RF2). Text is UTF-8 (a BOM is fine) or Shift_JIS (MEDIS masters often are); `auto` tries UTF-8 first.
 * Commas or tabs separate fields (`auto` picks whichever the header has more of); CSV fields may be quoted as in
 * RFC 4180, TSV fields are taken literally.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { VocabularyErrors } from './errors.ts'
import { loadVocabulary, type Vocabulary, type VocabularyContent } from './vocabularies.ts'

export type VocabularyColumn = 'code' | 'meaning_en' | 'meaning_ja' | 'parent' | 'status'
export type TextEncoding = 'auto' | 'utf-8' | 'shift_jis'

/** Header names recognised for each column (compared case-insensitively, spaces and underscores ignored). */
export const COLUMN_NAMES: Record<VocabularyColumn, string[]> = {
  code: ['code', 'conceptid', 'id', 'コード'],
  meaning_en: ['meaningen', 'meaning', 'term', 'display', 'en', 'english', 'name'],
  meaning_ja: ['meaningja', 'ja', 'japanese', 'displayja', '名称', '和名'],
  parent: ['parent', 'parentcode', 'parentid', '親コード'],
  status: ['status', 'active'],
}

export interface TableOptions {
  encoding?: TextEncoding
  delimiter?: 'auto' | ',' | '\t'
  /** Which header names hold which column, where the file's names differ from COLUMN_NAMES (e.g. code: "ConceptId"). */
  columns?: Partial<Record<VocabularyColumn, string>>
}

/** Decodes a vocabulary file's bytes. */
export function decodeText(bytes: Uint8Array, encoding: TextEncoding = 'auto'): string {
  if (encoding === 'shift_jis') return new TextDecoder('shift_jis').decode(bytes)
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    if (encoding === 'utf-8') throw VocabularyErrors.badFile('it is not valid UTF-8; give encoding shift_jis if it is Shift_JIS')
    return new TextDecoder('shift_jis').decode(bytes)
  }
}

/** Splits delimited text into rows of fields (quotes honoured for commas only). */
export function splitTable(text: string, delimiter: ',' | '\t'): string[][] {
  const rows: string[][] = []
  if (delimiter === '\t') {
    for (const line of text.split(/\r?\n/)) if (line.length) rows.push(line.split('\t'))
    return rows
  }
  let row: string[] = [], field = '', quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++ } else quoted = false
      } else field += ch
    } else if (ch === '"' && field === '') quoted = true
    else if (ch === ',') { row.push(field); field = '' }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      row.push(field); field = ''
      if (row.length > 1 || row[0] !== '') rows.push(row)
      row = []
    } else field += ch
  }
  if (quoted) throw VocabularyErrors.badFile('a quoted field is never closed')
  row.push(field)
  if (row.length > 1 || row[0] !== '') rows.push(row)
  return rows
}

const norm = (s: string) => s.trim().toLowerCase().replace(/[\s_-]/g, '')

/** Reads the codes of a CSV/TSV vocabulary file. Throws VOCABULARY_BAD_FILE saying which row or column is wrong. */
export function parseVocabularyTable(bytes: Uint8Array, opts: TableOptions = {}): VocabularyContent['codes'] {
  const text = decodeText(bytes, opts.encoding).replace(/^\uFEFF/, '')
  const firstLine = text.slice(0, text.search(/\r?\n|$/))
  const delimiter = opts.delimiter && opts.delimiter !== 'auto' ? opts.delimiter : firstLine.split('\t').length >= firstLine.split(',').length ? '\t' : ','
  const rows = splitTable(text, delimiter)
  if (rows.length < 2) throw VocabularyErrors.badFile('it needs a header row and at least one code')
  const header = rows[0]!.map(norm)
  const index = {} as Record<VocabularyColumn, number>
  for (const col of Object.keys(COLUMN_NAMES) as VocabularyColumn[]) {
    const wanted = opts.columns?.[col] ? [norm(opts.columns[col]!)] : COLUMN_NAMES[col]
    index[col] = header.findIndex((h) => wanted.includes(h))
    if (opts.columns?.[col] && index[col] < 0) throw VocabularyErrors.badFile(`no column named "${opts.columns[col]!.slice(0, 40)}" in the header`)
  }
  if (index.code < 0) throw VocabularyErrors.badFile(`no code column: name one of ${COLUMN_NAMES.code.join(', ')}, or map it (code=<header name>)`)
  if (index.meaning_en < 0 && index.meaning_ja < 0) throw VocabularyErrors.badFile('no meaning column: name one meaning_en or meaning_ja, or map them')
  const codes: VocabularyContent['codes'] = []
  for (let r = 1; r < rows.length; r++) {
    const f = rows[r]!
    const get = (c: VocabularyColumn) => (index[c] >= 0 ? (f[index[c]] ?? '').trim() : '')
    const code = get('code')
    if (!code) throw VocabularyErrors.badFile(`row ${r + 1} has no code`)
    const rawStatus = get('status').toLowerCase()
    let status: 'active' | 'retired' = 'active'
    if (['retired', 'inactive', 'deprecated', '0', 'false'].includes(rawStatus)) status = 'retired'
    else if (!['', 'active', '1', 'true'].includes(rawStatus)) throw VocabularyErrors.badFile(`row ${r + 1}: status is active or retired (or 1/0)`)
    codes.push({ code, meaningEn: get('meaning_en'), meaningJa: get('meaning_ja'), parent: get('parent') || null, status })
  }
  return codes
}

/** Parses a "code=ConceptId,meaning_en=Term" column map (CLI flag and query parameter). */
export function parseColumnMap(spec: string | undefined): Partial<Record<VocabularyColumn, string>> {
  const out: Partial<Record<VocabularyColumn, string>> = {}
  if (!spec) return out
  for (const part of spec.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim())
    if (!k || !v || !(k in COLUMN_NAMES)) throw VocabularyErrors.badRequest(`Column map entries are <column>=<header name>, column one of ${Object.keys(COLUMN_NAMES).join(', ')}; got "${part.slice(0, 40)}".`)
    out[k as VocabularyColumn] = v
  }
  return out
}

const SHIPPED_DIR = new URL('./vocabularies/', import.meta.url)

/** The vocabularies shipped with Kura (JSON files in ./vocabularies/). */
export function shippedVocabularies(): VocabularyContent[] {
  const dir = fileURLToPath(SHIPPED_DIR)
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as VocabularyContent)
}

/** Loads every shipped vocabulary version not yet in the catalog (at each hub start; a new version becomes a new row). */
export async function loadShippedVocabularies(db: Kysely<Database>): Promise<{ vocabulary: Vocabulary; created: boolean }[]> {
  const out = []
  for (const v of shippedVocabularies()) out.push(await loadVocabulary(db, v, 'builtin', { ifAbsent: true }))
  return out
}

export interface VocabularyImport {
  system: string
  version: string
  name?: string
  nameJa?: string
  licence?: string
}

/**
 * Imports a licensed vocabulary version from a CSV/TSV file's bytes (API and CLI share this). Throws
 * VOCABULARY_EXISTS when that version is already loaded, VOCABULARY_BAD_FILE for a file it cannot read.
 */
export async function importVocabularyFile(db: Kysely<Database>, bytes: Uint8Array, meta: VocabularyImport, opts: TableOptions = {}): Promise<{ vocabulary: Vocabulary; codes: number }> {
  const codes = parseVocabularyTable(bytes, opts)
  const { vocabulary } = await loadVocabulary(
    db,
    { system: meta.system, version: meta.version, name: meta.name || meta.system, nameJa: meta.nameJa ?? '', licence: meta.licence || 'Licensed; supplied by the institution. Never redistribute.', codes },
    'imported',
  )
  return { vocabulary, codes: codes.length }
}
