/**
 * @module Clinical records in the catalog: storing a checked record with its search index (coded
 * terms, linked studies) and its versions, searching with keyset pagination, and counting per site
 * and month. Plain functions over Kysely; the HTTP layer (routes.ts) decides who may see what and
 * hands the visible collections in.
 */
import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely'
import { newId } from '@kura/core'
import type { Database } from '@kura/storage'
import type { Coded, DeidentifiedRecord, FieldError } from '@kura/records'

type Row = Selectable<Database['clinical_record']>
type CodeRole = Database['clinical_record_code']['role']

/** What search, linking and counting read, derived once on receipt. */
export interface RecordIndex {
  examType: string | null
  codes: { role: CodeRole; system: string; code: string }[]
  studies: string[]
}

export function indexOf(r: DeidentifiedRecord): RecordIndex {
  const codes = new Map<string, { role: CodeRole; system: string; code: string }>()
  const add = (role: CodeRole, c: Coded | undefined) => {
    if (c) codes.set(`${role}\u0000${c.system}\u0000${c.code}`, { role, system: c.system, code: c.code })
  }
  let examType: string | null = null
  switch (r.kind) {
    case 'endoscopy':
      examType = r.examType
      for (const f of r.findings) {
        add('finding', f.term)
        add('site', f.site)
        for (const c of f.classification ?? []) add('finding', c)
      }
      for (const c of r.indication ?? []) add('indication', c)
      for (const c of r.diagnoses) add('diagnosis', c)
      for (const c of r.procedures) add('procedure', c)
      for (const c of r.adverseEvents) add('adverse_event', c)
      break
    case 'pathology':
      add('site', r.specimen.site)
      for (const c of r.diagnoses) add('diagnosis', c)
      break
    case 'radiology':
      examType = r.modality
      add('site', r.bodyPart)
      break
  }
  return { examType, codes: [...codes.values()], studies: [...new Set(r.images.map((i) => i.studyInstanceUid))] }
}

export type StoreOutcome = { status: 'stored' | 'duplicate'; id: string } | { status: 'rejected'; reason: string; reasons: FieldError[] }

export interface StoreContext {
  collectionId: string
  /** The sender's site (a site uploader's), or null for a curator or admin. */
  siteId: string | null
}

/**
 * Stores checked records in one transaction, in order: a key already held in the collection is a
 * duplicate (also within the batch); a new version of a record supersedes the current one. A
 * record's identity is its source system, kind, record id, subject and site: exam numbers are
 * unique within one hospital system only, so the same number from another site, or about another
 * subject, is another record, never a version of this one (a curator's correction, sent without a
 * site, replaces the record of whichever site sent it). A site may not link a record to a study
 * another site sent. What the batch needs to know is read in three queries up front.
 */
export async function storeRecords(db: Kysely<Database>, ctx: StoreContext, items: { key: string; record: DeidentifiedRecord }[]): Promise<StoreOutcome[]> {
  if (!items.length) return []
  return db.transaction().execute(async (trx) => {
    const known = await knownFor(trx, ctx, items)
    const out: StoreOutcome[] = []
    for (const item of items) out.push(await storeOne(trx, ctx, known, item.key, item.record))
    // The index rows of the whole batch in a few statements (chunks stay under PostgreSQL's 65,535 parameters).
    for (let i = 0; i < known.codeRows.length; i += 5000) await trx.insertInto('clinical_record_code').values(known.codeRows.slice(i, i + 5000)).execute()
    for (let i = 0; i < known.studyRows.length; i += 10000) await trx.insertInto('clinical_record_study').values(known.studyRows.slice(i, i + 10000)).execute()
    return out
  })
}

interface Known {
  /** record_key → id, of the collection's records (updated as the batch is stored). */
  held: Map<string, string>
  /** identity (without the site) → current versions, with their sites. */
  current: Map<string, { id: string; site_id: string | null }[]>
  /** Study Instance UID → the site that sent it. */
  claims: Map<string, string>
  /** Index rows of the records stored so far, written after the batch's records. */
  codeRows: Insertable<Database['clinical_record_code']>[]
  studyRows: Insertable<Database['clinical_record_study']>[]
}

const identityOf = (system: string, kind: string, recordId: string, subject: string) => `${system}\u0000${kind}\u0000${recordId}\u0000${subject}`

async function knownFor(trx: Transaction<Database>, ctx: StoreContext, items: { key: string; record: DeidentifiedRecord }[]): Promise<Known> {
  const keys = [...new Set(items.map((i) => i.key))]
  const recordIds = [...new Set(items.map((i) => i.record.recordId))]
  const uids = [...new Set(items.flatMap((i) => i.record.images.map((im) => im.studyInstanceUid)))]
  const held = await trx.selectFrom('clinical_record').select(['id', 'record_key']).where('collection_id', '=', ctx.collectionId).where('record_key', 'in', keys).execute()
  const current = await trx
    .selectFrom('clinical_record')
    .select(['id', 'site_id', 'source_system', 'kind', 'source_record_id', 'subject_id'])
    .where('collection_id', '=', ctx.collectionId)
    .where('source_record_id', 'in', recordIds)
    .where('superseded_by', 'is', null)
    .execute()
  const claims = uids.length ? await trx.selectFrom('study_site').select(['study_instance_uid', 'site_id']).where('study_instance_uid', 'in', uids).execute() : []
  const known: Known = { held: new Map(held.map((h) => [h.record_key, h.id])), current: new Map(), claims: new Map(claims.map((c) => [c.study_instance_uid, c.site_id])), codeRows: [], studyRows: [] }
  for (const c of current) {
    const k = identityOf(c.source_system, c.kind, c.source_record_id, c.subject_id)
    known.current.set(k, [...(known.current.get(k) ?? []), { id: c.id, site_id: c.site_id }])
  }
  return known
}

async function storeOne(trx: Transaction<Database>, ctx: StoreContext, known: Known, key: string, record: DeidentifiedRecord): Promise<StoreOutcome> {
  const held = known.held.get(key)
  if (held) return { status: 'duplicate', id: held }
  const identity = identityOf(record.source.system, record.kind, record.recordId, record.subject.id)
  const versions = known.current.get(identity) ?? []
  const current = ctx.siteId ? versions.filter((c) => c.site_id === ctx.siteId) : versions
  const index = indexOf(record)
  if (ctx.siteId) {
    const foreign = index.studies.find((uid) => known.claims.has(uid) && known.claims.get(uid) !== ctx.siteId)
    if (foreign) return rejected(`record.images[${record.images.findIndex((i) => i.studyInstanceUid === foreign)}].studyInstanceUid`, 'other-site: the study was sent by another site; a site links records to its own studies only')
  }
  const id = newId()
  const siteId = ctx.siteId ?? current[0]?.site_id ?? null
  const inserted = await trx
    .insertInto('clinical_record')
    .values({
      id,
      collection_id: ctx.collectionId,
      // A curator's new version keeps the site the record came from.
      site_id: siteId,
      record_key: key,
      source_system: record.source.system,
      kind: record.kind,
      source_record_id: record.recordId,
      superseded_by: null,
      schema: record.schema,
      subject_id: record.subject.id,
      performed_at: record.performedAt,
      exam_type: index.examType,
      body: JSON.stringify(record),
      received_at: new Date().toISOString(),
    })
    .onConflict((oc) => oc.columns(['collection_id', 'record_key']).doNothing())
    .executeTakeFirst()
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
    // Another request stored the same key between our lookup and insert (PostgreSQL): a duplicate.
    const winner = await trx.selectFrom('clinical_record').select('id').where('collection_id', '=', ctx.collectionId).where('record_key', '=', key).executeTakeFirstOrThrow()
    known.held.set(key, winner.id)
    return { status: 'duplicate', id: winner.id }
  }
  for (const c of index.codes) known.codeRows.push({ record_id: id, ...c })
  for (const uid of index.studies) known.studyRows.push({ record_id: id, study_instance_uid: uid })
  if (current.length) await trx.updateTable('clinical_record').set({ superseded_by: id }).where('id', 'in', current.map((c) => c.id)).execute()
  known.held.set(key, id)
  known.current.set(identity, [...versions.filter((v) => !current.includes(v)), { id, site_id: siteId }])
  return { status: 'stored', id }
}

function rejected(path: string, message: string): StoreOutcome {
  return { status: 'rejected', reason: `${path}: ${message}`, reasons: [{ path, message }] }
}

/** Search criteria; every one given must hold. `collections` is what the caller may read. */
export interface RecordSearch {
  collections: 'all' | string[]
  collection?: string
  kind?: string
  examType?: string
  /** Any coded term of the record (finding, site, diagnosis, ...), narrowed by `system` and `role` when given. */
  code?: string
  system?: string
  role?: CodeRole
  /** A diagnosis code (any vocabulary). */
  diagnosis?: string
  /** Performed on or after this date (`YYYY-MM-DD`). */
  from?: string
  /** Performed on or before this date (the whole day). */
  to?: string
  site?: string
  subject?: string
  study?: string
  limit: number
  cursor?: RecordCursor
}

/** Where the next page starts: results run newest first by (performed_at, id). */
export interface RecordCursor {
  performedAt: string
  id: string
}

export type RecordRow = Row & { collection: string; site: string | null }

function base(db: Kysely<Database>) {
  return db
    .selectFrom('clinical_record as r')
    .innerJoin('collection as c', 'c.id', 'r.collection_id')
    .leftJoin('site as s', 's.id', 'r.site_id')
    .selectAll('r')
    .select(['c.name as collection', 's.name as site'])
}

export async function searchRecords(db: Kysely<Database>, q: RecordSearch): Promise<{ rows: RecordRow[]; next: RecordCursor | null }> {
  let query = base(db).where('r.superseded_by', 'is', null)
  if (q.collections !== 'all') query = query.where('c.name', 'in', q.collections.length ? q.collections : [''])
  if (q.collection) query = query.where('c.name', '=', q.collection)
  if (q.kind) query = query.where('r.kind', '=', q.kind)
  if (q.examType) query = query.where('r.exam_type', '=', q.examType)
  if (q.subject) query = query.where('r.subject_id', '=', q.subject)
  if (q.site) query = query.where('s.name', '=', q.site)
  if (q.from) query = query.where('r.performed_at', '>=', q.from)
  // A date-time on the last day sorts after the bare date: compare against the end of that day.
  if (q.to) query = query.where('r.performed_at', '<=', q.to.length === 10 ? `${q.to}T99` : q.to)
  // IN (subquery), not EXISTS: both engines then read the matching ids once (a code index range)
  // and walk the result order until the page is full, instead of probing codes per record.
  if (q.code) {
    let sub = db.selectFrom('clinical_record_code as k').select('k.record_id').where('k.code', '=', q.code)
    if (q.system) sub = sub.where('k.system', '=', q.system)
    if (q.role) sub = sub.where('k.role', '=', q.role)
    query = query.where('r.id', 'in', sub)
  }
  if (q.diagnosis) query = query.where('r.id', 'in', db.selectFrom('clinical_record_code as k').select('k.record_id').where('k.code', '=', q.diagnosis).where('k.role', '=', 'diagnosis'))
  if (q.study) query = query.where('r.id', 'in', db.selectFrom('clinical_record_study as l').select('l.record_id').where('l.study_instance_uid', '=', q.study))
  if (q.cursor) {
    const { performedAt, id } = q.cursor
    query = query.where((eb) => eb.or([eb('r.performed_at', '<', performedAt), eb.and([eb('r.performed_at', '=', performedAt), eb('r.id', '<', id)])]))
  }
  const rows = await query.orderBy('r.performed_at', 'desc').orderBy('r.id', 'desc').limit(q.limit + 1).execute()
  const page = rows.slice(0, q.limit)
  const last = page[page.length - 1]
  return { rows: page, next: rows.length > q.limit && last ? { performedAt: last.performed_at, id: last.id } : null }
}

export function encodeCursor(c: RecordCursor): string {
  return Buffer.from(JSON.stringify([c.performedAt, c.id])).toString('base64url')
}

export function decodeCursor(s: string): RecordCursor | null {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { performedAt: v[0], id: v[1] }
  } catch {
    // Falls through: a cursor we did not write.
  }
  return null
}

/** The current version of one record, whatever collection it is in (the caller checks access). */
export async function findRecord(db: Kysely<Database>, id: string): Promise<RecordRow | undefined> {
  return base(db).where('r.id', '=', id).executeTakeFirst()
}

export interface LinkedStudy {
  studyInstanceUid: string
  /** Whether the study's images are in the record's collection yet (they may arrive later). */
  inArchive: boolean
  studyDate: string | null
  studyDescription: string | null
  modalities: string[]
}

/** The studies a record describes, with what the archive holds of them in the record's own collection. */
export async function linkedStudies(db: Kysely<Database>, row: Pick<Row, 'id' | 'collection_id'>): Promise<LinkedStudy[]> {
  const rows = await db
    .selectFrom('clinical_record_study as l')
    .leftJoin('study as st', (j) => j.onRef('st.study_instance_uid', '=', 'l.study_instance_uid').on('st.collection_id', '=', row.collection_id))
    .select(['l.study_instance_uid', 'st.id', 'st.study_date', 'st.study_description', 'st.modalities_in_study'])
    .where('l.record_id', '=', row.id)
    .orderBy('l.study_instance_uid')
    .execute()
  return rows.map((s) => ({
    studyInstanceUid: s.study_instance_uid,
    inArchive: s.id !== null,
    studyDate: s.study_date ?? null,
    studyDescription: s.study_description ?? null,
    modalities: s.modalities_in_study ? s.modalities_in_study.split('\\') : [],
  }))
}

export type CountDimension = 'site' | 'month' | 'kind' | 'examType'

export interface RecordCount {
  collection: string
  site?: string | null
  month?: string
  kind?: string
  examType?: string | null
  count: number
}

/** Current records per collection and the chosen dimensions (site, month of performedAt, kind, exam type). */
export async function countRecords(
  db: Kysely<Database>,
  q: { collections: 'all' | string[]; collection?: string; kind?: string; from?: string; to?: string; by: CountDimension[] },
): Promise<RecordCount[]> {
  const by = new Set(q.by)
  const month = sql<string>`substr(${sql.ref('r.performed_at')}, 1, 7)`
  let query = db
    .selectFrom('clinical_record as r')
    .innerJoin('collection as c', 'c.id', 'r.collection_id')
    .leftJoin('site as s', 's.id', 'r.site_id')
    .where('r.superseded_by', 'is', null)
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .select('c.name as collection')
    .groupBy('c.name')
  // Only the dimensions asked for are selected and grouped: any other would split the counts.
  if (by.has('site')) query = query.select('s.name as site').groupBy('s.name') as typeof query
  if (by.has('month')) query = query.select(month.as('month')).groupBy(month) as typeof query
  if (by.has('kind')) query = query.select('r.kind as kind').groupBy('r.kind') as typeof query
  if (by.has('examType')) query = query.select('r.exam_type as exam_type').groupBy('r.exam_type') as typeof query
  if (q.collections !== 'all') query = query.where('c.name', 'in', q.collections.length ? q.collections : [''])
  if (q.collection) query = query.where('c.name', '=', q.collection)
  if (q.kind) query = query.where('r.kind', '=', q.kind)
  if (q.from) query = query.where('r.performed_at', '>=', q.from)
  if (q.to) query = query.where('r.performed_at', '<=', q.to.length === 10 ? `${q.to}T99` : q.to)
  const rows = (await query.execute()) as unknown as { count: number | string; collection: string; site?: string | null; month?: string; kind?: string; exam_type?: string | null }[]
  const out = rows.map((r) => ({
    collection: r.collection,
    ...(by.has('site') ? { site: r.site ?? null } : {}),
    ...(by.has('month') ? { month: r.month! } : {}),
    ...(by.has('kind') ? { kind: r.kind! } : {}),
    ...(by.has('examType') ? { examType: r.exam_type ?? null } : {}),
    count: Number(r.count),
  }))
  const key = (r: RecordCount) => [r.collection, r.site ?? '', r.month ?? '', r.kind ?? '', r.examType ?? ''].join('\u0000')
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
}
