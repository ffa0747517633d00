/**
 * @module The JSON form of clinical records, with response schemas: a route returning records
 * serialises through these, so a column added to the table never leaves by accident.
 */
import type { Kysely } from 'kysely'
import { CODE_LISTS, type Coded, type DeidentifiedRecord } from '@kura/records'
import type { Database } from '@kura/storage'
import type { LinkedStudy, RecordRow } from './catalog.ts'

export interface RecordSummary {
  id: string
  collection: string
  site: string | null
  kind: string
  examType: string | null
  subject: string
  performedAt: string
  receivedAt: string
  /** Study Instance UIDs the record describes. */
  studies: string[]
  /** Finding terms (endoscopy) and diagnoses, for a results table without opening each record. */
  findings: Coded[]
  diagnoses: Coded[]
  /** What each code means in the shipped vocabularies, by `system|code`, in both languages. */
  meanings: Meanings
}

export type Meanings = Record<string, { en: string; ja: string }>

let terms: Map<string, { en: string; ja: string }> | undefined
/** The shipped vocabularies' meanings of the given codes (codes of other systems are left out). */
export function meaningsOf(codes: Iterable<Coded>): Meanings {
  if (!terms) {
    terms = new Map()
    for (const list of CODE_LISTS.values()) for (const t of list.terms.values()) terms.set(`${list.system}|${t.code}`, { en: t.en, ja: t.ja })
  }
  const out: Meanings = {}
  for (const c of codes) {
    const k = `${c.system}|${c.code}`
    const m = terms.get(k)
    if (m) out[k] = m
  }
  return out
}

/** Every coded term anywhere in a record (objects with text `system` and `code`). */
export function codesIn(v: unknown, out: Coded[] = []): Coded[] {
  if (Array.isArray(v)) for (const x of v) codesIn(x, out)
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    if (typeof o.system === 'string' && typeof o.code === 'string') out.push(o as unknown as Coded)
    else for (const x of Object.values(o)) codesIn(x, out)
  }
  return out
}

export interface RecordDetail extends RecordSummary {
  key: string
  supersededBy: string | null
  record: DeidentifiedRecord
  linkedStudies: LinkedStudy[]
}

/** Summaries of a page of rows, with their linked studies read in one query. */
export async function summaries(db: Kysely<Database>, rows: RecordRow[]): Promise<RecordSummary[]> {
  const links = new Map<string, string[]>()
  if (rows.length) {
    const found = await db.selectFrom('clinical_record_study').select(['record_id', 'study_instance_uid']).where('record_id', 'in', rows.map((r) => r.id)).orderBy('study_instance_uid').execute()
    for (const l of found) links.set(l.record_id, [...(links.get(l.record_id) ?? []), l.study_instance_uid])
  }
  return rows.map((r) => summaryOf(r, JSON.parse(r.body) as DeidentifiedRecord, links.get(r.id) ?? []))
}

export function summaryOf(r: RecordRow, record: DeidentifiedRecord, studies: string[]): RecordSummary {
  const findings = record.kind === 'endoscopy' ? record.findings.map((f) => f.term) : []
  const diagnoses = record.kind === 'endoscopy' || record.kind === 'pathology' ? record.diagnoses : []
  return {
    id: r.id,
    collection: r.collection,
    site: r.site,
    kind: r.kind,
    examType: r.exam_type,
    subject: r.subject_id,
    performedAt: r.performed_at,
    receivedAt: r.received_at,
    studies,
    findings,
    diagnoses,
    meanings: meaningsOf([...findings, ...diagnoses]),
  }
}

const CODED = { type: 'object', properties: { system: { type: 'string' }, code: { type: 'string' }, meaning: { type: 'string' } } } as const

const SUMMARY_PROPERTIES = {
  id: { type: 'string' },
  collection: { type: 'string' },
  site: { type: ['string', 'null'] },
  kind: { type: 'string' },
  examType: { type: ['string', 'null'] },
  subject: { type: 'string' },
  performedAt: { type: 'string' },
  receivedAt: { type: 'string' },
  studies: { type: 'array', items: { type: 'string' } },
  findings: { type: 'array', items: CODED },
  diagnoses: { type: 'array', items: CODED },
  meanings: { type: 'object', additionalProperties: { type: 'object', properties: { en: { type: 'string' }, ja: { type: 'string' } } } },
} as const

export const SUMMARY_SCHEMA = { type: 'object', properties: SUMMARY_PROPERTIES } as const

export const PAGE_SCHEMA = {
  type: 'object',
  properties: { records: { type: 'array', items: SUMMARY_SCHEMA }, next: { type: ['string', 'null'] } },
} as const

export const DETAIL_SCHEMA = {
  type: 'object',
  properties: {
    ...SUMMARY_PROPERTIES,
    key: { type: 'string' },
    supersededBy: { type: ['string', 'null'] },
    // Checked on receipt (receipt-check.ts): the schema's shape, no identity.
    record: { type: 'object', additionalProperties: true },
    linkedStudies: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          studyInstanceUid: { type: 'string' },
          inArchive: { type: 'boolean' },
          studyDate: { type: ['string', 'null'] },
          studyDescription: { type: ['string', 'null'] },
          modalities: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const

export const COUNTS_SCHEMA = {
  type: 'object',
  properties: {
    by: { type: 'array', items: { type: 'string' } },
    counts: {
      type: 'array',
      items: {
        type: 'object',
        properties: { collection: { type: 'string' }, site: { type: ['string', 'null'] }, month: { type: 'string' }, kind: { type: 'string' }, examType: { type: ['string', 'null'] }, count: { type: 'integer' } },
      },
    },
  },
} as const

export const RECEIPT_SCHEMA = {
  type: 'object',
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          key: { type: ['string', 'null'] },
          status: { type: 'string' },
          id: { type: 'string' },
          reason: { type: 'string' },
          reasons: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
    },
  },
} as const
