/**
 * @module The verification scan: before an object leaves, every text value of the de-identified OUTPUT, at every
 * depth, is decoded and searched for the SOURCE's identifiers (however re-typed: kana/kanji widths, case,
 * separators, romaji long vowels, Japanese date formats) and for PHI patterns. It is a second line of defence,
 * deliberately independent of the de-identification rules; any finding should quarantine the object.
 */
import { decodeText, getString, keywordOf, tagHex, tagString, type DicomDataset, type DicomElement, type ParsedDicom, type Vr } from '@kura/dicom'
import type { Identifier } from './identifiers.ts'
import { foldRomaji, markDigitBreaks, normalizeLoose, normalizeText, normalizedValue, sharedDateVariants } from './normalize.ts'

export interface Finding {
  /** Tag path: '00081030', or through sequences '0040A730/0/0040A160' (tag / item index / tag). */
  path: string
  keyword?: string
  /** The identifier's kind (name, id, date, address, phone, institution) or pattern:phone, pattern:postal-code,
   *  identity-not-removed, unchecked. */
  kind: string
  /** Safe to log: says what was found where, never the value itself. */
  reason: string
}

export interface VerifyResult {
  clean: boolean
  findings: Finding[]
}

export interface VerifyOptions {
  /** Look for phone numbers and postal codes regardless of the source (default true). */
  patterns?: boolean
  /** Require PatientIdentityRemoved (0012,0062) = YES in the output (default true). */
  requireIdentityRemoved?: boolean
  /**
   * The source object. When given, an institution identifier found inside the top-level Manufacturer (0008,0070)
   * is not reported if that value is byte-identical to the source's: a vendor string such as TOSHIBA_MEC is not
   * a patient identifier, and an InstitutionName of TOSHIBA (a company hospital) is in it by coincidence. Names,
   * IDs and dates found there are still reported, and so is any Manufacturer the de-identification changed.
   */
  source?: ParsedDicom
  /**
   * Attribute keywords whose own values the policy keeps on purpose (see sourcesRetainedBy): identifiers collected
   * from them, at any depth, are not searched for.
   */
  retainedSources?: ReadonlySet<string>
}

const MANUFACTURER = 0x00080070

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b))
}

/** VRs holding text. UI is left out: UIDs are digits and dots that would collide with numeric IDs and dates. */
const TEXT_VRS = new Set<Vr>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT'])

const PATIENT_IDENTITY_REMOVED = 0x00120062

interface Needle {
  id: Identifier
  /** Searched in normalizeText(text). */
  strip: string[]
  /** Searched in foldRomaji(normalizeText(text)). */
  fold: string[]
  /** Searched in normalizeLoose(text) (dates written with their separators). */
  loose: readonly string[]
}

// An identifier's needles depend only on its kind and value, and one subject's identifiers come back with each of
// its objects and records (a record's own ID and staff change, the subject's do not): built once, reused. A value
// used once (a record's own ID) is not kept (`cache` false): it would push out the ones that recur.
const NEEDLE_CACHE = new Map<string, Omit<Needle, 'id'>>()
const NEEDLE_CACHE_MAX = 4096

function needlesOf(id: Identifier, cache = true): Needle {
  const key = cache ? `${id.kind}\u0000${id.value}` : ''
  let parts = cache ? NEEDLE_CACHE.get(key) : undefined
  if (parts === undefined) {
    if (id.kind === 'date') {
      const compact = id.value.trim()
      parts = { strip: [compact], fold: [], loose: sharedDateVariants(compact) }
    } else {
      // A value that a record's identifiers were just collected with is normalised already (see normalizedValue).
      const n = cache ? normalizeText(id.value) : normalizedValue(id.value)
      parts = { strip: [n], fold: [foldRomaji(n)], loose: [] }
    }
    if (!cache) return { id, ...parts }
    if (NEEDLE_CACHE.size >= NEEDLE_CACHE_MAX) NEEDLE_CACHE.clear()
    NEEDLE_CACHE.set(key, parts)
  }
  return { id, strip: parts.strip, fold: parts.fold, loose: parts.loose }
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9'

/**
 * Substring search; a needle that starts (ends) with a digit must not be preceded (followed) by one, so the ID
 * 1234567 is not "found" inside 91234567 and the date 1980/3/1 not inside 1980/3/15.
 */
function contains(hay: string, needle: string): boolean {
  if (!needle) return false
  const first = isDigit(needle[0])
  const last = isDigit(needle[needle.length - 1])
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
    if (first && isDigit(hay[i - 1])) continue
    if (last && isDigit(hay[i + needle.length])) continue
    return true
  }
  return false
}

/** The forms of one text value that needles are searched in; the *Marked ones keep the edges of numbers (see markDigitBreaks). */
interface Haystack {
  strip: string
  stripMarked: string
  fold: string
  loose: string
  looseMarked: string
}

function haystackOf(text: string): Haystack {
  const strip = normalizeText(text)
  const loose = normalizeLoose(text)
  // Most texts have no separated digits: marking them changes nothing, and the marked forms are the plain ones.
  const marked = markDigitBreaks(text)
  const spaceMarked = markDigitBreaks(text, true)
  return {
    strip,
    stripMarked: marked === text ? strip : normalizeText(marked),
    fold: foldRomaji(strip),
    loose,
    looseMarked: spaceMarked === text ? loose : normalizeLoose(spaceMarked),
  }
}

const DIGITS = /^\d+$/

/**
 * A number-valued element (DS, IS) holds measurements: StudyID "1024" is not leaked by RescaleIntercept "-1024",
 * nor StudyID "1000" by a SliceLocation of "-1000.5" (both quarantined clean objects). There an all-digit needle
 * counts only as a whole value of at least 6 digits (an ID written into a number field), never inside a number.
 */
function matchesNumberValue(n: Needle, text: string, ids = n.strip.filter((s) => DIGITS.test(s))): boolean {
  if (ids.length === 0) return false
  for (const v of text.split('\\')) {
    const t = v.trim().replace(/^\+/, '')
    if (t.length >= 6 && ids.includes(t)) return true
  }
  return false
}

function allDigits(n: Needle): boolean {
  return n.strip.length > 0 && n.strip.every((s) => DIGITS.test(s)) && n.fold.every((s) => DIGITS.test(s))
}

// Japanese phone numbers: 0X-XXXX-XXXX, 03-1234-5678, 090-1234-5678, (03)1234-5678, +81-3-1234-5678, with ASCII,
// Unicode and katakana-prolonged-sound dashes (NFKC has already turned full-width digits into ASCII); the digit
// count is checked afterwards (10 or 11 with the trunk 0).
const SEP = '[-\\u2010-\\u2015\\u2212\\u30fc. ]'
const PHONE_SEPARATED = new RegExp(`(?<![\\d.\\-])(?:\\+81${SEP}?\\(?|\\(?0)\\d{1,4}(?:${SEP}|[()（）]){1,2}\\d{1,4}(?:${SEP}|[)）]){1,2}\\d{3,4}(?![\\d])`, 'g')
// Unseparated: 10 digits (landline, second digit not 0) or 11 (050/070/080/090 mobile and IP phones).
const PHONE_COMPACT = /(?<![\d.])(?:0[1-9]\d{8}|0[5789]0\d{8})(?![\d.])/
const POSTAL = /〒\s*\d{3}[-\u2010-\u2015\u2212\u30fc]?\d{4}(?!\d)|(?:郵便番号|postal\s*code|zip(?:\s*code)?)\s*[:：]?\s*\d{3}-?\d{4}(?!\d)/i

function phoneIn(text: string): boolean {
  for (const m of text.matchAll(PHONE_SEPARATED)) {
    const digits = m[0].replace(/\D/g, '')
    const national = m[0].startsWith('+81') ? '0' + digits.slice(2) : digits
    if (national.length === 10 || national.length === 11) return true
  }
  return PHONE_COMPACT.test(text)
}

/** The PHI patterns (telephone number, postal code) in one free text: the same check for text outside DICOM (clinical records). */
export function phiPatternsIn(text: string): ('pattern:phone' | 'pattern:postal-code')[] {
  const nfkc = text.normalize('NFKC')
  const found: ('pattern:phone' | 'pattern:postal-code')[] = []
  if (phoneIn(nfkc)) found.push('pattern:phone')
  if (POSTAL.test(nfkc)) found.push('pattern:postal-code')
  return found
}

/** A text's haystack with, per needle form, the distinct code units it holds (an occurrence starts with one). */
interface IndexedHaystack {
  hay: Haystack
  /** Of strip and stripMarked together, fold, and loose and looseMarked together. */
  strip: number[]
  fold: number[]
  loose: number[]
}

function distinctUnits(a: string, b?: string): number[] {
  const seen = new Set<number>()
  for (let i = 0; i < a.length; i++) seen.add(a.charCodeAt(i))
  if (b !== undefined) for (let i = 0; i < b.length; i++) seen.add(b.charCodeAt(i))
  return [...seen]
}

function indexedHaystackOf(text: string): IndexedHaystack {
  const hay = haystackOf(text)
  return { hay, strip: distinctUnits(hay.strip, hay.stripMarked), fold: distinctUnits(hay.fold), loose: distinctUnits(hay.loose, hay.looseMarked) }
}

// Clinical records repeat most of their texts (code systems, code meanings, section names) from record to record
// and subject to subject: a text's normalised forms are made once. Bounded, cleared when full; long texts (report
// narratives, rarely repeated) are not kept.
const HAYSTACKS = new Map<string, IndexedHaystack>()
const HAYSTACKS_MAX = 8192
const HAYSTACK_TEXT_MAX = 256

function cachedHaystackOf(text: string): IndexedHaystack {
  if (text.length > HAYSTACK_TEXT_MAX) return indexedHaystackOf(text)
  let h = HAYSTACKS.get(text)
  if (h === undefined) {
    h = indexedHaystackOf(text)
    if (HAYSTACKS.size >= HAYSTACKS_MAX) HAYSTACKS.clear()
    HAYSTACKS.set(text, h)
  }
  return h
}

/** Needle strings by their first code unit: [needle number, string] pairs. */
type NeedleIndex = Map<number, Array<[number, string]>>

function indexNeedles(strings: ReadonlyArray<readonly string[]>): NeedleIndex {
  const index: NeedleIndex = new Map()
  strings.forEach((list, i) => {
    for (const s of list) {
      if (!s) continue
      const c = s.charCodeAt(0)
      const at = index.get(c)
      if (at) at.push([i, s])
      else index.set(c, [[i, s]])
    }
  })
  return index
}

/**
 * Marks in `hit` every needle with a string found in `a` (or `b`). Only strings whose first code unit occurs in
 * the text can occur in it, so exactly the needles `matches` would find, without trying every one.
 */
function probe(index: NeedleIndex, units: readonly number[], a: string, b: string | undefined, hit: Uint8Array): void {
  if (index.size === 0) return
  for (const u of units) {
    const candidates = index.get(u)
    if (candidates === undefined) continue
    for (const [i, s] of candidates) {
      if (hit[i] === 1) continue
      if (contains(a, s) || (b !== undefined && contains(b, s))) hit[i] = 1
    }
  }
}

/**
 * A matcher for free text outside DICOM (clinical records): the identifiers found in a text, however re-typed,
 * with exactly the needles and matching verifyDeidentified uses, in the order given. The needles are indexed by
 * their first character and each text's normalised forms are cached, because a record has dozens of short texts.
 */
export function identifierMatcher(identifiers: readonly Identifier[]): (text: string) => Identifier[] {
  const needles = identifiers.map((id) => needlesOf(id))
  const strip = indexNeedles(needles.map((n) => n.strip))
  const fold = indexNeedles(needles.map((n) => n.fold))
  const loose = indexNeedles(needles.map((n) => n.loose))
  return (text) => {
    if (needles.length === 0) return []
    const h = cachedHaystackOf(text)
    const hit = new Uint8Array(needles.length)
    probe(strip, h.strip, h.hay.strip, h.hay.stripMarked, hit)
    probe(fold, h.fold, h.hay.fold, undefined, hit)
    probe(loose, h.loose, h.hay.loose, h.hay.looseMarked, hit)
    const found: Identifier[] = []
    for (let i = 0; i < needles.length; i++) if (hit[i] === 1) found.push(needles[i]!.id)
    return found
  }
}

/**
 * A text's normalised forms, for a caller that keeps them with the text itself (clinical records), with the pairs
 * of code units each needle form's haystacks hold, hashed into 1,024 bits per form (strip and stripMarked together,
 * then fold, then loose and looseMarked together): an occurrence of a needle of two or more units starts with one
 * of them, so a matcher tries only the needles whose first pair is set, and most texts settle on a few ANDs.
 */
export interface TextHaystack {
  hay: Haystack
  bits: Uint32Array
}

/** Words of bits per form: pairs are hashed into 1,024 bits, where a clash only costs a needless contains(). */
const BIGRAM_WORDS = 32
const STRIP_AT = 0
const FOLD_AT = BIGRAM_WORDS
const LOOSE_AT = 2 * BIGRAM_WORDS

const bigramOf = (a: number, b: number): number => (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) >>> 22

function setBigrams(bits: Uint32Array, at: number, s: string): void {
  for (let i = 0; i + 1 < s.length; i++) {
    const h = bigramOf(s.charCodeAt(i), s.charCodeAt(i + 1))
    bits[at + (h >>> 5)]! |= 1 << (h & 31)
  }
}

export function textHaystack(text: string): TextHaystack {
  const hay = haystackOf(text)
  const bits = new Uint32Array(3 * BIGRAM_WORDS)
  setBigrams(bits, STRIP_AT, hay.strip)
  setBigrams(bits, STRIP_AT, hay.stripMarked)
  setBigrams(bits, FOLD_AT, hay.fold)
  setBigrams(bits, LOOSE_AT, hay.loose)
  setBigrams(bits, LOOSE_AT, hay.looseMarked)
  return { hay, bits }
}

/**
 * One needle form's strings of a set of needles, each with its needle and the bucket of its first pair of units
 * (-1 for a string of one unit, which has no pair and is always tried). A text is probed by ANDing its pair bits
 * with the buckets in use (`mask`, over the words that have any): only the strings of buckets both hold are tried.
 * A subject's matcher has some 60 strings (a birth date's 36 spellings among them) in a few dozen buckets, so a text
 * costs a few word ANDs instead of a bit test per string (1.7–2.1 → 1.0–1.1 µs per text and subject).
 */
interface BigramIndex {
  needle: Int32Array
  string: string[]
  bucket: Int32Array
  /** Per word of bits, the buckets used (0 where none). */
  mask: Uint32Array
  /** The words of `mask` that are not 0. */
  words: Int32Array
  /** Whether any string has one unit (bucket -1). */
  single: boolean
}

function bigramIndex(strings: ReadonlyArray<readonly string[]>): BigramIndex {
  // Sized exactly (empty strings left out), so no views are cut from them: a subject's matcher builds three.
  let n = 0
  for (let i = 0; i < strings.length; i++) for (const s of strings[i]!) if (s.length > 0) n++
  const needle = new Int32Array(n)
  const string: string[] = []
  const bucket = new Int32Array(n)
  const mask = new Uint32Array(BIGRAM_WORDS)
  let single = false
  let k = 0
  for (let i = 0; i < strings.length; i++) {
    const list = strings[i]!
    for (let j = 0; j < list.length; j++) {
      const s = list[j]!
      if (s.length === 0) continue
      needle[k] = i
      string.push(s)
      const h = s.length >= 2 ? bigramOf(s.charCodeAt(0), s.charCodeAt(1)) : -1
      if (h >= 0) mask[h >>> 5]! |= 1 << (h & 31)
      else single = true
      bucket[k++] = h
    }
  }
  let used = 0
  for (let w = 0; w < BIGRAM_WORDS; w++) if (mask[w] !== 0) used++
  const words = new Int32Array(used)
  for (let w = 0, at = 0; w < BIGRAM_WORDS; w++) if (mask[w] !== 0) words[at++] = w
  return { needle, string, bucket, mask, words, single }
}

/**
 * Marks in `hit` every needle with a string of `index` found in `a` (or `b`): exactly the ones probe() marks, the
 * strings whose first pair the haystack lacks never tried.
 */
function probeBigrams(index: BigramIndex, hayBits: Uint32Array, at: number, a: string, b: string | undefined, hit: Uint8Array): number {
  const { mask, words } = index
  let marked = 0
  for (let j = 0; j < words.length; j++) {
    const w = words[j]!
    let x = (hayBits[at + w]! & mask[w]!) >>> 0
    while (x !== 0) {
      const low = x & -x
      x = (x ^ low) >>> 0
      marked += tryBucket(index, (w << 5) | (31 - Math.clz32(low)), a, b, hit)
    }
  }
  if (index.single) marked += tryBucket(index, -1, a, b, hit)
  return marked
}

/**
 * Tries the strings of one bucket (a text holds few of the buckets in use: a scan of the list beats a map); the
 * count of needles it marked.
 */
function tryBucket(index: BigramIndex, h: number, a: string, b: string | undefined, hit: Uint8Array): number {
  const { needle, string, bucket } = index
  let marked = 0
  for (let k = 0; k < bucket.length; k++) {
    if (bucket[k] !== h) continue
    const i = needle[k]!
    if (hit[i] === 1) continue
    const s = string[k]!
    if (contains(a, s) || (b !== undefined && contains(b, s))) {
      hit[i] = 1
      marked++
    }
  }
  return marked
}

const NOTHING_FOUND: Identifier[] = []

/**
 * identifierMatcher on a text's forms made by textHaystack: the same findings, in the same order, no cache lookup.
 * What it returns is shared (by the texts that found nothing, and by a caller that keeps findings): never change it.
 * Callers keep the matcher as long as its identifiers recur, so their needles are not kept here as well.
 */
export function haystackMatcher(identifiers: readonly Identifier[]): (h: TextHaystack) => Identifier[] {
  const needles = identifiers.map((id) => needlesOf(id, false))
  if (needles.length === 0) return () => NOTHING_FOUND
  const strip = bigramIndex(needles.map((n) => n.strip))
  const fold = bigramIndex(needles.map((n) => n.fold))
  const loose = bigramIndex(needles.map((n) => n.loose))
  // Calls are synchronous: one scratch array serves them all, cleared as it is read.
  const hit = new Uint8Array(needles.length)
  return (h) => {
    const marked = probeBigrams(strip, h.bits, STRIP_AT, h.hay.strip, h.hay.stripMarked, hit) +
      probeBigrams(fold, h.bits, FOLD_AT, h.hay.fold, undefined, hit) +
      probeBigrams(loose, h.bits, LOOSE_AT, h.hay.loose, h.hay.looseMarked, hit)
    let found = NOTHING_FOUND
    // Almost every text holds none of the needles: nothing marked, nothing to clear.
    if (marked === 0) return found
    for (let i = 0; i < needles.length; i++) {
      if (hit[i] !== 1) continue
      hit[i] = 0
      if (found === NOTHING_FOUND) found = []
      found.push(needles[i]!.id)
    }
    return found
  }
}

/** Whether a needle form's pair of first units is among a haystack's (strings of one unit: always maybe). */
function mayHold(hayBits: Uint32Array, at: number, s: string): boolean {
  if (s.length < 2) return true
  const h = bigramOf(s.charCodeAt(0), s.charCodeAt(1))
  return (hayBits[at + (h >>> 5)]! & (1 << (h & 31))) !== 0
}

/**
 * haystackMatcher for a few identifiers used once (a record's own ID): each needle tried directly, no index built
 * and its needles not kept (they would push out the ones that recur).
 */
export function fewIdentifiersMatcher(identifiers: readonly Identifier[]): (h: TextHaystack) => Identifier[] {
  const needles = identifiers.map((id) => needlesOf(id, false))
  return (h) => {
    let found = NOTHING_FOUND
    for (const n of needles) {
      if (!matchesBits(n, h)) continue
      if (found === NOTHING_FOUND) found = []
      found.push(n.id)
    }
    return found
  }
}

/** Whether any of the needle's strings is in its forms of the text (those whose first pair it lacks are skipped). */
function matchesBits(n: Needle, h: TextHaystack): boolean {
  const hay = h.hay
  for (const s of n.strip) if (mayHold(h.bits, STRIP_AT, s) && (contains(hay.strip, s) || contains(hay.stripMarked, s))) return true
  for (const s of n.fold) if (mayHold(h.bits, FOLD_AT, s) && contains(hay.fold, s)) return true
  for (const s of n.loose) if (mayHold(h.bits, LOOSE_AT, s) && (contains(hay.loose, s) || contains(hay.looseMarked, s))) return true
  return false
}

/** Share of characters that are printable (no C0/C1 controls other than tab/CR/LF/FF, no U+FFFD). */
function printableShare(s: string): number {
  if (s.length === 0) return 0
  let ok = 0
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) || (c >= 0x7f && c < 0xa0)) continue
    ok++
  }
  return ok / [...s].length
}

/** UN values (private data whose VR the writer did not know) count as text when at least this share is printable. */
const UN_PRINTABLE_SHARE = 0.9

/**
 * The text of an element, or undefined when it holds none. UN is decoded as LT with the dataset's character set
 * (ISO 2022 escapes included) and kept only when it reads as mostly printable text: a private LO written as UN.
 */
function textOf(el: DicomElement, ds: DicomDataset): string | undefined {
  if (!el.bytes) return undefined
  if (TEXT_VRS.has(el.vr)) return decodeText(el.bytes, ds.charset, el.vr)
  if (el.vr === 'UN') {
    const t = decodeText(el.bytes, ds.charset, 'LT').replace(/[\0 ]+$/, '')
    return t.length >= 2 && printableShare(t) >= UN_PRINTABLE_SHARE ? t : undefined
  }
  return undefined
}

function describe(el: DicomElement): string {
  return `${keywordOf(el.tag) ?? 'private element'} ${tagString(el.tag)}`
}

/** PHI patterns of one text (bit 1: phone, bit 2: postal code). */
function patternsOf(text: string): number {
  // Neither a phone number (10 digits) nor a postal code (7) fits in an ASCII text with fewer than 7 digits, and
  // for ASCII, NFKC changes nothing: most values (codes, short numbers) are settled here without a regex.
  if (ASCII.test(text)) {
    let digits = 0
    for (let i = 0; i < text.length && digits < 7; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x30 && c <= 0x39) digits++
    }
    if (digits < 7) return 0
  }
  const nfkc = text.normalize('NFKC')
  return (phoneIn(nfkc) ? 1 : 0) | (POSTAL.test(nfkc) ? 2 : 0)
}

const ASCII = /^[\x00-\x7f]*$/

/**
 * What the scan needs of one element value, made once per distinct value (VR, character sets and bytes): most
 * values (codes, vendor strings, pseudonyms, method descriptions) repeat in every object of a series, so an
 * object costs one lookup per element and full work only for the few values that change (position, number).
 */
interface ValueInfo {
  /** The decoded text; '' when the value holds none (empty, or UN that does not read as text). */
  text: string
  numberValued: boolean
  /** Kept in VALUES (short): only such values have their needle results kept too. */
  cached: boolean
  /** PHI pattern bits (see patternsOf); -1 until asked for. */
  patterns: number
  /** Normalised forms, made when a subject's needles are first searched in this value. */
  hay?: IndexedHaystack
}

/** Values by character sets, VR and bytes (the text depends on nothing else); bounded, cleared when full. */
const VALUES = new Map<string, Map<Vr, Map<string, ValueInfo>>>()
let valueCount = 0
const VALUES_MAX = 8192
/** Longer values (narratives, rarely repeated) are not kept. */
const VALUE_BYTES_MAX = 256

/** The bytes as a string, one char per byte: a cache key, never shown. */
function bytesKey(b: Uint8Array): string {
  if (b.length >= 64) return String.fromCharCode.apply(null, b as unknown as number[])
  let s = ''
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!)
  return s
}

/** The values of one dataset's character sets, by VR. */
function valuesFor(charsetKey: string): Map<Vr, Map<string, ValueInfo>> {
  let m = VALUES.get(charsetKey)
  if (m === undefined) VALUES.set(charsetKey, (m = new Map()))
  return m
}

function valueInfo(el: DicomElement & { bytes: Uint8Array }, ds: DicomDataset, byVr: Map<Vr, Map<string, ValueInfo>>): ValueInfo {
  const short = el.bytes.length <= VALUE_BYTES_MAX
  let values: Map<string, ValueInfo> | undefined
  let key = ''
  if (short) {
    values = byVr.get(el.vr)
    if (values === undefined) byVr.set(el.vr, (values = new Map()))
    key = bytesKey(el.bytes)
    const v = values.get(key)
    if (v !== undefined) return v
  }
  const v: ValueInfo = { text: textOf(el, ds) ?? '', numberValued: el.vr === 'DS' || el.vr === 'IS', cached: short, patterns: -1 }
  if (values !== undefined) {
    if (valueCount >= VALUES_MAX) {
      // Cleared whole; this dataset's map is detached with it, so its values from here on are simply not shared.
      VALUES.clear()
      valueCount = 0
    }
    values.set(key, v)
    valueCount++
  }
  return v
}

const NO_HITS: readonly number[] = []

/**
 * One set of needles (a subject's identifiers less the retained ones), built once and kept while objects with the
 * same identifiers arrive, with the needles found per distinct value.
 */
class SubjectMatcher {
  readonly needles: Needle[]
  private readonly stripIndex: NeedleIndex
  private readonly foldIndex: NeedleIndex
  private readonly looseIndex: NeedleIndex
  /** Per needle: its all-digit IDs when number-valued elements compare it by whole value (see matchesNumberValue). */
  private readonly numeric: Array<string[] | undefined>
  private readonly anyNumeric: boolean
  private readonly hit: Uint8Array
  private readonly found = new Map<ValueInfo, readonly number[]>()

  constructor(ids: readonly Identifier[]) {
    this.needles = ids.map((id) => needlesOf(id))
    this.stripIndex = indexNeedles(this.needles.map((n) => n.strip))
    this.foldIndex = indexNeedles(this.needles.map((n) => n.fold))
    this.looseIndex = indexNeedles(this.needles.map((n) => n.loose))
    this.numeric = this.needles.map((n) => (n.id.kind !== 'date' && allDigits(n) ? n.strip.filter((x) => DIGITS.test(x)) : undefined))
    this.anyNumeric = this.numeric.some((x) => x !== undefined)
    this.hit = new Uint8Array(this.needles.length)
  }

  /** Indices of the needles found in a value, in needle order. */
  find(v: ValueInfo): readonly number[] {
    if (!v.cached) return this.search(v)
    let r = this.found.get(v)
    if (r === undefined) {
      r = this.search(v)
      if (this.found.size >= FOUND_MAX) this.found.clear()
      this.found.set(v, r)
    }
    return r
  }

  private search(v: ValueInfo): readonly number[] {
    const text = v.text
    const h = v.cached ? (v.hay ??= cachedHaystackOf(text)) : cachedHaystackOf(text)
    const hit = this.hit
    hit.fill(0)
    probe(this.stripIndex, h.strip, h.hay.strip, h.hay.stripMarked, hit)
    probe(this.foldIndex, h.fold, h.hay.fold, undefined, hit)
    probe(this.looseIndex, h.loose, h.hay.loose, h.hay.looseMarked, hit)
    if (!(v.numberValued && this.anyNumeric) && hit.indexOf(1) < 0) return NO_HITS
    const out: number[] = []
    for (let i = 0; i < this.needles.length; i++) {
      const ids = this.numeric[i]
      if (v.numberValued && ids !== undefined ? matchesNumberValue(this.needles[i]!, text, ids) : hit[i] === 1) out.push(i)
    }
    return out.length === 0 ? NO_HITS : out
  }
}

const MATCHERS = new Map<string, SubjectMatcher>()
const MATCHERS_MAX = 32
/** Per matcher, the values judged; bounded like VALUES (this holds their ValueInfos alive). */
const FOUND_MAX = 4096

const sourceKeyword = (id: Identifier) => id.source.replace(/ \([a-z]+ group\)$/, '').split(' > ').pop()!

/** The matcher for these identifiers less those from retained sources: the same one for each object of a subject. */
function matcherFor(identifiers: readonly Identifier[], retained: ReadonlySet<string> | undefined): SubjectMatcher | undefined {
  if (identifiers.length === 0) return undefined
  if (last !== undefined && sameIdentifiers(last.ids, identifiers) && sameSet(last.retained, retained)) return last.matcher
  const m = matcherByContent(identifiers, retained)
  last = { ids: identifiers.slice(), retained: retained && new Set(retained), matcher: m }
  return m
}

// The previous call's identifiers: consecutive objects are usually of one subject, and collectIdentifiers hands
// out the same frozen Identifier objects for them, so comparing references settles it without building a key.
let last: { ids: readonly Identifier[]; retained: ReadonlySet<string> | undefined; matcher: SubjectMatcher | undefined } | undefined

/** Same frozen objects in the same order (a frozen Identifier cannot have changed since). */
function sameIdentifiers(a: readonly Identifier[], b: readonly Identifier[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] || !Object.isFrozen(b[i])) return false
  return true
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  const na = a?.size ?? 0
  if (na !== (b?.size ?? 0)) return false
  if (na > 0) for (const x of a!) if (!b!.has(x)) return false
  return true
}

function matcherByContent(identifiers: readonly Identifier[], retained: ReadonlySet<string> | undefined): SubjectMatcher | undefined {
  let key = retained && retained.size > 0 ? [...retained].sort().join('\u0001') : ''
  for (const id of identifiers) key += `\u0002${id.kind}\u0001${id.source}\u0001${id.value}`
  let m = MATCHERS.get(key)
  if (m === undefined) {
    const kept = retained && retained.size > 0 ? identifiers.filter((id) => !retained.has(sourceKeyword(id))) : identifiers
    if (kept.length === 0) return undefined
    m = new SubjectMatcher(kept)
    if (MATCHERS.size >= MATCHERS_MAX) MATCHERS.clear()
    MATCHERS.set(key, m)
  }
  return m
}

/** Scans the OUTPUT for the SOURCE's identifiers and for PHI patterns; clean when nothing was found. */
export function verifyDeidentified(output: ParsedDicom, identifiers: Identifier[], opts: VerifyOptions = {}): VerifyResult {
  const matcher = matcherFor(identifiers, opts.retainedSources)
  const needles = matcher?.needles
  const findings: Finding[] = []
  const patterns = opts.patterns ?? true

  const visit = (ds: DicomDataset, prefix: string, where: string) => {
    let byVr: Map<Vr, Map<string, ValueInfo>> | undefined
    for (const el of ds.elements.values()) {
      // Paths and descriptions are made only for a finding or a sequence: most elements have neither (and no
      // closure per element: under tsx each named one costs a defineProperty).
      if (el.items) {
        const p = prefix + tagHex(el.tag), a = where + describe(el)
        el.items.forEach((item, i) => visit(item, `${p}/${i}/`, `${a} item ${i} > `))
        continue
      }
      // Binary VRs, UIDs and pixel data hold no text: skipped before anything else.
      if (!TEXT_VRS.has(el.vr) && el.vr !== 'UN') continue
      if (!el.bytes) {
        // Fail closed: a value we could not read is a value we could not check (read the output with a
        // bulkDataThreshold large enough to load every UN value).
        if (el.length > 0) findings.push({ path: prefix + tagHex(el.tag), keyword: keywordOf(el.tag), kind: 'unchecked', reason: `${where + describe(el)} was not loaded, so it could not be checked` })
        continue
      }
      if (el.bytes.length === 0) continue
      const v = valueInfo(el as DicomElement & { bytes: Uint8Array }, ds, (byVr ??= valuesFor(ds.charset.join('\\'))))
      if (!v.text) continue
      if (matcher !== undefined && needles !== undefined) {
        const hits = matcher.find(v)
        let vendorString: boolean | undefined
        // One finding per element and identifier source: the whole name and its components usually hit together.
        let reported: Set<string> | undefined
        for (const i of hits) {
          const n = needles[i]!
          if (n.id.kind === 'institution') {
            vendorString ??= ds === output.dataset && el.tag === MANUFACTURER && sameBytes(el.bytes, opts.source?.dataset.elements.get(MANUFACTURER)?.bytes)
            if (vendorString) continue
          }
          const key = `${n.id.kind}\u0000${n.id.source}`
          if (reported?.has(key)) continue
          ;(reported ??= new Set()).add(key)
          findings.push({ path: prefix + tagHex(el.tag), keyword: keywordOf(el.tag), kind: n.id.kind, reason: `${n.id.source} of the source found in ${where + describe(el)}` })
        }
      }
      if (!patterns) continue
      const m = v.patterns >= 0 ? v.patterns : (v.patterns = patternsOf(v.text))
      if (m & 1) findings.push({ path: prefix + tagHex(el.tag), keyword: keywordOf(el.tag), kind: 'pattern:phone', reason: `a telephone number pattern found in ${where + describe(el)}` })
      if (m & 2) findings.push({ path: prefix + tagHex(el.tag), keyword: keywordOf(el.tag), kind: 'pattern:postal-code', reason: `a postal code pattern found in ${where + describe(el)}` })
    }
  }
  visit(output.meta, '', '')
  visit(output.dataset, '', '')

  if (opts.requireIdentityRemoved ?? true) {
    const v = getString(output.dataset, PATIENT_IDENTITY_REMOVED)?.trim().toUpperCase()
    if (v !== 'YES') {
      findings.push({
        path: tagHex(PATIENT_IDENTITY_REMOVED),
        keyword: 'PatientIdentityRemoved',
        kind: 'identity-not-removed',
        reason: `PatientIdentityRemoved ${tagString(PATIENT_IDENTITY_REMOVED)} is ${v === undefined ? 'absent' : v === '' ? 'empty' : 'not YES'} in the output`,
      })
    }
  }
  return { clean: findings.length === 0, findings }
}
