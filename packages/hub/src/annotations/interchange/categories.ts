/**
 * @module Export categories: the distinct codes of an export, numbered 1..N in (system, code) order so the same
 * annotations always give the same numbers (0 is background in masks). COCO category ids and mask pixel values
 * are these numbers; the manifest lists them.
 */
import type { CodeRef } from '../model.ts'

export interface Category {
  /** 1..N; the mask pixel value and the COCO category id. */
  index: number
  system: string
  code: string
  /** Display name (the code's English meaning when the caller knows it, else the code). */
  name: string
}

const key = (c: CodeRef) => `${c.system}\u0000${c.code}`

export class Categories {
  readonly list: Category[]
  private readonly byKey: Map<string, Category>

  constructor(codes: Iterable<CodeRef>, nameOf: (c: CodeRef) => string = (c) => c.code) {
    const uniq = new Map<string, CodeRef>()
    for (const c of codes) if (!uniq.has(key(c))) uniq.set(key(c), c)
    const sorted = [...uniq.values()].sort((a, b) => (a.system < b.system ? -1 : a.system > b.system ? 1 : a.code < b.code ? -1 : a.code > b.code ? 1 : 0))
    this.list = sorted.map((c, i) => ({ index: i + 1, system: c.system, code: c.code, name: nameOf(c) }))
    this.byKey = new Map(this.list.map((c) => [`${c.system}\u0000${c.code}`, c]))
  }

  indexOf(c: CodeRef): number {
    const cat = this.byKey.get(key(c))
    if (!cat) throw new Error(`code ${c.system}|${c.code} is not among the export's categories`)
    return cat.index
  }

  /** Vocabulary versions the labels were chosen from, per system, sorted (for the manifest). */
  static versions(codes: Iterable<CodeRef>): { system: string; versions: string[] }[] {
    const m = new Map<string, Set<string>>()
    for (const c of codes) {
      const s = m.get(c.system) ?? new Set<string>()
      if (c.version) s.add(c.version)
      m.set(c.system, s)
    }
    return [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([system, v]) => ({ system, versions: [...v].sort() }))
  }
}
