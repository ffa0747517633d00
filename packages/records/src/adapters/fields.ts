/**
 * @module Applying an adapter's field specs to one row: read the column(s), default, split, value map, date,
 * number and term map, then set the value at its record path (`a.b`, `images[].x`, `staff[endoscopist].id`).
 * Problems (a date that matches none of the formats, a number that is not one) become FieldErrors on the record
 * path; vendor terms missing from the term map become `LOCAL:<adapter>` codes that validation reports and the
 * unmapped-term report counts.
 */
import { CODE_LISTS, type CodeListName } from '../schema/codes/index.ts'
import type { Coded, FieldError } from '../schema/types.ts'
import type { Adapter, Column, FieldSpec } from './adapter.ts'

/** One row of an export, whatever its format. */
export interface RowView {
  get(column: Column): string | undefined
  /** XML: the child elements at a path, each a row of its own; CSV/TSV: [this row]. */
  items(each: string | undefined): RowView[]
}

/** Hears every value a term or value map was asked about, mapped or not (see unmapped.ts). */
export interface TermListener {
  seen(field: string, column: string, list: CodeListName | 'value-map', value: string, mapped: boolean): void
}

const describeColumn = (spec: FieldSpec): string =>
  spec.column !== undefined ? String(spec.column) : spec.concat ? spec.concat.join('+') : '(constant)'

const norm = (s: string): string => s.normalize('NFKC').trim()

/** The value (or list of values) a field spec gives for a row; undefined when the row has none. */
export function fieldValue(
  spec: FieldSpec, row: RowView, adapter: Adapter, path: string, errors: FieldError[], listener?: TermListener,
): unknown {
  let raw: string | undefined
  if (spec.const !== undefined) return spec.const
  if (spec.column !== undefined) raw = row.get(spec.column)
  else if (spec.concat) {
    const parts = spec.concat.map((c) => row.get(c)?.trim() ?? '').filter((p) => p !== '')
    raw = parts.length > 0 ? parts.join(spec.separator ?? ' ') : undefined
  }
  raw = raw?.trim()
  if (raw === undefined || raw === '') return spec.default
  if (spec.split) {
    const out: unknown[] = []
    for (const part of raw.split(spec.split)) {
      const p = part.trim()
      if (p !== '') out.push(convert(spec, p, adapter, path, errors, listener))
    }
    return out
  }
  return convert(spec, raw, adapter, path, errors, listener)
}

function convert(spec: FieldSpec, value: string, adapter: Adapter, path: string, errors: FieldError[], listener?: TermListener): unknown {
  const column = describeColumn(spec)
  let v: unknown = value
  if (spec.map) {
    const key = norm(value)
    const hit = Object.prototype.hasOwnProperty.call(spec.map, key) ? spec.map[key] : Object.prototype.hasOwnProperty.call(spec.map, value) ? spec.map[value] : undefined
    listener?.seen(path, column, 'value-map', key, hit !== undefined)
    if (hit !== undefined) v = hit
  }
  if (spec.date && typeof v === 'string') {
    const text = v
    const iso = spec.date.map((f) => adapter.dateParsers.get(f)!(text)).find((x) => x !== undefined)
    if (iso === undefined) {
      errors.push({ path, message: `${quoteAt(path, text)} in column ${column} matches none of the adapter's date formats (${spec.date.join(', ')}), or is not a real date` })
      return undefined
    }
    v = iso
  }
  if (spec.number && typeof v === 'string') {
    const n = Number(norm(v).replace(/mm$/i, ''))
    if (!Number.isFinite(n)) {
      errors.push({ path, message: `${quoteAt(path, v)} in column ${column} is not a number` })
      return undefined
    }
    v = n
  }
  if (spec.terms && typeof v === 'string') return coded(spec.terms, v, adapter, path, column, listener)
  return v
}

/** The value for a message; a subject's own fields are never quoted (messages reach logs and held-record lists). */
const quoteAt = (path: string, s: string): string => (/^(subject\.|recordId|staff|text)/.test(path) ? 'the value' : `'${s.length > 40 ? `${s.slice(0, 40)}…` : s}'`)

/** A vendor term through the adapter's term map; a code of the list itself is accepted as is. */
function coded(listName: CodeListName, value: string, adapter: Adapter, path: string, column: string, listener?: TermListener): Coded {
  const list = CODE_LISTS.get(listName)!
  const key = norm(value)
  const code = adapter.terms[listName]?.[key] ?? (list.terms.has(key) ? key : undefined)
  listener?.seen(path, column, listName, key, code !== undefined)
  if (code === undefined) return { system: `LOCAL:${adapter.name}`, code: key }
  return { system: list.system, code, meaning: list.terms.get(code)!.ja }
}

/** Record fields that hold lists: a single mapped value is written as a one-item list. */
const LIST_KEYS = new Set(['indication', 'drugs', 'antithrombotics', 'classification', 'diagnoses', 'procedures', 'adverseEvents', 'images', 'findings', 'staff'])

/** Sets `value` at a record path: `a.b`, `images[].x` (the list's first item), `staff[endoscopist].id` (the item with that role). */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const steps = path.split('.')
  let cur: Record<string, unknown> = target
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!
    const last = i === steps.length - 1
    const b = step.indexOf('[')
    if (b < 0) {
      if (last) cur[step] = LIST_KEYS.has(step) && !Array.isArray(value) ? [value] : value
      else cur = (cur[step] ??= {}) as Record<string, unknown>
      continue
    }
    const role = step.slice(b + 1, -1)
    const list = (cur[step.slice(0, b)] ??= []) as Array<Record<string, unknown>>
    let item = role ? list.find((x) => x.role === role) : list[0]
    if (!item) list.push((item = role ? { role } : {}))
    if (last) throw new Error(`record path ${path} ends in a list step`)
    cur = item
  }
}
