/**
 * @module De-identified clinical records under /api: receipt from gateways (POST /records, the
 * contract in docs/upload-protocol.md), search with keyset pagination, one record with its linked
 * studies, the records of a study or a subject, and counts per site and month (the basis for
 * completeness reporting). Receipt needs `study:write` on the collection and records the site from
 * the token; reading needs `study:read`, and a record in a collection the caller cannot read
 * answers 404 exactly like a missing one.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { RECORD_KINDS, type DeidentifiedRecord } from '@kura/records'
import type { Archive } from '../archive/archive.ts'
import { AuthErrors } from '../auth/errors.ts'
import { countRecords, decodeCursor, encodeCursor, findRecord, linkedStudies, searchRecords, storeRecords, type CountDimension, type RecordSearch, type StoreOutcome } from './catalog.ts'
import { RecordErrors } from './errors.ts'
import { checkRecord } from './receipt-check.ts'
import { codesIn, COUNTS_SCHEMA, DETAIL_SCHEMA, meaningsOf, PAGE_SCHEMA, RECEIPT_SCHEMA, summaries, summaryOf, type RecordDetail } from './views.ts'

const read = { config: { permission: 'study:read' as const } }
const write = { config: { permission: 'study:write' as const } }

/** docs/upload-protocol.md: at most this many items and bytes per receipt request. */
export const MAX_ITEMS = 1000
export const MAX_BODY = 8 * 1024 * 1024
const DEFAULT_LIMIT = 50
const MAX_LIMIT = 500

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const DAY = /^\d{4}-\d{2}-\d{2}$/
const CODE_ROLES = ['finding', 'diagnosis', 'procedure', 'adverse_event', 'site', 'indication'] as const
const DIMENSIONS: CountDimension[] = ['site', 'month', 'kind', 'examType']

type SearchQuery = Partial<Record<'collection' | 'kind' | 'examType' | 'code' | 'system' | 'role' | 'diagnosis' | 'from' | 'to' | 'site' | 'subject' | 'study' | 'limit' | 'cursor', string>>

export async function recordRoutes(app: FastifyInstance, opts: { archive: Archive }) {
  const db = opts.archive.catalog.db
  // NDJSON arrives as text and is split here; JSON arrays go through Fastify's own parser.
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, { ndjson: body as string }))

  app.post<{ Querystring: { collection?: string; site?: string }; Body: unknown }>(
    '/records',
    { ...write, bodyLimit: MAX_BODY, schema: { response: { 200: RECEIPT_SCHEMA } } },
    async (req) => {
      const name = req.query.collection
      if (!name) throw RecordErrors.collectionRequired()
      req.audit.collection = name
      if (!req.access.can('study:write', name)) throw AuthErrors.forbidden(`study:write permission on collection "${name.slice(0, 64)}"`)
      const collection = await db.selectFrom('collection').select(['id', 'name']).where('name', '=', name).executeTakeFirst()
      if (!collection) throw RecordErrors.collectionNotFound(name)
      const siteId = await senderSite(db, req, name)
      const items = itemsOf(req.body)
      if (items.length > MAX_ITEMS) throw RecordErrors.tooMany(items.length, MAX_ITEMS)

      const checks = items.map(checkRecord)
      const accepted = checks.flatMap((c) => (c.ok ? [{ key: c.key!, record: c.record }] : []))
      const stored = await storeRecords(db, { collectionId: collection.id, siteId }, accepted)
      let next = 0
      const results = checks.map((c) => {
        const o: StoreOutcome = c.ok ? stored[next++]! : { status: 'rejected', reason: c.reason, reasons: c.reasons }
        return o.status === 'rejected' ? { key: c.key, status: o.status, reason: o.reason, reasons: o.reasons } : { key: c.key, status: o.status, id: o.id }
      })
      const tally = { stored: 0, duplicate: 0, rejected: 0 }
      for (const r of results) tally[r.status]++
      // Ids and paths only: a rejected record's values may be the identifiers it was refused for.
      req.audit.detail = { ...tally, storedIds: results.filter((r) => r.status === 'stored').map((r) => r.id).slice(0, 100) }
      if (tally.rejected) req.log.warn({ collection: name, rejected: results.filter((r) => r.status === 'rejected').map((r) => r.reasons?.map((e) => e.path)) }, 'clinical records rejected on receipt')
      return { results }
    },
  )

  app.get<{ Querystring: SearchQuery }>('/records', { ...read, schema: { response: { 200: PAGE_SCHEMA } } }, async (req) => {
    const q = searchOf(req.query)
    const visible = req.access.collectionsWith('study:read')
    if (req.query.collection) req.audit.collection = req.query.collection
    const { rows, next } = await searchRecords(db, { ...q, collections: visible })
    req.audit.detail = { records: rows.length, ids: rows.map((r) => r.id).slice(0, 100) }
    return { records: await summaries(db, rows), next: next ? encodeCursor(next) : null }
  })

  app.get<{ Querystring: { collection?: string; by?: string; kind?: string; from?: string; to?: string } }>('/records/counts', { ...read, schema: { response: { 200: COUNTS_SCHEMA } } }, async (req) => {
    const by = (req.query.by ?? 'site,month').split(',').map((s) => s.trim()).filter(Boolean)
    for (const d of by) if (!DIMENSIONS.includes(d as CountDimension)) throw RecordErrors.badQuery(`by=${d.slice(0, 40)}: count by any of ${DIMENSIONS.join(', ')} (comma-separated).`)
    if (req.query.kind && !RECORD_KINDS.includes(req.query.kind as never)) throw RecordErrors.badQuery(`kind must be one of ${RECORD_KINDS.join(', ')}.`)
    for (const f of ['from', 'to'] as const) if (req.query[f] && !DAY.test(req.query[f]!)) throw RecordErrors.badQuery(`${f} must be a date, YYYY-MM-DD.`)
    if (req.query.collection) req.audit.collection = req.query.collection
    const counts = await countRecords(db, { collections: req.access.collectionsWith('study:read'), collection: req.query.collection, kind: req.query.kind, from: req.query.from, to: req.query.to, by: by as CountDimension[] })
    req.audit.detail = { by, groups: counts.length }
    return { by, counts }
  })

  app.get<{ Params: { id: string } }>('/records/:id', { ...read, schema: { response: { 200: DETAIL_SCHEMA } } }, async (req): Promise<RecordDetail> => {
    const row = UUID.test(req.params.id) ? await findRecord(db, req.params.id) : undefined
    if (!row || !req.access.can('study:read', row.collection)) throw RecordErrors.notFound()
    req.audit.collection = row.collection
    req.audit.detail = { record: row.id }
    const record = JSON.parse(row.body) as DeidentifiedRecord
    const linked = await linkedStudies(db, row)
    return { ...summaryOf(row, record, linked.map((s) => s.studyInstanceUid)), meanings: meaningsOf(codesIn(record)), key: row.record_key, supersededBy: row.superseded_by, record, linkedStudies: linked }
  })

  // The records describing one study, beside its images (the study page's panel).
  app.get<{ Params: { study: string }; Querystring: { collection?: string } }>('/studies/:study/records', { ...read, schema: { response: { 200: PAGE_SCHEMA } } }, async (req) => {
    const { rows } = await searchRecords(db, { collections: req.access.collectionsWith('study:read'), collection: req.query.collection, study: req.params.study, limit: MAX_LIMIT })
    if (rows[0]) req.audit.collection = rows[0].collection
    req.audit.detail = { study: req.params.study, records: rows.length }
    return { records: await summaries(db, rows), next: null }
  })

  // A subject's records by pseudonymous id (the de-identified PatientID), across visible collections.
  app.get<{ Params: { id: string }; Querystring: { collection?: string; limit?: string; cursor?: string } }>('/subjects/:id/records', { ...read, schema: { response: { 200: PAGE_SCHEMA } } }, async (req) => {
    const q = searchOf({ collection: req.query.collection, limit: req.query.limit, cursor: req.query.cursor, subject: req.params.id })
    const { rows, next } = await searchRecords(db, { ...q, collections: req.access.collectionsWith('study:read') })
    if (rows[0]) req.audit.collection = rows[0].collection
    req.audit.detail = { subject: req.params.id, records: rows.length }
    return { records: await summaries(db, rows), next: next ? encodeCursor(next) : null }
  })
}

/**
 * The site a record is sent for: a site uploader's own (from its token; naming another is refused),
 * or, for a curator or admin, the site named in ?site= or none.
 */
async function senderSite(db: Kysely<Database>, req: FastifyRequest<{ Querystring: { site?: string } }>, collection: string): Promise<string | null> {
  const bound = req.access.siteBound('study:write', collection)
  const asked = req.query.site || null
  if (bound && asked && asked !== bound) throw RecordErrors.otherSite(asked)
  const name = bound ?? asked
  if (!name) return null
  const site = await db.selectFrom('site').select('id').where('name', '=', name).executeTakeFirst()
  if (!site) throw RecordErrors.siteNotFound(name)
  return site.id
}

/** The items of a receipt body: a JSON array, or NDJSON lines; anything else is a whole-request 400. */
function itemsOf(body: unknown): unknown[] {
  let items: unknown[]
  if (Array.isArray(body)) items = body
  else if (body && typeof body === 'object' && 'ndjson' in body && typeof (body as { ndjson: unknown }).ndjson === 'string') {
    items = []
    const lines = (body as { ndjson: string }).ndjson.split('\n')
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (!line) continue
      try {
        items.push(JSON.parse(line))
      } catch {
        throw RecordErrors.badBody(`Line ${i + 1} is not JSON.`)
      }
    }
  } else throw RecordErrors.badBody('The body is not a JSON array.')
  items.forEach((it, i) => {
    if (!it || typeof it !== 'object' || typeof (it as { key?: unknown }).key !== 'string' || typeof (it as { record?: unknown }).record !== 'object' || (it as { record?: unknown }).record === null) {
      throw RecordErrors.badBody(`Item ${i + 1} has no "key" text or no "record" object.`)
    }
  })
  return items
}

function searchOf(q: SearchQuery): Omit<RecordSearch, 'collections'> {
  if (q.kind && !RECORD_KINDS.includes(q.kind as never)) throw RecordErrors.badQuery(`kind must be one of ${RECORD_KINDS.join(', ')}.`)
  if (q.role && !CODE_ROLES.includes(q.role as never)) throw RecordErrors.badQuery(`role must be one of ${CODE_ROLES.join(', ')}.`)
  for (const f of ['from', 'to'] as const) if (q[f] && !DAY.test(q[f]!)) throw RecordErrors.badQuery(`${f} must be a date, YYYY-MM-DD.`)
  const limit = q.limit === undefined || q.limit === '' ? DEFAULT_LIMIT : Number(q.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw RecordErrors.badQuery(`limit must be a whole number from 1 to ${MAX_LIMIT}.`)
  const cursor = q.cursor ? decodeCursor(q.cursor) : undefined
  if (cursor === null) throw RecordErrors.badQuery('cursor is not one this hub gave out: pass the "next" value of the previous page unchanged.')
  const opt = (v: string | undefined) => (v ? v : undefined)
  return {
    collection: opt(q.collection),
    kind: opt(q.kind),
    examType: opt(q.examType),
    code: opt(q.code),
    system: opt(q.system),
    role: opt(q.role) as RecordSearch['role'],
    diagnosis: opt(q.diagnosis),
    from: opt(q.from),
    to: opt(q.to),
    site: opt(q.site),
    subject: opt(q.subject),
    study: opt(q.study),
    limit,
    cursor,
  }
}
