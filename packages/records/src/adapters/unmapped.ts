/**
 * @module The unmapped-term report: for every mapped field, the values an export holds that its term map or value
 * map does not translate, with how often each occurs, so a site can complete its adapter before (or after) the
 * first real import. Values are the vendor's own terms; the report stays on the gateway's machine.
 */
import type { CodeListName } from '../schema/codes/index.ts'
import type { Adapter, ExportEncoding } from './adapter.ts'
import type { ExportInput } from './decode.ts'
import type { TermListener } from './fields.ts'
import { readVendorExport, type ExportItem } from './read-export.ts'

export interface UnmappedTerm {
  /** The record path the term maps to, with list indexes removed: `findings[].site`. */
  field: string
  /** The export column it came from. */
  column: string
  /** The code list the term should map into, or `value-map` for enum fields (sex, exam type). */
  list: CodeListName | 'value-map'
  value: string
  count: number
}

/** A TermListener that counts what no map translated. */
export class UnmappedTermCounter implements TermListener {
  readonly #counts = new Map<string, UnmappedTerm>()
  /** How many lookups there were in all (mapped or not). */
  lookups = 0

  seen(field: string, column: string, list: CodeListName | 'value-map', value: string, mapped: boolean): void {
    this.lookups++
    if (mapped) return
    const f = field.replace(/\[\d+\]/g, '[]')
    const k = `${f}\0${list}\0${value}`
    const hit = this.#counts.get(k)
    if (hit) hit.count++
    else this.#counts.set(k, { field: f, column, list, value, count: 1 })
  }

  /** The unmapped terms, most frequent first. */
  terms(): UnmappedTerm[] {
    return [...this.#counts.values()].sort((a, b) => b.count - a.count || a.field.localeCompare(b.field) || a.value.localeCompare(b.value))
  }
}

export interface ExportCheck {
  records: number
  held: ExportItem[]
  unmapped: UnmappedTerm[]
}

/** Reads a whole export once: counts records, keeps the held ones, and reports the unmapped terms. */
export async function checkExport(input: ExportInput, adapter: Adapter, opts: { encoding?: ExportEncoding; sourceName?: string; maxHeld?: number } = {}): Promise<ExportCheck & { heldCount: number }> {
  const counter = new UnmappedTermCounter()
  let records = 0
  let heldCount = 0
  const held: ExportItem[] = []
  for await (const item of readVendorExport(input, adapter, { ...opts, listener: counter })) {
    if ('record' in item) records++
    else {
      heldCount++
      if (held.length < (opts.maxHeld ?? 1000)) held.push(item)
    }
  }
  return { records, held, heldCount, unmapped: counter.terms() }
}

/** The unmapped terms of an export, most frequent first. */
export async function unmappedTerms(input: ExportInput, adapter: Adapter, opts: { encoding?: ExportEncoding } = {}): Promise<UnmappedTerm[]> {
  return (await checkExport(input, adapter, { ...opts, maxHeld: 0 })).unmapped
}
