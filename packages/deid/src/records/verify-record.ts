/**
 * @module The verification scan for a de-identified clinical record: every string at any depth is searched for
 * the SOURCE record's identifiers (with the DICOM scan's own needles and matching, via identifierMatcher) and for
 * telephone, postal-code and street-address patterns; and the record must carry no identity fields. Any finding means the caller
 * quarantines the record (nothing is thrown away).
 */
import type { Identifier } from '../verify/identifiers.ts'
import { identifierList, isSplit, splitOwn, type RecordIdentifiers } from './identifiers.ts'
import { fewIdentifiersMatcher, haystackMatcher, phiPatternsIn, textHaystack, type Finding, type TextHaystack } from '../verify/scan.ts'

// A street address: a prefecture, or a city/ward, then place names and a block number (written independently of
// the scrubber's pattern, on purpose).
const ADDRESS = /(?:都|道|府|県|市|区|郡|町|村)[^\s、。,，（）()*\d]{1,20}?\d+(?:丁目|番地?|号|[-ー‐]\d+)/

const SUBJECT_KEYS = new Set(['id', 'sex', 'birthYear'])

// Each distinct text is looked up once per visit (TEXTS), and what it holds is kept with it: its normalised forms,
// its patterns, and what the last matchers asked found in it. One subject's records come in runs and the care team
// recurs, so "the last subject matcher and the last staff matcher" remember as much as a memo per matcher did, for
// one string lookup per text instead of five. Matchers (needle indexes) are built once per subject and per care
// team; a record's own ID gets a small one of its own.
type Matcher = (h: TextHaystack) => Identifier[]

interface TextInfo {
  text: string
  hay: TextHaystack | undefined
  patterns: readonly PatternKind[] | undefined
  /** The last subject (or flat-list) matcher asked, and its findings. */
  subjectM: Matcher | undefined
  subjectFound: Identifier[]
  /** The last staff matcher asked, and its findings. */
  staffM: Matcher | undefined
  staffFound: Identifier[]
  /** The last record visiting this text, and the findings of all its parts (a record repeats its texts). */
  record: SplitMatcher | undefined
  recordFound: Identifier[]
}

const TEXTS = new Map<string, TextInfo>()
const TEXTS_MAX = 8192
const TEXT_MAX = 256
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/

const NONE: Identifier[] = []

function textInfo(text: string): TextInfo {
  let t = TEXTS.get(text)
  if (t === undefined) {
    t = { text, hay: undefined, patterns: undefined, subjectM: undefined, subjectFound: NONE, staffM: undefined, staffFound: NONE, record: undefined, recordFound: NONE }
    // Long texts (narratives, rarely repeated) are not kept, nor date-times (performedAt, new with nearly every
    // record: kept, they filled the map, 0.8 a record, and pushed out the texts that recur).
    if (text.length <= TEXT_MAX && !DATE_TIME.test(text)) {
      if (TEXTS.size >= TEXTS_MAX) TEXTS.clear()
      TEXTS.set(text, t)
    }
  }
  return t
}

const hayOf = (t: TextInfo): TextHaystack => (t.hay ??= textHaystack(t.text))

// By the identifier list recordIdentifiers hands out for every record of one subject (weak: it goes with it).
const SUBJECT_MATCHERS = new WeakMap<readonly Identifier[], Matcher>()
// By content, for callers that pass one flat list, and for a care team.
const MATCHERS = new Map<string, Matcher>()
const MATCHERS_MAX = 256

function subjectMatcher(identifiers: readonly Identifier[]): Matcher {
  let m = SUBJECT_MATCHERS.get(identifiers)
  if (!m) SUBJECT_MATCHERS.set(identifiers, (m = haystackMatcher(identifiers)))
  return m
}

function cachedMatcher(identifiers: readonly Identifier[], key?: string): Matcher {
  if (key === undefined) {
    key = ''
    for (const i of identifiers) key += `${i.kind}\u0001${i.source}\u0001${i.value}\u0002`
  }
  let m = MATCHERS.get(key)
  if (!m) {
    if (MATCHERS.size >= MATCHERS_MAX) MATCHERS.delete(MATCHERS.keys().next().value!)
    MATCHERS.set(key, (m = haystackMatcher(identifiers)))
  }
  return m
}

const ownOfRecord = (id: Identifier): boolean => id.source === 'recordId' || id.source.startsWith('staff[')

/** The identifiers found in a text, in the order of `identifiers`, as one identifierMatcher over them all would. */
interface SplitMatcher {
  identifiers: readonly Identifier[] | RecordIdentifiers
  /** Over the subject's identifiers (or a flat list's subject part): its findings are kept in TextInfo.subject*. */
  subject: Matcher
  /** Over the record's own ID (none kept). */
  record: Matcher | undefined
  /** Over the staff: kept in TextInfo.staff*. */
  staff: Matcher | undefined
  /** The parts are in the order of the identifiers, so their findings concatenated are too. */
  ordered: boolean
}

function matcherOf(identifiers: readonly Identifier[] | RecordIdentifiers): SplitMatcher {
  if (isSplit(identifiers)) {
    // The subject's, then the record's ID, then its staff: the order recordIdentifiers lists them in. The staff are
    // the same few people from record to record, so theirs is kept by content (splitOwn's staffKey).
    const own = splitOwn(identifiers.own)
    return {
      identifiers,
      subject: subjectMatcher(identifiers.subject),
      record: own.record.length > 0 ? fewIdentifiersMatcher(own.record) : undefined,
      staff: own.staff.length > 0 ? cachedMatcher(own.staff, own.staffKey) : undefined,
      ordered: own.recordFirst,
    }
  }
  const subject: Identifier[] = []
  const record: Identifier[] = []
  for (const id of identifiers) (ownOfRecord(id) ? record : subject).push(id)
  return { identifiers, subject: cachedMatcher(subject), record: haystackMatcher(record), staff: undefined, ordered: false }
}

const contentKey = (id: Identifier): string => `${id.kind}\u0001${id.source}\u0001${id.value}`

function matchIn(m: SplitMatcher, t: TextInfo): Identifier[] {
  if (t.record !== m) {
    t.recordFound = matchParts(m, t)
    t.record = m
  }
  return t.recordFound
}

function matchParts(m: SplitMatcher, t: TextInfo): Identifier[] {
  if (t.subjectM !== m.subject) {
    t.subjectFound = m.subject(hayOf(t))
    t.subjectM = m.subject
  }
  let found = t.subjectFound
  let hits = found.length > 0 ? 1 : 0
  if (m.record !== undefined) {
    const r = m.record(hayOf(t))
    if (r.length > 0) {
      found = hits === 0 ? r : [...found, ...r]
      hits++
    }
  }
  if (m.staff !== undefined) {
    if (t.staffM !== m.staff) {
      t.staffFound = m.staff(hayOf(t))
      t.staffM = m.staff
    }
    const r = t.staffFound
    if (r.length > 0) {
      // What is kept is shared: copied, never changed in place.
      found = hits === 0 ? r : [...found, ...r]
      hits++
    }
  }
  if (hits <= 1 || m.ordered) return found
  // Several parts found something: back into the order of the identifiers, as the findings are listed. By content:
  // a matcher kept by content hands out the identifiers it was made from, equal to these but not the same objects.
  const keys = new Set(found.map(contentKey))
  return identifierList(m.identifiers).filter((id) => keys.has(contentKey(id)))
}

/** The patterns found in a text, whoever's: they depend on the text alone, and most texts recur. */
type PatternKind = 'pattern:address' | 'pattern:phone' | 'pattern:postal-code'
const NO_PATTERNS: readonly PatternKind[] = []
const ASCII = /^[\x00-\x7f]*$/

function patternsIn(t: TextInfo): readonly PatternKind[] {
  if (t.patterns !== undefined) return t.patterns
  const text = t.text
  // An ASCII text holds no street address (kanji), and no phone number or postal code with fewer than 7 digits.
  if (ASCII.test(text)) {
    let digits = 0
    for (let i = 0; i < text.length && digits < 7; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x30 && c <= 0x39) digits++
    }
    if (digits < 7) return (t.patterns = NO_PATTERNS)
  }
  const found: PatternKind[] = []
  if (ADDRESS.test(text.normalize('NFKC'))) found.push('pattern:address')
  for (const kind of phiPatternsIn(text)) found.push(kind)
  return (t.patterns = found.length === 0 ? NO_PATTERNS : found)
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
    const t = textInfo(v)
    const ids = matchIn(match, t)
    const kinds = patternsIn(t)
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

const NO_KEYS: readonly string[] = []

/** The subject's keys other than id, sex and birthYear (a shared empty list for almost every record). */
function extraSubjectKeys(subject: Record<string, unknown>): readonly string[] {
  let extra: string[] | undefined
  for (const k of Object.keys(subject)) if (!SUBJECT_KEYS.has(k)) (extra ??= []).push(k)
  return extra ?? NO_KEYS
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
  const extra = subject && typeof subject === 'object' ? extraSubjectKeys(subject) : ['(missing)']
  if (extra.length > 0) findings.push({ path: 'subject', kind: 'identity-not-removed', reason: `subject carries ${extra.join(', ')}; only id, sex and birthYear may leave` })
  const source = rec.source as Record<string, unknown> | undefined
  if (source && 'ref' in source) findings.push({ path: 'source.ref', kind: 'identity-not-removed', reason: 'source.ref (the file and row) must be dropped' })
  const d = rec.deidentification as Record<string, unknown> | undefined
  if (!d || typeof d.policy !== 'string' || typeof d.version !== 'string') {
    findings.push({ path: 'deidentification', kind: 'identity-not-removed', reason: 'the record does not say which policy de-identified it' })
  }
  return findings
}
