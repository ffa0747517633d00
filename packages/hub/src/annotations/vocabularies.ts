/**
 * @module Vocabularies in the catalog: loading a version with its codes, reading them, the vocabularies (and code
 * level) each collection uses, resolving a label to the vocabulary version it comes from, and rolling a finer
 * code up to a coarser level through the parent links.
 *
 * A vocabulary version never changes once loaded: a corrected or newer release is a new (system, version) row, so
 * every stored label keeps pointing at the exact code list it was chosen from.
 */
import { newId } from '@kura/core'
import type { Kysely, Selectable } from 'kysely'
import type { Database } from '@kura/storage'
import { VocabularyErrors } from './errors.ts'
import type { CodeRef } from './model.ts'

export interface Vocabulary {
  id: string
  system: string
  version: string
  name: string
  nameJa: string
  licence: string
  origin: 'builtin' | 'imported'
  createdAt: string
}

export interface VocabularyCode {
  code: string
  meaningEn: string
  meaningJa: string
  parent: string | null
  /** 0 is the coarsest level (roots). */
  level: number
  status: 'active' | 'retired'
}

/** A vocabulary version as a file or an import gives it: codes in order, parents before or after children. */
export interface VocabularyContent {
  system: string
  version: string
  name: string
  nameJa?: string
  licence: string
  codes: { code: string; meaningEn: string; meaningJa?: string; parent?: string | null; status?: 'active' | 'retired' }[]
}

export interface CollectionVocabulary {
  vocabulary: Vocabulary
  /** The granularity annotators use; null: any level. */
  level: number | null
}

/** A label checked against the catalog: the code exists, is active, and comes from this vocabulary version. */
export interface ResolvedLabel {
  vocabularyId: string
  system: string
  version: string
  code: string
}

type Db = Kysely<Database>

const CHUNK = 500

function vocabularyOf(r: Selectable<Database['vocabulary']>): Vocabulary {
  return { id: r.id, system: r.system, version: r.version, name: r.name, nameJa: r.name_ja, licence: r.licence, origin: r.origin, createdAt: r.created_at }
}

function codeOf(r: Selectable<Database['vocabulary_code']>): VocabularyCode {
  return { code: r.code, meaningEn: r.meaning_en, meaningJa: r.meaning_ja, parent: r.parent_code, level: Number(r.level), status: r.status }
}

/**
 * Computes each code's level from its parent chain, and checks the content: unique codes, parents that exist, no
 * cycles. Throws VOCABULARY_BAD_FILE naming the first offending code.
 */
export function codeLevels(codes: VocabularyContent['codes']): Map<string, number> {
  const parent = new Map<string, string | null>()
  for (const c of codes) {
    if (!c.code || typeof c.code !== 'string') throw VocabularyErrors.badFile('a row has no code')
    if (parent.has(c.code)) throw VocabularyErrors.badFile(`code "${c.code.slice(0, 64)}" appears twice`)
    parent.set(c.code, c.parent || null)
  }
  const level = new Map<string, number>()
  for (const c of codes) {
    const chain: string[] = []
    let at: string | null = c.code
    while (at !== null && !level.has(at)) {
      if (chain.includes(at)) throw VocabularyErrors.badFile(`code "${at.slice(0, 64)}" is its own ancestor`)
      chain.push(at)
      const p: string | null | undefined = parent.get(at)
      if (p === undefined) throw VocabularyErrors.badFile(`parent "${at.slice(0, 64)}" of code "${chain[chain.length - 2]?.slice(0, 64)}" is not in the file`)
      at = p
    }
    let l = at === null ? -1 : level.get(at)!
    for (let i = chain.length - 1; i >= 0; i--) level.set(chain[i]!, ++l)
  }
  return level
}

/**
 * Loads one vocabulary version. Throws VOCABULARY_EXISTS when (system, version) is already there, unless
 * `ifAbsent`, which returns the existing row instead (how shipped vocabularies load at every start).
 */
export async function loadVocabulary(db: Db, content: VocabularyContent, origin: 'builtin' | 'imported', opts: { ifAbsent?: boolean } = {}): Promise<{ vocabulary: Vocabulary; created: boolean }> {
  const existing = await findVocabulary(db, content.system, content.version)
  if (existing) {
    if (opts.ifAbsent) return { vocabulary: existing, created: false }
    throw VocabularyErrors.exists(content.system, content.version)
  }
  if (!content.system?.trim() || !content.version?.trim()) throw VocabularyErrors.badRequest('A vocabulary needs a code system and a version (e.g. --system SNOMED-CT --version 2026-09).')
  if (!content.codes.length) throw VocabularyErrors.badFile('it holds no codes')
  const levels = codeLevels(content.codes)
  const row = {
    id: newId(),
    system: content.system.trim(),
    version: content.version.trim(),
    name: content.name || content.system,
    name_ja: content.nameJa ?? '',
    licence: content.licence,
    origin,
    created_at: new Date().toISOString(),
  }
  const run = async (tx: Db) => {
    await tx.insertInto('vocabulary').values(row).execute()
    for (let i = 0; i < content.codes.length; i += CHUNK) {
      await tx
        .insertInto('vocabulary_code')
        .values(
          content.codes.slice(i, i + CHUNK).map((c, j) => ({
            vocabulary_id: row.id,
            code: c.code,
            meaning_en: c.meaningEn ?? '',
            meaning_ja: c.meaningJa ?? '',
            parent_code: c.parent || null,
            level: levels.get(c.code)!,
            status: c.status ?? 'active',
            ord: i + j,
          })),
        )
        .execute()
    }
  }
  try {
    await (db.isTransaction ? run(db) : db.transaction().execute(run))
  } catch (e) {
    // Another hub process loaded the same version at the same moment.
    if (opts.ifAbsent) {
      const again = await findVocabulary(db, content.system, content.version)
      if (again) return { vocabulary: again, created: false }
    }
    throw e
  }
  return { vocabulary: vocabularyOf(row), created: true }
}

export async function findVocabulary(db: Db, system: string, version: string): Promise<Vocabulary | undefined> {
  const r = await db.selectFrom('vocabulary').selectAll().where('system', '=', system).where('version', '=', version).executeTakeFirst()
  return r && vocabularyOf(r)
}

export async function getVocabulary(db: Db, id: string): Promise<Vocabulary | undefined> {
  const r = await db.selectFrom('vocabulary').selectAll().where('id', '=', id).executeTakeFirst()
  return r && vocabularyOf(r)
}

export async function listVocabularies(db: Db): Promise<Vocabulary[]> {
  return (await db.selectFrom('vocabulary').selectAll().orderBy('system').orderBy('created_at').execute()).map(vocabularyOf)
}

/** A vocabulary's codes in file order; `level` keeps only codes of that level. */
export async function vocabularyCodes(db: Db, vocabularyId: string, opts: { level?: number; includeRetired?: boolean } = {}): Promise<VocabularyCode[]> {
  let q = db.selectFrom('vocabulary_code').selectAll().where('vocabulary_id', '=', vocabularyId).orderBy('ord')
  if (opts.level !== undefined) q = q.where('level', '=', opts.level)
  if (!opts.includeRetired) q = q.where('status', '=', 'active')
  return (await q.execute()).map(codeOf)
}

export async function collectionVocabularies(db: Db, collectionId: string): Promise<CollectionVocabulary[]> {
  const rows = await db
    .selectFrom('collection_vocabulary as cv')
    .innerJoin('vocabulary as v', 'v.id', 'cv.vocabulary_id')
    .selectAll('v')
    .select('cv.level as chosen_level')
    .where('cv.collection_id', '=', collectionId)
    .orderBy('v.system')
    .orderBy('v.created_at')
    .execute()
  return rows.map((r) => ({ vocabulary: vocabularyOf(r), level: r.chosen_level == null ? null : Number(r.chosen_level) }))
}

/** Replaces a collection's vocabulary choice. Throws VOCABULARY_NOT_FOUND for an unknown vocabulary id. */
export async function setCollectionVocabularies(db: Db, collectionId: string, choice: { vocabularyId: string; level: number | null }[]): Promise<CollectionVocabulary[]> {
  const ids = [...new Set(choice.map((c) => c.vocabularyId))]
  if (ids.length !== choice.length) throw VocabularyErrors.badRequest('Each vocabulary may be listed once.')
  if (ids.length) {
    const found = await db.selectFrom('vocabulary').select('id').where('id', 'in', ids).execute()
    if (found.length !== ids.length) throw VocabularyErrors.notFound()
  }
  const run = async (tx: Db) => {
    await tx.deleteFrom('collection_vocabulary').where('collection_id', '=', collectionId).execute()
    if (choice.length) await tx.insertInto('collection_vocabulary').values(choice.map((c) => ({ collection_id: collectionId, vocabulary_id: c.vocabularyId, level: c.level }))).execute()
  }
  await (db.isTransaction ? run(db) : db.transaction().execute(run))
  return collectionVocabularies(db, collectionId)
}

/**
 * Checks a label for an annotation or image label in a collection. When the collection has chosen vocabularies,
 * the code must come from one of them (and be at its chosen level or finer, or have nothing finer); when it has chosen none, any loaded
 * vocabulary is accepted. Without a version, the collection's version of that system is used, else the newest.
 * Retired codes are refused (labels already stored with them stay valid). Throws VOCABULARY_* errors (422).
 */
export async function resolveLabel(db: Db, collectionId: string, label: CodeRef): Promise<ResolvedLabel> {
  if (!label || typeof label.system !== 'string' || typeof label.code !== 'string' || !label.system || !label.code) {
    throw VocabularyErrors.badRequest('A label is { "system": "...", "code": "..." } (optionally "version"): a code from a vocabulary, never free text.')
  }
  const chosen = await collectionVocabularies(db, collectionId)
  let vocabulary: Vocabulary | undefined
  let level: number | null = null
  if (chosen.length) {
    const match = chosen.filter((c) => c.vocabulary.system === label.system && (!label.version || c.vocabulary.version === label.version))
    if (!match.length) {
      const known = label.version ? await findVocabulary(db, label.system, label.version) : await newestVocabulary(db, label.system)
      if (!known) throw VocabularyErrors.unknownSystem(label.system, label.version)
      throw VocabularyErrors.notEnabled(label.system)
    }
    const pick = match[match.length - 1]!
    vocabulary = pick.vocabulary
    level = pick.level
  } else {
    vocabulary = label.version ? await findVocabulary(db, label.system, label.version) : await newestVocabulary(db, label.system)
    if (!vocabulary) throw VocabularyErrors.unknownSystem(label.system, label.version)
  }
  const code = await db.selectFrom('vocabulary_code').select(['status', 'level']).where('vocabulary_id', '=', vocabulary.id).where('code', '=', label.code).executeTakeFirst()
  if (!code) throw VocabularyErrors.unknownCode(vocabulary.system, label.code)
  if (code.status !== 'active') throw VocabularyErrors.retiredCode(vocabulary.system, label.code)
  if (level !== null && Number(code.level) < level) {
    // A coarser code is too vague at this granularity, unless the hierarchy has nothing finer under it (Paris 0-III).
    const child = await db.selectFrom('vocabulary_code').select('code').where('vocabulary_id', '=', vocabulary.id).where('parent_code', '=', label.code).limit(1).executeTakeFirst()
    if (child) throw VocabularyErrors.wrongLevel(label.code, Number(code.level), level)
  }
  return { vocabularyId: vocabulary.id, system: vocabulary.system, version: vocabulary.version, code: label.code }
}

async function newestVocabulary(db: Db, system: string): Promise<Vocabulary | undefined> {
  // The last loaded; within one millisecond the later id (newId only increases within a process).
  const r = await db.selectFrom('vocabulary').selectAll().where('system', '=', system).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst()
  return r && vocabularyOf(r)
}

/**
 * The ancestor of `code` at `level` (the code itself when it is at that level or coarser): how a finer label
 * counts at a coarser granularity. Undefined for a code not in the vocabulary.
 */
export function rollUp(codes: ReadonlyMap<string, Pick<VocabularyCode, 'parent' | 'level'>>, code: string, level: number): string | undefined {
  let at = codes.get(code)
  if (!at) return undefined
  let current = code
  while (at.level > level && at.parent) {
    current = at.parent
    at = codes.get(current)
    if (!at) return undefined
  }
  return current
}

/** A vocabulary's codes keyed by code (retired ones included), for rollUp and for exporters. */
export async function codeMap(db: Db, vocabularyId: string): Promise<Map<string, VocabularyCode>> {
  return new Map((await vocabularyCodes(db, vocabularyId, { includeRetired: true })).map((c) => [c.code, c]))
}
