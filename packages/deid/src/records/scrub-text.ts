/**
 * @module Free-text cleaning for clinical records: cuts the subject's (and the care team's) identifiers out of a
 * text, however re-typed (kanji; kana in hiragana, katakana, half width; full-width letters and digits; romaji
 * with or without spaces and long vowels; IDs; the birth date in Gregorian and Japanese-era forms; phone;
 * address; postal code), each replaced by "*"; and any telephone number, postal code or street address,
 * whoever's, too.
 *
 * Kept apart from verify/ on purpose (as the DICOM engine's scrub.ts is): the verification scan that runs after
 * must not share this code's mistakes. Matching folds text (NFKC, hiragana, lower case, separators dropped) but
 * keeps, for every folded character, the span of the original text it came from, so spans can be cut out.
 */
import { cutSpans, foldRomaji, type Folded } from '../engine/scrub.ts'
import type { Identifier } from '../verify/identifiers.ts'
import { sharedDateVariants } from '../verify/normalize.ts'

function hiragana(c: string): string {
  const n = c.codePointAt(0)!
  return n >= 0x30a1 && n <= 0x30f6 ? String.fromCodePoint(n - 0x60) : c
}

// Separators ignored when matching, by code point (after NFKC, so full-width forms are already ASCII).
const SEPARATORS = new Set([...'^= \t\n\r\f\v\u3000-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc./,_\\・·:：()（）'].map((c) => c.codePointAt(0)!))
// The same set as a table by code unit (all are in the BMP): one load per unit where a Set lookup hashed the number.
const SEPARATOR_UNITS = new Uint8Array(0x10000)
for (const c of SEPARATORS) SEPARATOR_UNITS[c] = 1
const isSeparator = (c: number): boolean => c < 0x10000 && SEPARATOR_UNITS[c] === 1

/** Code points NFKC leaves alone and folding only lower-cases or moves to hiragana: the common case, no normalize(). */
const stable = (c: number): boolean =>
  c < 0x7f || (c >= 0x3041 && c <= 0x3096) || (c >= 0x30a1 && c <= 0x30fc) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3001 && c <= 0x3003)

/**
 * The folded unit of a code point folded without normalize(): a stable one, or a full-width form (U+FF01–FF5E, which
 * NFKC maps to the ASCII character 0xFEE0 below: addresses and IDs typed in full width); -1 for any other.
 */
function simpleFold(c: number): number {
  if (c >= 0xff01 && c <= 0xff5e) c -= 0xfee0
  else if (!stable(c)) return -1
  return c >= 0x41 && c <= 0x5a ? c + 32 : c >= 0x30a1 && c <= 0x30f6 ? c - 0x60 : c
}

/** NFKC, hiragana, lower case, separators dropped, with the span map. */
function fold(s: string): Folded {
  const start: number[] = []
  const end: number[] = []
  let text = ''
  let i = 0
  for (const cp of s) {
    const from = i
    i += cp.length
    const c = cp.codePointAt(0)!
    let n: string
    const simple = simpleFold(c)
    if (simple >= 0) n = simple === c ? cp : String.fromCharCode(simple)
    else {
      n = cp.normalize('NFKC')
      // Half-width ﾀﾞ: its voiced mark becomes a combining one that belongs to the kana before it.
      if ((n === '\u3099' || n === '\u309a') && text.length > 0) {
        const last = [...text].pop()!
        const composed = hiragana(`${last}${n}`.normalize('NFC'))
        if ([...composed].length === 1) {
          text = text.slice(0, text.length - last.length) + composed
          end[end.length - 1] = i
          continue
        }
      }
      n = [...n].map((ch) => hiragana(ch).toLowerCase()).join('')
    }
    for (const f of n) {
      const fc = f.codePointAt(0)!
      // The prolonged sound mark ー is kept in kana names (タロー) but is a dash between digits (03ー1234).
      if (isSeparator(fc) && !(fc === 0x30fc && !isAsciiDigitAt(text))) continue
      text += f
      start.push(from)
      end.push(i)
    }
  }
  return { text, start, end }
}

const isAsciiDigitAt = (t: string): boolean => {
  const c = t.charCodeAt(t.length - 1)
  return c >= 0x30 && c <= 0x39
}


/**
 * fold(s).text for text whose code units all fold without normalize() (see simpleFold), without the span map; else
 * undefined. The same folding, one code unit at a time; `s` itself when folding changes nothing (most texts).
 */
function plainStable(s: string): string | undefined {
  // Runs of units that fold to themselves are copied as slices of `s` (from `from`), not unit by unit.
  let out = ''
  let from = 0
  let last = -1
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const f = simpleFold(c)
    if (f < 0) return undefined
    // The prolonged sound mark is dropped only after a digit (see fold).
    if (isSeparator(f) && !(f === 0x30fc && !(last >= 0x30 && last <= 0x39))) {
      out += s.slice(from, i)
      from = i + 1
      continue
    }
    if (f !== c) {
      out += s.slice(from, i) + String.fromCharCode(f)
      from = i + 1
    }
    last = f
  }
  return from === 0 ? s : out + s.slice(from)
}

const plain = (s: string): string => plainStable(s) ?? fold(s).text
/**
 * foldRomaji(p).text for `p` of Latin letters a–z only (a name's folded needle): the same merges (ou, oo, oh before
 * anything but a vowel or y → o; uu → u), one unit at a time, without the span map foldRomaji builds.
 */
function romajiOf(p: string): string {
  let out = ''
  for (let k = 0; k < p.length; k++) {
    const c = p.charCodeAt(k)
    const next = p.charCodeAt(k + 1)
    out += p[k]
    // o + u | o | h (not before a, i, u, e, o, y; also at the end); u + u.
    if ((c === 0x6f && (next === 0x75 || next === 0x6f || (next === 0x68 && !VOWEL_OR_Y.includes(p[k + 2] ?? '-')))) || (c === 0x75 && next === 0x75)) k++
  }
  return out
}
const VOWEL_OR_Y = 'aiueoy'
const isDigit = (c: string | undefined): boolean => c !== undefined && /^\d$/.test(c.normalize('NFKC'))

// Any telephone number (0X-XXXX-XXXX forms, +81, compact 10/11 digits) and postal code (〒123-4567, 郵便番号).
const DASH = '[-\\u2010-\\u2015\\u2212\\u30fc\\uff0d. ]'
const PHONE = new RegExp(`(?<![\\d.\\-])(?:\\+81${DASH}?\\(?|\\(?0)\\d{1,4}(?:${DASH}|[()（）]){1,2}\\d{1,4}(?:${DASH}|[)）]){1,2}\\d{3,4}(?!\\d)|(?<![\\d.])(?:0[1-9]\\d{8}|0[5789]0\\d{8})(?![\\d.])`, 'g')
const POSTAL = /〒\s*\d{3}[-\u2010-\u2015\u2212\u30fc]?\d{4}(?!\d)|(?:郵便番号|postal\s*code|zip(?:\s*code)?)\s*[:：]?\s*\d{3}-?\d{4}(?!\d)/gi

// A Japanese street address, whoever's: a prefecture (or a city/ward/county) and the place names up to its block
// numbers (1-2-3, 1丁目2番3号, 1番地). Free text quotes referral addresses the record's subject fields do not hold.
const ADDRESS = /(?:北海道|東京都|(?:京都|大阪)府|[\u4e00-\u9fff]{2,3}県|[\u4e00-\u9fff\u30a0-\u30ff]{1,5}[市区郡])[\u4e00-\u9fff\u3040-\u30ffヶ]{1,24}?[0-9０-９一二三四五六七八九十]+(?:(?:丁目|番地?|号|[-－ーの‐])[0-9０-９]*){0,4}(?:号)?/g

const MAY_HOLD_PATTERN = /[0-9０-９一二三四五六七八九十]/

export interface TextScrubber {
  /** The text with every identifier replaced by "*", or undefined when there was nothing to cut. */
  scrub(text: string): string | undefined
}

interface IdentifierNeedles {
  plain: string[]
  romaji: string[]
}

// An identifier's needles (folded forms, date variants, romaji) depend only on its kind and value; one subject's
// come back with every record of it, so they are made once. Bounded, cleared when full.
const NEEDLES = new Map<string, IdentifierNeedles>()
const NEEDLES_MAX = 4096

function needlesOf(id: Identifier, cache = true): IdentifierNeedles {
  const key = `${id.kind}\u0000${id.value}`
  let n = NEEDLES.get(key)
  if (n !== undefined) return n
  n = { plain: [], romaji: [] }
  if (!cache) return makeNeedles(id, n)
  if (NEEDLES.size >= NEEDLES_MAX) NEEDLES.clear()
  NEEDLES.set(key, makeNeedles(id, n))
  return n
}

function makeNeedles(id: Identifier, n: IdentifierNeedles): IdentifierNeedles {
  if (id.kind === 'date') {
    n.plain.push(id.value)
    for (const v of sharedDateVariants(id.value)) n.plain.push(plain(v))
  } else {
    const p = plain(id.value)
    if (p.length > 0) {
      n.plain.push(p)
      if (id.kind === 'name' && /^[a-z]+$/.test(p)) n.romaji.push(romajiOf(p))
    }
  }
  return n
}

/**
 * Pairs of code units a folded text holds, hashed into 1,024 bits: a needle of two or more units occurs only
 * where its first pair does, so most needles are ruled out by one bit instead of a search.
 */
const PAIR_WORDS = 32
const pairOf = (a: number, b: number): number => (Math.imul(a, 0x27d4eb2d) ^ Math.imul(b, 0x165667b1)) >>> 22

function pairsOf(s: string): Uint32Array {
  const bits = new Uint32Array(PAIR_WORDS)
  for (let i = 0; i + 1 < s.length; i++) {
    const h = pairOf(s.charCodeAt(i), s.charCodeAt(i + 1))
    bits[h >>> 5]! |= 1 << (h & 31)
  }
  return bits
}

/** A needle's first pair (see pairsOf), or -1 for a needle of one unit (always searched). */
const firstPair = (n: string): number => (n.length >= 2 ? pairOf(n.charCodeAt(0), n.charCodeAt(1)) : -1)

function firstPairs(needles: readonly string[]): Int32Array {
  const first = new Int32Array(needles.length)
  for (let k = 0; k < needles.length; k++) first[k] = firstPair(needles[k]!)
  return first
}

/** Where `needles` occur in the folded text, as spans of the original `text`; `pairs` are pairsOf(f.text). */
function spansIn(text: string, f: Folded, pairs: Uint32Array, needles: readonly string[], first: Int32Array, out: Array<[number, number]>): void {
  for (let k = 0; k < needles.length; k++) {
    const n = needles[k]!
    if (n.length === 0) continue
    const h = first[k]!
    if (h >= 0 && (pairs[h >>> 5]! & (1 << (h & 31))) === 0) continue
    for (let at = f.text.indexOf(n); at >= 0; at = f.text.indexOf(n, at + 1)) {
      const s = f.start[at]!
      const e = f.end[at + n.length - 1]!
      // A number must stand alone in the ORIGINAL text: 1234567 is not in 91234567.
      if (isDigit(n[0]) && isDigit(text[s - 1])) continue
      if (isDigit(n[n.length - 1]) && isDigit(text[e])) continue
      out.push([s, e])
    }
  }
}

/** What a text holds whatever the identifiers: its folded forms and where its patterns are. Made when first asked. */
interface TextForms {
  /** fold(text).text, made without the span map when the text is stable (see plainStable). */
  plain?: string
  plainPairs?: Uint32Array
  folded?: Folded
  romaji?: Folded
  romajiPairs?: Uint32Array
  patterns?: Array<[number, number]>
}

// Record texts recur (departments, scope models, report phrases): their forms are kept, by text. Bounded, cleared
// when full; long texts are not kept.
const FORMS = new Map<string, TextForms>()
const FORMS_MAX = 4096
const FORMS_TEXT_MAX = 512

function formsOf(text: string): TextForms {
  if (text.length > FORMS_TEXT_MAX) return {}
  let f = FORMS.get(text)
  if (f === undefined) {
    if (FORMS.size >= FORMS_MAX) FORMS.clear()
    FORMS.set(text, (f = {}))
  }
  return f
}

/** Telephone numbers, postal codes and street addresses in the text, whoever's, as spans of it. */
function patternSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = []
  // Patterns run on the text itself when NFKC keeps its length (offsets stay valid), else on each character's
  // NFKC form joined, which keeps one character per code unit for the digits and dashes they look for.
  // Every pattern needs a digit (or a kanji numeral in an address): most values have none.
  if (MAY_HOLD_PATTERN.test(text)) {
    const nfkc = text.normalize('NFKC')
    const probe = nfkc.length === text.length ? nfkc : [...text].map((c) => { const n = c.normalize('NFKC'); return n.length === c.length ? n : c }).join('')
    for (const re of [PHONE, POSTAL, ADDRESS]) for (const m of probe.matchAll(re)) spans.push([m.index, m.index + m[0].length])
  }
  return spans
}

/** The needles of a set of identifiers, each once, with their first pairs (see firstPair). */
interface NeedleSet {
  plain: string[]
  plainFirst: Int32Array
  romaji: string[]
  romajiFirst: Int32Array
}

function needleSet(identifiers: readonly Identifier[], cache = true): NeedleSet {
  const plainSet = new Set<string>()
  const romajiSet = new Set<string>()
  for (const id of identifiers) {
    const n = needlesOf(id, cache)
    for (const p of n.plain) plainSet.add(p)
    for (const r of n.romaji) romajiSet.add(r)
  }
  const plain = [...plainSet]
  const romaji = [...romajiSet]
  return { plain, plainFirst: firstPairs(plain), romaji, romajiFirst: firstPairs(romaji) }
}

// Needle sets of identifier lists that recur across subjects (a care team's names and IDs), by the caller's key.
const KEYED_SETS = new Map<string, NeedleSet>()
const KEYED_SETS_MAX = 1024

function keyedNeedleSet(identifiers: readonly Identifier[], key: string): NeedleSet {
  let set = KEYED_SETS.get(key)
  if (set === undefined) {
    if (KEYED_SETS.size >= KEYED_SETS_MAX) KEYED_SETS.clear()
    KEYED_SETS.set(key, (set = needleSet(identifiers)))
  }
  return set
}

/** Whether any of `needles` occurs in `t` (its pairs are `pairs`): a text that holds none needs no spans. */
function anyIn(t: string, pairs: Uint32Array, needles: readonly string[], first: Int32Array): boolean {
  for (let k = 0; k < needles.length; k++) {
    const n = needles[k]!
    if (n.length === 0) continue
    const h = first[k]!
    if (h >= 0 && (pairs[h >>> 5]! & (1 << (h & 31))) === 0) continue
    if (t.indexOf(n) >= 0) return true
  }
  return false
}

const LATIN_LETTER = /[a-z]/

class Scrubber implements TextScrubber {
  private readonly plainCount: number
  private readonly romajiCount: number

  constructor(private readonly sets: readonly NeedleSet[]) {
    let plainCount = 0
    let romajiCount = 0
    for (const set of sets) {
      plainCount += set.plain.length
      romajiCount += set.romaji.length
    }
    this.plainCount = plainCount
    this.romajiCount = romajiCount
  }

  /**
   * This scrubber's needles and those of more identifiers (a subject's scrubber, and one record's own IDs). Without
   * a key they are one record's (its ID): their needles are not kept, so they do not push out the ones that recur.
   */
  with(identifiers: readonly Identifier[], key?: string): Scrubber {
    return new Scrubber([...this.sets, key === undefined ? needleSet(identifiers, false) : keyedNeedleSet(identifiers, key)])
  }

  scrub(text: string): string | undefined {
    // Every occurrence of every needle becomes a span and overlapping spans are merged, so neither the order of
    // the needles nor a needle given twice (in two sets) changes the result.
    const forms = formsOf(text)
    let spans: Array<[number, number]> | undefined
    if (this.plainCount > 0) {
      // The folded text alone is searched first: only a text that holds a needle needs fold()'s span map.
      const t = (forms.plain ??= plainStable(text) ?? (forms.folded ??= fold(text)).text)
      const pairs = (forms.plainPairs ??= pairsOf(t))
      let held = false
      for (const set of this.sets) if (!held) held = anyIn(t, pairs, set.plain, set.plainFirst)
      if (held) {
        const f = (forms.folded ??= fold(text))
        spans = []
        for (const set of this.sets) spansIn(text, f, pairs, set.plain, set.plainFirst, spans)
      }
      // Romaji needles are Latin letters, which romaji folding only merges: a text without any holds none.
      if (this.romajiCount > 0 && LATIN_LETTER.test(t)) {
        const r = (forms.romaji ??= foldRomaji((forms.folded ??= fold(text))))
        const romajiPairs = (forms.romajiPairs ??= pairsOf(r.text))
        spans ??= []
        for (const set of this.sets) spansIn(text, r, romajiPairs, set.romaji, set.romajiFirst, spans)
      }
    }
    const patterns = (forms.patterns ??= patternSpans(text))
    if (patterns.length > 0) {
      spans ??= []
      for (const sp of patterns) spans.push([sp[0], sp[1]])
    }
    return spans === undefined || spans.length === 0 ? undefined : cutSpans(text, spans)
  }
}

/**
 * A scrubber for the given identifiers (collectRecordIdentifiers). With `base` (a scrubber made here), for its
 * identifiers and these together: a subject's scrubber is made once and each record adds its own IDs and staff.
 * `key`, when given, names `identifiers` by every kind and value in them (a care team that recurs): their needles
 * are then made once per key.
 */
export function textScrubber(identifiers: readonly Identifier[], base?: TextScrubber, key?: string): TextScrubber {
  if (base instanceof Scrubber) return base.with(identifiers, key)
  if (base !== undefined) throw new TypeError('textScrubber: base must be a scrubber made by textScrubber')
  return new Scrubber([needleSet(identifiers)])
}

/**
 * textScrubber(identifiers) for a caller that keeps the scrubber as long as the identifiers recur (a subject's):
 * their needles are not kept here as well (a cache entry per identifier cost more than it saved).
 */
export function keptTextScrubber(identifiers: readonly Identifier[]): TextScrubber {
  return new Scrubber([needleSet(identifiers, false)])
}
