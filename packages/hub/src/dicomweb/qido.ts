/**
 * @module QIDO-RS (PS3.18 10.6): search studies, series and instances at every level and nested.
 *
 * Query parameters become catalog `Match` conditions (PS3.4 C.2.2.2: single value, UID list,
 * `*`/`?` wildcards, ranges for dates and times, person names in any component group).
 * Results carry the attributes PS3.18 Tables 10.6.3-3/4/5 require, plus `includefield`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { keywordOf, tagOf, tagHex, vrOf, type DicomJson } from '@kura/dicom'
import { search, type Match, type SearchLevel, type SearchRequest } from '@kura/storage'
import type { Archive } from '../archive/archive.ts'
import { negotiate } from './http/accept.ts'
import { instanceUrl, serviceBase, seriesUrl, studyUrl } from './base-url.ts'
import { DicomwebErrors } from './errors.ts'

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 5000

/** Attributes each level returns by default (PS3.18 Tables 10.6.3-3, -4, -5). */
const RETURN: Record<SearchLevel, string[]> = {
  study: ['00080005', '00080020', '00080030', '00080050', '00080056', '00080061', '00080090', '00080201', '00081030', '00081190',
    '00100010', '00100020', '00100030', '00100040', '0020000D', '00200010', '00201206', '00201208'],
  series: ['00080005', '00080060', '00080201', '0008103E', '00081190', '0020000D', '0020000E', '00200011', '00201209', '00400244', '00400245', '00400275'],
  instance: ['00080005', '00080016', '00080018', '00080056', '00080201', '00081190', '0020000D', '0020000E', '00200013', '00280008', '00280010', '00280011', '00280100'],
}

/** Matching keys the catalog indexes, per level (a lower level also matches on the levels above). */
const KEYS: Record<SearchLevel, string[]> = {
  study: ['StudyInstanceUID', 'PatientID', 'PatientName', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'AccessionNumber',
    'StudyID', 'ReferringPhysicianName', 'StudyDescription', 'ModalitiesInStudy'],
  series: ['SeriesInstanceUID', 'Modality', 'SeriesNumber', 'SeriesDescription', 'PerformedProcedureStepStartDate', 'PerformedProcedureStepStartTime'],
  instance: ['SOPInstanceUID', 'SOPClassUID', 'InstanceNumber'],
}
const searchable = (level: SearchLevel): Set<string> =>
  new Set(level === 'study' ? KEYS.study : level === 'series' ? [...KEYS.study, ...KEYS.series] : [...KEYS.study, ...KEYS.series, ...KEYS.instance])
const SEARCHABLE: Record<SearchLevel, Set<string>> = { study: searchable('study'), series: searchable('series'), instance: searchable('instance') }

const RESERVED = new Set(['includefield', 'limit', 'offset', 'fuzzymatching', 'accept', 'charset', 'collection'])

export interface ParsedQuery {
  request: SearchRequest
  include: Set<string> | 'all'
  warnings: string[]
}

type Query = Record<string, string | string[] | undefined>

function toMatch(keyword: string, raw: string): Match | undefined {
  if (raw === '') return undefined // universal matching: returned, not filtered
  const vr = vrOf(tagOf(keyword)!)
  if (vr === 'PN') return { kind: 'person-name', pattern: raw }
  if (vr === 'DA' || vr === 'TM' || vr === 'DT') {
    const dash = raw.indexOf('-')
    if (dash >= 0) {
      const from = raw.slice(0, dash) || undefined
      const to = raw.slice(dash + 1) || undefined
      if (!from && !to) throw DicomwebErrors.badQuery(`${keyword}=${raw} is not a valid range: give a value on at least one side of "-".`)
      return { kind: 'range', from, to }
    }
    if (vr === 'DA' && !/^\d{8}$/.test(raw)) throw DicomwebErrors.badQuery(`${keyword}=${raw} is not a date: use YYYYMMDD or a range YYYYMMDD-YYYYMMDD.`)
  }
  if (raw.includes('\\')) return { kind: 'list', values: raw.split('\\').filter((v) => v !== '') }
  if (vr !== 'UI' && /[*?]/.test(raw)) return { kind: 'wildcard', pattern: raw }
  return { kind: 'single', value: raw }
}

/** Turns QIDO query parameters into a catalog search. Scope (study/series in the path) is added as UID matches. */
export function parseQidoQuery(level: SearchLevel, query: Query, scope: { study?: string; series?: string }): ParsedQuery {
  const where: Record<string, Match> = {}
  const warnings: string[] = []
  let include: Set<string> | 'all' = new Set()
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v)

  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (name === 'includefield') {
      for (const v of [value].flat().flatMap((s) => s.split(','))) {
        if (v === 'all') include = 'all'
        else {
          const tag = tagOf(v)
          if (tag === undefined) throw DicomwebErrors.badQuery(`includefield=${v} names no DICOM attribute: use a keyword such as PatientAge or a tag such as 00101010.`)
          if (include !== 'all') include.add(tagHex(tag))
        }
      }
      continue
    }
    if (RESERVED.has(name)) continue
    const tag = tagOf(name)
    if (tag === undefined) throw DicomwebErrors.badQuery(`Query parameter "${name}" is neither a QIDO-RS parameter nor a DICOM attribute keyword or tag.`)
    const keyword = keywordOf(tag) ?? name
    if (include !== 'all') include.add(tagHex(tag))
    if (!SEARCHABLE[level].has(keyword)) {
      warnings.push(`299 kura: The ${keyword} query parameter is not supported for matching at ${level} level and was ignored`)
      continue
    }
    const m = toMatch(keyword, one(value)!)
    if (m) where[keyword] = m
  }
  if (scope.study) where.StudyInstanceUID = { kind: 'single', value: scope.study }
  if (scope.series) where.SeriesInstanceUID = { kind: 'single', value: scope.series }

  const limitRaw = one(query.limit)
  const offsetRaw = one(query.offset)
  const limit = limitRaw === undefined ? DEFAULT_LIMIT : Number(limitRaw)
  const offset = offsetRaw === undefined ? 0 : Number(offsetRaw)
  if (!Number.isInteger(limit) || limit < 0) throw DicomwebErrors.badQuery(`limit=${limitRaw} is not a whole number ≥ 0.`)
  if (!Number.isInteger(offset) || offset < 0) throw DicomwebErrors.badQuery(`offset=${offsetRaw} is not a whole number ≥ 0.`)
  if (limit > MAX_LIMIT) warnings.push(`299 kura: limit ${limit} is above the maximum ${MAX_LIMIT}; ${MAX_LIMIT} results were returned at most`)
  const collection = one(query.collection)
  return {
    request: { level, where, limit: Math.min(limit || DEFAULT_LIMIT, MAX_LIMIT), offset, collections: collection ? [collection] : undefined },
    include,
    warnings,
  }
}

function pick(json: DicomJson, tags: Iterable<string>, out: DicomJson): void {
  for (const t of tags) {
    const a = json[t]
    if (a !== undefined) out[t] = a
  }
}

const num = (n: number | null | undefined) => ({ vr: 'IS' as const, Value: [n ?? 0] })

export async function qidoRoutes(app: FastifyInstance, opts: { archive: Archive; publicUrl?: string }) {
  const db = opts.archive.catalog.db

  const run = (level: SearchLevel) => async (req: FastifyRequest<{ Params: { study?: string; series?: string }; Querystring: Query }>, reply: FastifyReply) => {
    const chosen = negotiate(req.headers.accept, [{ mediaType: 'application/dicom+json' }, { mediaType: 'application/json' }], req.query.accept)
    if (!chosen) throw DicomwebErrors.notAcceptable('search results', [req.query.accept, req.headers.accept].filter(Boolean).join(', '))
    const { request, include, warnings } = parseQidoQuery(level, req.query, { study: req.params.study, series: req.params.series })
    // Only the collections this principal may read: the rest do not exist for it.
    const visible = req.access.collectionsWith('study:read')
    if (visible !== 'all') request.collections = request.collections ? request.collections.filter((c) => visible.includes(c)) : visible
    const { rows, more } = await search(db, request)
    const base = serviceBase(req, opts.publicUrl)
    const wanted = include === 'all' ? null : new Set([...RETURN[level], ...include])
    // Series and instance searches not scoped to a study also return the study's attributes (PS3.18 10.6.3.3.2).
    const withStudy = level !== 'study' && !req.params.study
    const withSeries = level === 'instance' && !req.params.series

    let body = '['
    rows.forEach((row, i) => {
      const full: DicomJson = {}
      if (level === 'study' || withStudy || include === 'all') Object.assign(full, JSON.parse(row.studyJson))
      if (level === 'study') {
        full['00080061'] = { vr: 'CS', Value: (row.modalitiesInStudy ?? '').split('\\').filter(Boolean) }
        full['00201206'] = num(row.numberOfStudyRelatedSeries)
        full['00201208'] = num(row.numberOfStudyRelatedInstances)
        full['00081190'] = { vr: 'UR', Value: [studyUrl(base, row.studyInstanceUid)] }
      }
      if (level !== 'study') {
        if (row.seriesJson && (level === 'series' || withSeries || include === 'all')) Object.assign(full, JSON.parse(row.seriesJson))
        full['0020000D'] = { vr: 'UI', Value: [row.studyInstanceUid] }
        full['0020000E'] = { vr: 'UI', Value: [row.seriesInstanceUid!] }
      }
      if (level === 'series') {
        full['00201209'] = num(row.numberOfSeriesRelatedInstances)
        full['00081190'] = { vr: 'UR', Value: [seriesUrl(base, row.studyInstanceUid, row.seriesInstanceUid!)] }
      }
      if (level === 'instance') {
        const inst = JSON.parse(row.instanceJson!) as DicomJson
        if (include === 'all') Object.assign(full, stripBulk(inst))
        else pick(inst, wanted!, full)
        full['00081190'] = { vr: 'UR', Value: [instanceUrl(base, row.studyInstanceUid, row.seriesInstanceUid!, row.sopInstanceUid!)] }
      }
      full['00080056'] = { vr: 'CS', Value: ['ONLINE'] }
      let out: DicomJson = full
      if (wanted) {
        out = {}
        pick(full, [...wanted].filter((t) => t in full).sort(), out)
        if (withStudy) pick(full, Object.keys(full).filter((t) => !(t in out)), out)
      }
      body += (i ? ',' : '') + JSON.stringify(sortKeys(out))
    })
    body += ']'
    if (more) warnings.push('299 kura: There are additional results that can be requested')
    if (warnings.length) reply.header('warning', warnings)
    return reply.type(`${chosen.mediaType}; charset=utf-8`).send(Buffer.from(body))
  }

  const route = { config: { permission: 'study:read' as const } }
  app.get('/studies', route, run('study'))
  app.get('/series', route, run('series'))
  app.get('/instances', route, run('instance'))
  app.get('/studies/:study/series', route, run('series'))
  app.get('/studies/:study/instances', route, run('instance'))
  app.get('/studies/:study/series/:series/instances', route, run('instance'))
}

/** Search results carry no bulk data (PS3.18 10.6.3.3). */
function stripBulk(json: DicomJson): DicomJson {
  const out: DicomJson = {}
  for (const k in json) if (json[k]!.BulkDataURI === undefined && json[k]!.InlineBinary === undefined) out[k] = json[k]!
  return out
}

function sortKeys(json: DicomJson): DicomJson {
  const out: DicomJson = {}
  for (const k of Object.keys(json).sort()) out[k] = json[k]!
  return out
}
