/**
 * @module Catalog search: QIDO-style matching (PS3.4 C.2.2.2) translated to SQL per level.
 *
 * `where` is keyed by DICOM keyword; each level can match on its own keys and those of the
 * levels above. Matching rules:
 * - single value: equality; UID list: IN; ranges (DA/TM/DT): inclusive, compared as text
 *   (the formats sort lexicographically);
 * - wildcards `*`/`?`: LIKE with every LIKE metacharacter escaped, case-sensitive;
 * - person names (PatientName, ReferringPhysicianName): case-insensitive, against each
 *   component group separately (person-name.ts), so `YAMADA*`, `山田*` and `やまだ*` all match
 *   `Yamada^Taro=山田^太郎=やまだ^たろう`; a pattern with '=' matches group by group;
 * - ModalitiesInStudy: matches when any series of the study matches.
 * Results are ordered newest study first (study date, time, then id — all indexed together),
 * then series and instance number, and paged with limit/offset; `more` says whether another
 * page exists. Conditions only ever compare a bare indexed column with a bound value, so each
 * can use its index (see the migration).
 */
import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely'
import { CatalogErrors } from '../errors.ts'
import type { Match, SearchLevel, SearchRequest } from '../types.ts'
import type { Database } from './database.ts'
import { normalizeNameGroup } from './person-name.ts'

export interface SearchRow {
  collection: string
  studyInstanceUid: string
  /** Study-level DICOM JSON as stored; every level returns it (series and instance results carry their study's attributes). */
  studyJson: string
  /** Distinct modalities of the study's series, sorted, joined by '\'. */
  modalitiesInStudy: string
  numberOfStudyRelatedSeries: number
  numberOfStudyRelatedInstances: number
  /** Series and instance levels; null at study level. */
  seriesInstanceUid: string | null
  seriesJson: string | null
  numberOfSeriesRelatedInstances: number | null
  /** Instance level only. */
  sopInstanceUid: string | null
  instanceJson: string | null
  objectKey: string | null
}

export interface SearchResult {
  rows: SearchRow[]
  /** True when rows exist beyond this page (offset + limit). */
  more: boolean
}

type FieldKind = 'text' | 'int' | 'person-name' | 'modalities'

interface Field {
  level: SearchLevel
  kind: FieldKind
  /** Column, or the three normalised name-group columns for person names. */
  columns: readonly string[]
  /** The column lives in subject, which study-level queries join only when needed. */
  subject?: true
}

const PN_GROUPS = ['alphabetic', 'ideographic', 'phonetic'] as const

const FIELDS: Record<string, Field> = {
  StudyInstanceUID: { level: 'study', kind: 'text', columns: ['st.study_instance_uid'] },
  PatientID: { level: 'study', kind: 'text', columns: ['su.patient_id'], subject: true },
  PatientName: { level: 'study', kind: 'person-name', columns: PN_GROUPS.map((g) => `su.patient_name_search_${g}`), subject: true },
  PatientBirthDate: { level: 'study', kind: 'text', columns: ['su.patient_birth_date'], subject: true },
  PatientSex: { level: 'study', kind: 'text', columns: ['su.patient_sex'], subject: true },
  StudyDate: { level: 'study', kind: 'text', columns: ['st.study_date'] },
  StudyTime: { level: 'study', kind: 'text', columns: ['st.study_time'] },
  AccessionNumber: { level: 'study', kind: 'text', columns: ['st.accession_number'] },
  StudyID: { level: 'study', kind: 'text', columns: ['st.study_id'] },
  ReferringPhysicianName: { level: 'study', kind: 'person-name', columns: PN_GROUPS.map((g) => `st.referring_physician_name_search_${g}`) },
  StudyDescription: { level: 'study', kind: 'text', columns: ['st.study_description'] },
  ModalitiesInStudy: { level: 'study', kind: 'modalities', columns: ['m.modality'] },
  SeriesInstanceUID: { level: 'series', kind: 'text', columns: ['se.series_instance_uid'] },
  Modality: { level: 'series', kind: 'text', columns: ['se.modality'] },
  SeriesNumber: { level: 'series', kind: 'int', columns: ['se.series_number'] },
  SeriesDescription: { level: 'series', kind: 'text', columns: ['se.series_description'] },
  PerformedProcedureStepStartDate: { level: 'series', kind: 'text', columns: ['se.performed_procedure_step_start_date'] },
  PerformedProcedureStepStartTime: { level: 'series', kind: 'text', columns: ['se.performed_procedure_step_start_time'] },
  SOPInstanceUID: { level: 'instance', kind: 'text', columns: ['i.sop_instance_uid'] },
  SOPClassUID: { level: 'instance', kind: 'text', columns: ['i.sop_class_uid'] },
  InstanceNumber: { level: 'instance', kind: 'int', columns: ['i.instance_number'] },
}

const DEPTH: Record<SearchLevel, number> = { study: 0, series: 1, instance: 2 }

/** The keywords `search` accepts in `where` at a level (that level's and those above it). */
export function searchableKeys(level: SearchLevel): string[] {
  return Object.entries(FIELDS)
    .filter(([, f]) => DEPTH[f.level] <= DEPTH[level])
    .map(([k]) => k)
}

/**
 * The SQL `search` runs (one row more than the page, to tell whether more exist), or null when
 * the request can match nothing. Separate so tests and benchmarks can EXPLAIN it.
 */
export async function searchQuery(db: Kysely<Database>, req: SearchRequest): Promise<RawBuilder<RawRow> | null> {
  const level = req.level
  const conditions: RawBuilder<SqlBool>[] = []
  let needSubject = false
  for (const [key, match] of Object.entries(req.where)) {
    const field = FIELDS[key]
    if (!field || DEPTH[field.level] > DEPTH[level]) throw CatalogErrors.unsupportedKey(key, level, searchableKeys(level))
    const cond = fieldCondition(key, field, match)
    if (!cond) continue // universal match: constrains nothing
    conditions.push(cond)
    if (field.subject) needSubject = true
  }

  if (req.collections) {
    // Resolve names first: a plain `collection_id = …` lets the planner walk the
    // (collection_id, study_date, …) index in result order instead of sorting a join.
    const ids = req.collections.length
      ? (await db.selectFrom('collection').select('id').where('name', 'in', req.collections).execute()).map((r) => r.id)
      : []
    if (ids.length === 0) return null
    conditions.push(ids.length === 1 ? sql<SqlBool>`st.collection_id = ${ids[0]}` : sql<SqlBool>`st.collection_id in (${sql.join(ids)})`)
  }

  const from =
    level === 'study'
      ? sql`study st`
      : level === 'series'
        ? sql`series se join study st on st.id = se.study_id`
        : sql`instance i join series se on se.id = i.series_id join study st on st.id = i.study_id`
  const subjectJoin = needSubject ? sql`join subject su on su.id = st.subject_id` : sql``
  const columns = [
    sql`c.name as collection`,
    sql`st.study_instance_uid`,
    sql`st.study_json`,
    sql`st.modalities_in_study`,
    sql`st.number_of_series`,
    sql`st.number_of_instances`,
    ...(level !== 'study' ? [sql`se.series_instance_uid`, sql`se.series_json`, sql`se.number_of_instances as series_instances`] : []),
    ...(level === 'instance' ? [sql`i.sop_instance_uid`, sql`i.instance_json`, sql`i.object_key`] : []),
  ]
  const order = [
    sql`st.study_date desc`,
    sql`st.study_time desc`,
    sql`st.id desc`,
    ...(level !== 'study' ? [sql`se.series_number is null`, sql`se.series_number`, sql`se.series_instance_uid`] : []),
    ...(level === 'instance' ? [sql`i.instance_number is null`, sql`i.instance_number`, sql`i.sop_instance_uid`] : []),
  ]
  const limit = pageLimit(req)
  const offset = Math.max(0, Math.floor(req.offset))
  const where = conditions.length ? sql`where ${sql.join(conditions, sql` and `)}` : sql``
  return sql<RawRow>`
    select ${sql.join(columns)}
    from ${from}
    join collection c on c.id = st.collection_id
    ${subjectJoin}
    ${where}
    order by ${sql.join(order)}
    limit ${limit + 1} offset ${offset}`
}

export async function search(db: Kysely<Database>, req: SearchRequest): Promise<SearchResult> {
  const query = await searchQuery(db, req)
  if (!query) return { rows: [], more: false }
  const limit = pageLimit(req)
  const result = await query.execute(db)
  const rows = result.rows.slice(0, limit).map(
    (r): SearchRow => ({
      collection: r.collection,
      studyInstanceUid: r.study_instance_uid,
      studyJson: r.study_json,
      modalitiesInStudy: r.modalities_in_study,
      numberOfStudyRelatedSeries: r.number_of_series,
      numberOfStudyRelatedInstances: r.number_of_instances,
      seriesInstanceUid: r.series_instance_uid ?? null,
      seriesJson: r.series_json ?? null,
      numberOfSeriesRelatedInstances: r.series_instances ?? null,
      sopInstanceUid: r.sop_instance_uid ?? null,
      instanceJson: r.instance_json ?? null,
      objectKey: r.object_key ?? null,
    }),
  )
  return { rows, more: result.rows.length > limit }
}

function pageLimit(req: SearchRequest): number {
  return Math.max(0, Math.floor(req.limit))
}

export interface RawRow {
  collection: string
  study_instance_uid: string
  study_json: string
  modalities_in_study: string
  number_of_series: number
  number_of_instances: number
  series_instance_uid?: string
  series_json?: string
  series_instances?: number
  sop_instance_uid?: string
  instance_json?: string
  object_key?: string
}

function fieldCondition(key: string, field: Field, match: Match): RawBuilder<SqlBool> | null {
  switch (field.kind) {
    case 'text':
      return textCondition(key, field.columns[0], match)
    case 'int':
      return intCondition(key, field.columns[0], match)
    case 'person-name':
      return personNameCondition(key, field.columns, match)
    case 'modalities': {
      const inner = textCondition(key, field.columns[0], match)
      return inner && sql<SqlBool>`exists (select 1 from series m where m.study_id = st.id and ${inner})`
    }
  }
}

function textCondition(key: string, column: string, match: Match): RawBuilder<SqlBool> | null {
  const col = sql.ref(column)
  switch (match.kind) {
    case 'single':
      return sql<SqlBool>`${col} = ${match.value}`
    case 'list':
      if (match.values.length === 0) return null
      return match.values.length === 1 ? sql<SqlBool>`${col} = ${match.values[0]}` : sql<SqlBool>`${col} in (${sql.join(match.values)})`
    case 'wildcard':
    case 'person-name':
      return patternCondition(column, match.pattern)
    case 'range':
      return rangeCondition(key, col, match.from, match.to)
  }
}

function intCondition(key: string, column: string, match: Match): RawBuilder<SqlBool> | null {
  const col = sql.ref(column)
  const int = (v: string) => {
    const n = Number(v.trim())
    if (v.trim() === '' || !Number.isSafeInteger(n)) throw CatalogErrors.invalidMatch(key, `"${v}" is not a whole number`)
    return n
  }
  switch (match.kind) {
    case 'single':
      return sql<SqlBool>`${col} = ${int(match.value)}`
    case 'list':
      if (match.values.length === 0) return null
      return sql<SqlBool>`${col} in (${sql.join(match.values.map(int))})`
    case 'range': {
      const parts: RawBuilder<SqlBool>[] = []
      if (match.from !== undefined && match.from !== '') parts.push(sql<SqlBool>`${col} >= ${int(match.from)}`)
      if (match.to !== undefined && match.to !== '') parts.push(sql<SqlBool>`${col} <= ${int(match.to)}`)
      return parts.length ? sql<SqlBool>`${sql.join(parts, sql` and `)}` : null
    }
    case 'wildcard':
    case 'person-name': {
      const pattern = match.pattern
      if (/^\*+$/.test(pattern)) return null
      if (!/[*?]/.test(pattern)) return sql<SqlBool>`${col} = ${int(pattern)}`
      throw CatalogErrors.invalidMatch(key, 'wildcards cannot be used on a number')
    }
  }
}

function rangeCondition(key: string, col: RawBuilder<unknown>, from?: string, to?: string): RawBuilder<SqlBool> | null {
  const parts: RawBuilder<SqlBool>[] = []
  if (from !== undefined && from !== '') parts.push(sql<SqlBool>`${col} >= ${from}`)
  if (to !== undefined && to !== '') parts.push(sql<SqlBool>`${col} <= ${to}`)
  if (from && to && from > to) throw CatalogErrors.invalidMatch(key, `the range starts (${from}) after it ends (${to})`)
  return parts.length ? sql<SqlBool>`(${sql.join(parts, sql` and `)})` : null
}

/** A DICOM `*`/`?` pattern on one column: equality when it has no wildcards, nothing when it is all `*`. */
function patternCondition(column: string, pattern: string): RawBuilder<SqlBool> | null {
  if (/^\*+$/.test(pattern)) return null
  const col = sql.ref(column)
  if (!/[*?]/.test(pattern)) return sql<SqlBool>`${col} = ${pattern}`
  return sql<SqlBool>`${col} like ${toLikePattern(pattern)} escape '\\'`
}

/** DICOM wildcards to LIKE, escaping LIKE's own metacharacters (and the escape character). */
export function toLikePattern(pattern: string): string {
  let out = ''
  for (const ch of pattern) {
    if (ch === '*') out += '%'
    else if (ch === '?') out += '_'
    else if (ch === '%' || ch === '_' || ch === '\\') out += '\\' + ch
    else out += ch
  }
  return out
}

function personNameCondition(key: string, groupColumns: readonly string[], match: Match): RawBuilder<SqlBool> | null {
  let patterns: string[]
  switch (match.kind) {
    case 'single':
      patterns = [match.value]
      break
    case 'wildcard':
    case 'person-name':
      patterns = match.pattern.split('\\')
      break
    case 'list':
      patterns = match.values
      break
    case 'range':
      throw CatalogErrors.invalidMatch(key, 'person names cannot be matched by range')
  }
  const alternatives: RawBuilder<SqlBool>[] = []
  for (const p of patterns) {
    const cond = onePersonName(groupColumns, p)
    if (!cond) return null // one alternative matches everything, so the whole condition does
    alternatives.push(cond)
  }
  if (alternatives.length === 0) return null
  return alternatives.length === 1 ? alternatives[0] : sql<SqlBool>`(${sql.join(alternatives, sql` or `)})`
}

function onePersonName(groupColumns: readonly string[], raw: string): RawBuilder<SqlBool> | null {
  if (raw.includes('=')) {
    // Group-by-group: Alphabetic=Ideographic=Phonetic, an empty group constrains nothing.
    const groups = raw.split('=')
    const parts: RawBuilder<SqlBool>[] = []
    for (let i = 0; i < 3; i++) {
      const g = normalizeNameGroup(groups[i] ?? '')
      const cond = g === '' ? null : patternCondition(groupColumns[i], g)
      if (cond) parts.push(cond)
    }
    return parts.length ? sql<SqlBool>`(${sql.join(parts, sql` and `)})` : null
  }
  const g = normalizeNameGroup(raw)
  if (g === '') return null
  const perGroup = groupColumns.map((c) => patternCondition(c, g))
  if (perGroup.some((c) => c === null)) return null
  return sql<SqlBool>`(${sql.join(perGroup as RawBuilder<SqlBool>[], sql` or `)})`
}
