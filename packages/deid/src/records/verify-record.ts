/**
 * @module The verification scan for a de-identified clinical record: every string at any depth is searched for
 * the SOURCE record's identifiers (with the DICOM scan's own needles and matching, via identifierMatcher) and for
 * telephone, postal-code and street-address patterns; and the record must carry no identity fields. Any finding means the caller
 * quarantines the record (nothing is thrown away).
 */
import type { Identifier } from '../verify/identifiers.ts'
import { identifierList, isSplit, splitOwn, type RecordIdentifiers } from './identifiers.ts'
import { identifierMatcher, phiPatternsIn, type Finding } from '../verify/scan.ts'

// A street address: a prefecture, or a city/ward, then place names and a block number (written independently of
// the scrubber's pattern, on purpose).
const ADDRESS = /(?:都|道|府|県|市|区|郡|町|村)[^\s、。,，（）()*\d]{1,20}?\d+(?:丁目|番地?|号|[-ー‐]\d+)/

const SUBJECT_KEYS = new Set(['id', 'sex', 'birthYear'])

// One subject's records come in runs; its needles (date variants, folded names) are indexed once per run, and
// what they find in a text is remembered with them (a subject's records repeat most of their texts). A record's
// own ID and staff change with every record, so they get a small matcher of their own.
type Matcher = (text: string) => Identifier[]
const MEMO_MAX = 1024
const MEMO_TEXT_MAX = 256

function memoized(m: Matcher): Matcher {
  const memo = new Map<string, Identifier[]>()
  return (text) => {
    let found = memo.get(text)
    if (found === undefined) {
      found = m(text)
      if (text.length > MEMO_TEXT_MAX) return found
      if (memo.size >= MEMO_MAX) memo.clear()
      memo.set(text, found)
    }
    return found
  }
}

// By the identifier list recordIdentifiers hands out for every record of one subject (weak: it goes with it).
const SUBJECT_MATCHERS = new WeakMap<readonly Identifier[], Matcher>()
// By content, for callers that pass one flat list.
const MATCHERS = new Map<string, Matcher>()
const MATCHERS_MAX = 256

function subjectMatcher(identifiers: readonly Identifier[]): Matcher {
  let m = SUBJECT_MATCHERS.get(identifiers)
  if (!m) SUBJECT_MATCHERS.set(identifiers, (m = memoized(identifierMatcher(identifiers))))
  return m
}

function cachedMatcher(identifiers: readonly Identifier[]): Matcher {
  let key = ''
  for (const i of identifiers) key += `${i.kind}\u0001${i.source}\u0001${i.value}\u0002`
  let m = MATCHERS.get(key)
  if (!m) {
    if (MATCHERS.size >= MATCHERS_MAX) MATCHERS.delete(MATCHERS.keys().next().value!)
    MATCHERS.set(key, (m = memoized(identifierMatcher(identifiers))))
  }
  return m
}

const ownOfRecord = (id: Identifier): boolean => id.source === 'recordId' || id.source.startsWith('staff[')

/** The identifiers found in a text, in the order of `identifiers`, as one identifierMatcher over them all would. */
interface SplitMatcher {
  identifiers: readonly Identifier[] | RecordIdentifiers
  /** Matchers over consecutive parts of the identifiers. */
  parts: Matcher[]
  /** The parts are in the order of the identifiers, so their findings concatenated are too. */
  ordered: boolean
  /** What each text of this record held: a record repeats its code systems and terms. */
  seen: Map<string, Identifier[]>
}

const NONE: Identifier[] = []

function matcherOf(identifiers: readonly Identifier[] | RecordIdentifiers): SplitMatcher {
  if (isSplit(identifiers)) {
    // The subject's, then the record's ID, then its staff: the order recordIdentifiers lists them in. The staff are
    // the same few people from record to record, so theirs is kept by content and remembers its texts too.
    const own = splitOwn(identifiers.own)
    const parts = [subjectMatcher(identifiers.subject)]
    if (own.record.length > 0) parts.push(identifierMatcher(own.record))
    if (own.staff.length > 0) parts.push(cachedMatcher(own.staff))
    return { identifiers, parts, ordered: own.recordFirst, seen: new Map() }
  }
  const subject: Identifier[] = []
  const record: Identifier[] = []
  for (const id of identifiers) (ownOfRecord(id) ? record : subject).push(id)
  return { identifiers, parts: [cachedMatcher(subject), identifierMatcher(record)], ordered: false, seen: new Map() }
}

const contentKey = (id: Identifier): string => `${id.kind}\u0001${id.source}\u0001${id.value}`

function matchIn(m: SplitMatcher, text: string): Identifier[] {
  let found = m.seen.get(text)
  if (found === undefined) m.seen.set(text, (found = matchParts(m, text)))
  return found
}

function matchParts(m: SplitMatcher, text: string): Identifier[] {
  let found: Identifier[] = NONE
  let hits = 0
  for (let i = 0; i < m.parts.length; i++) {
    const r = m.parts[i]!(text)
    if (r.length === 0) continue
    // The matchers' results are remembered by them: copied, never changed in place.
    found = hits === 0 ? r : [...found, ...r]
    hits++
  }
  if (hits <= 1 || m.ordered) return found
  // Several parts found something: back into the order of the identifiers, as the findings are listed. By content:
  // a matcher kept by content hands out the identifiers it was made from, equal to these but not the same objects.
  const keys = new Set(found.map(contentKey))
  return identifierList(m.identifiers).filter((id) => keys.has(contentKey(id)))
}

/** The patterns found in a text, whoever's: they depend on the text alone, and most texts recur. */
type PatternKind = 'pattern:address' | 'pattern:phone' | 'pattern:postal-code'
const PATTERNS = new Map<string, readonly PatternKind[]>()
const PATTERNS_MAX = 8192
const NO_PATTERNS: readonly PatternKind[] = []

function patternsIn(text: string): readonly PatternKind[] {
  let p = PATTERNS.get(text)
  if (p !== undefined) return p
  const found: PatternKind[] = []
  if (ADDRESS.test(text.normalize('NFKC'))) found.push('pattern:address')
  for (const kind of phiPatternsIn(text)) found.push(kind)
  p = found.length === 0 ? NO_PATTERNS : found
  if (text.length <= 256) {
    if (PATTERNS.size >= PATTERNS_MAX) PATTERNS.clear()
    PATTERNS.set(text, p)
  }
  return p
}

const PATTERN_NAMES: Record<PatternKind, string> = { 'pattern:address': 'street address', 'pattern:phone': 'telephone number', 'pattern:postal-code': 'postal code' }

/** Keys from the root to the value being visited: the path is spelled only for a finding (most records have none). */
type Trail = Array<string | number>

function pathOf(trail: Trail): string {
  let path = ''
  for (const k of trail) path = typeof k === 'number' ? `${path}[${k}]` : path ? `${path}.${k}` : k
  return path
}

const UID_KEYS = new Set(['studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid'])

/**
 * Values that are keyed pseudonyms or UIDs made here: HMAC output, never source text (and base32 could spell a
 * short name): subject.id, recordId, staff[i].id, images[i].(study|series|sop)InstanceUid.
 */
function generated(trail: Trail): boolean {
  const n = trail.length
  const a = trail[0]
  if (n === 1) return a === 'recordId'
  if (n === 2) return a === 'subject' && trail[1] === 'id'
  if (n === 3 && typeof trail[1] === 'number') return (a === 'staff' && trail[2] === 'id') || (a === 'images' && UID_KEYS.has(trail[2] as string))
  return false
}

function visit(v: unknown, trail: Trail, match: SplitMatcher, findings: Finding[]): void {
  if (typeof v === 'string') {
    if (generated(trail)) return
    const ids = matchIn(match, v)
    const kinds = patternsIn(v)
    if (ids.length === 0 && kinds.length === 0) return
    const path = pathOf(trail)
    if (ids.length > 0) {
      const reported = new Set<string>()
      for (const id of ids) {
        const key = `${id.kind}\0${id.source}`
        if (reported.has(key)) continue
        reported.add(key)
        findings.push({ path, kind: id.kind, reason: `${id.source} of the source record found in ${path}` })
      }
    }
    for (const kind of kinds) findings.push({ path, kind, reason: `a ${PATTERN_NAMES[kind]} pattern found in ${path}` })
    return
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      trail.push(i)
      visit(v[i], trail, match, findings)
      trail.pop()
    }
    return
  }
  if (typeof v === 'object' && v !== null) {
    for (const k in v) {
      trail.push(k)
      visit((v as Record<string, unknown>)[k], trail, match, findings)
      trail.pop()
    }
  }
}

/**
 * Findings in `deid` (empty when clean). `identifiers` come from collectRecordIdentifiers(source record), or
 * recordIdentifiers(source record), which lets a subject's needles be kept from one of its records to the next.
 */
export function verifyRecord(deid: unknown, identifiers: readonly Identifier[] | RecordIdentifiers): Finding[] {
  const findings: Finding[] = []
  visit(deid, [], matcherOf(identifiers), findings)

  const rec = (typeof deid === 'object' && deid !== null ? deid : {}) as Record<string, unknown>
  const subject = rec.subject as Record<string, unknown> | undefined
  const extra = subject && typeof subject === 'object' ? Object.keys(subject).filter((k) => !SUBJECT_KEYS.has(k)) : ['(missing)']
  if (extra.length > 0) findings.push({ path: 'subject', kind: 'identity-not-removed', reason: `subject carries ${extra.join(', ')}; only id, sex and birthYear may leave` })
  const source = rec.source as Record<string, unknown> | undefined
  if (source && 'ref' in source) findings.push({ path: 'source.ref', kind: 'identity-not-removed', reason: 'source.ref (the file and row) must be dropped' })
  const d = rec.deidentification as Record<string, unknown> | undefined
  if (!d || typeof d.policy !== 'string' || typeof d.version !== 'string') {
    findings.push({ path: 'deidentification', kind: 'identity-not-removed', reason: 'the record does not say which policy de-identified it' })
  }
  return findings
}
