/**
 * @module The identifiers of a SOURCE clinical record (the subject's names in every script the source gave, plus
 * romaji spelled from the kana; patient ID, record ID, birth date, address, postal code, phone; staff names and
 * IDs), in the verification scan's `Identifier` form, so a de-identified record is checked with exactly the
 * matching the DICOM scan uses.
 */
import type { ClinicalRecord } from '@kura/records'
import { MIN_LATIN_NAME_LENGTH, MIN_NAME_LENGTH, MIN_OTHER_LENGTH, type Identifier, type IdentifierKind } from '../verify/identifiers.ts'
import { normalizedValue } from '../verify/normalize.ts'
import { romajiOf } from './romaji.ts'

const NAME_PARTS = /[\s\u3000^,、・･]+/

/** Long enough to be matched; `n` is normalizeText(value) (unused for dates). */
function longEnough(kind: IdentifierKind, value: string, n: string): boolean {
  if (kind === 'date') return /^\d{8}$/.test(value)
  if (kind === 'name') return n.length >= (/^[\x00-\x7f]*$/.test(n) ? MIN_LATIN_NAME_LENGTH : MIN_NAME_LENGTH)
  return n.length >= MIN_OTHER_LENGTH
}

/** Identifiers being collected, deduplicated by kind and normalised value (`seen` may start from a subject's). */
interface Collected {
  out: Identifier[]
  seen: Set<string>
  /** Keys of identifiers collected before (the subject's), not to be added again. */
  before?: ReadonlySet<string>
}

// normalizeText of identifier values (normalize.ts keeps the last ones: the scan's needles are built from the same
// values right after).
const normalized = normalizedValue

// Module-level functions, not closures: tsx (esbuild keepNames) wraps every named inner function per call.
function add(c: Collected, kind: IdentifierKind, value: string | undefined, source: string): void {
  const v = value?.trim()
  if (!v) return
  const n = kind === 'date' ? v : normalized(v)
  if (!longEnough(kind, v, n)) return
  const key = `${kind}\0${n}`
  if (c.seen.has(key) || c.before?.has(key)) return
  c.seen.add(key)
  c.out.push({ kind, value: v, source })
}

function addName(c: Collected, value: string | undefined, source: string): void {
  if (!value) return
  add(c, 'name', value, source)
  for (const part of value.split(NAME_PARTS)) add(c, 'name', part, source)
}

function collectSubject(s: ClinicalRecord['subject']): Collected {
  const c: Collected = { out: [], seen: new Set() }
  add(c, 'id', s.patientId, 'subject.patientId')
  addName(c, s.name?.kanji, 'subject.name.kanji')
  addName(c, s.name?.kana, 'subject.name.kana')
  addName(c, s.name?.alphabetic, 'subject.name.alphabetic')
  // Text may spell the name in Latin letters even when the source had only kanji and kana.
  if (s.name?.kana) for (const r of romajiOf(s.name.kana)) add(c, 'name', r, 'subject.name.kana (romaji)')
  if (s.birthDate && /^\d{4}-\d{2}-\d{2}$/.test(s.birthDate)) add(c, 'date', s.birthDate.replaceAll('-', ''), 'subject.birthDate')
  add(c, 'address', s.address, 'subject.address')
  // An address is often quoted without its prefecture ("新宿区西新宿2-8-1"): search for that too.
  const withoutPrefecture = s.address?.replace(/^\s*(?:東京都|北海道|(?:大阪|京都)府|.{2,3}県)/, '')
  if (withoutPrefecture !== s.address) add(c, 'address', withoutPrefecture, 'subject.address')
  add(c, 'address', s.postalCode, 'subject.postalCode')
  add(c, 'phone', s.phone, 'subject.phone')
  return c
}

// A subject's records come in runs (its exams, one after another): its identifiers (normalised names, romaji)
// are collected once per run. Keyed by every subject field they are made from; bounded, cleared when full.
const SUBJECTS = new Map<string, Collected>()
const SUBJECTS_MAX = 1024
/** The subject asked for last, and its identifiers. */
let last: { fields: ReadonlyArray<string | undefined>; collected: Collected } | undefined

/** The subject's identifiers, from the cache when its fields are all text (or absent) and seen before. */
function subjectIdentifiers(s: ClinicalRecord['subject']): Collected {
  const fields = [s.patientId, s.name?.kanji, s.name?.kana, s.name?.alphabetic, s.birthDate, s.address, s.postalCode, s.phone]
  // The previous record's subject, compared field by field: the next record is usually of the same subject, and
  // this costs no key to build and hash.
  if (last !== undefined && sameFields(fields, last.fields)) return last.collected
  let key = ''
  for (const f of fields) {
    if (f !== undefined && typeof f !== 'string') return collectSubject(s)
    key += f === undefined ? '\u0002' : `\u0001${f}`
  }
  let c = SUBJECTS.get(key)
  if (c === undefined) {
    c = collectSubject(s)
    if (SUBJECTS.size >= SUBJECTS_MAX) SUBJECTS.clear()
    SUBJECTS.set(key, c)
  }
  last = { fields, collected: c }
  return c
}

function sameFields(a: ReadonlyArray<unknown>, b: ReadonlyArray<string | undefined>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * A record's identifiers in two parts: its subject's (the same array, by identity, for every record of one subject
 * while it stays cached, so scrubbers and matchers built from it can be kept with it) and the record's own (its
 * ID, its staff). Together, in that order, they are collectRecordIdentifiers(record).
 */
export interface RecordIdentifiers {
  subject: readonly Identifier[]
  own: readonly Identifier[]
}

export function recordIdentifiers(record: ClinicalRecord): RecordIdentifiers {
  const subject = subjectIdentifiers(record.subject)
  const c: Collected = { out: [], seen: new Set(), before: subject.seen }
  add(c, 'id', record.recordId, 'recordId')
  const staff = 'staff' in record ? record.staff : []
  for (let i = 0; i < staff.length; i++) {
    const st = staff[i]!
    addName(c, st.name, `staff[${i}].name`)
    add(c, 'id', st.id, `staff[${i}].id`)
  }
  return { subject: subject.out, own: c.out }
}

/**
 * A record's own identifiers in two: its ID (new with every record) and its staff's (the same few people from record
 * to record, so what is built from them can be kept, by `staffKey`: their kinds and values, which is all needles
 * depend on). Each part keeps the order of `own`; the ID comes first there, as recordIdentifiers adds it first.
 */
export interface OwnParts {
  record: Identifier[]
  staff: Identifier[]
  staffKey: string
  /** Every record identifier comes before every staff one in `own` (as recordIdentifiers lists them). */
  recordFirst: boolean
}

// The de-identification and then the scan split the same record's list, one after the other: the last is kept.
let lastOwn: readonly Identifier[] | undefined
let lastParts: OwnParts | undefined

/** The parts of `own`, which the caller must not change (the same object comes back for the same list). */
export function splitOwn(own: readonly Identifier[]): Readonly<OwnParts> {
  if (own !== lastOwn || lastParts === undefined) {
    lastParts = makeOwnParts(own)
    lastOwn = own
  }
  return lastParts
}

function makeOwnParts(own: readonly Identifier[]): OwnParts {
  const parts: OwnParts = { record: [], staff: [], staffKey: '', recordFirst: true }
  for (let i = 0; i < own.length; i++) {
    const id = own[i]!
    if (id.source.startsWith('staff[')) {
      parts.staff.push(id)
      parts.staffKey += `${id.kind}\u0001${id.source}\u0001${id.value}\u0002`
    } else {
      if (parts.staff.length > 0) parts.recordFirst = false
      parts.record.push(id)
    }
  }
  return parts
}

/** Every identifier of the record, deduplicated by kind and normalised value. Secret-grade: never log values. */
export function collectRecordIdentifiers(record: ClinicalRecord): Identifier[] {
  const r = recordIdentifiers(record)
  return [...r.subject, ...r.own]
}

/** The identifiers as one list, whichever form they were given in. */
export function identifierList(ids: readonly Identifier[] | RecordIdentifiers): readonly Identifier[] {
  return isSplit(ids) ? [...ids.subject, ...ids.own] : ids
}

export function isSplit(ids: readonly Identifier[] | RecordIdentifiers): ids is RecordIdentifiers {
  return !Array.isArray(ids)
}
