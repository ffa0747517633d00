/**
 * @module Display names of codes for exports: a code's English meaning in the vocabulary version it was chosen
 * from (what QuPath shows as the class, and COCO as the category name), loaded once per (system, version).
 */
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import type { CodeRef } from '../model.ts'
import { codeMap, findVocabulary } from '../vocabularies.ts'

export class CodeNames {
  private readonly names = new Map<string, string>()
  private readonly loaded = new Set<string>()
  constructor(private readonly db: Kysely<Database>) {}

  /** Loads the vocabularies these codes come from (call before nameOf). */
  async load(codes: Iterable<CodeRef>): Promise<void> {
    for (const c of codes) {
      if (!c.version) continue
      const v = `${c.system}\u0000${c.version}`
      if (this.loaded.has(v)) continue
      this.loaded.add(v)
      const vocabulary = await findVocabulary(this.db, c.system, c.version)
      if (!vocabulary) continue
      for (const code of (await codeMap(this.db, vocabulary.id)).values()) this.names.set(`${v}\u0000${code.code}`, code.meaningEn)
    }
  }

  /** The English meaning, or the code itself when unknown. */
  nameOf = (c: CodeRef): string => (c.version && this.names.get(`${c.system}\u0000${c.version}\u0000${c.code}`)) || c.code
}
