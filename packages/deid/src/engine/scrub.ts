/**
 * @module The descriptor scrubber (PS3.15 E.3.4 Clean Structured Content, E.3.5 Clean Descriptors): keeps a text
 * value but cuts out the subject's own identifiers (names in any script or spelling, IDs, the birth date in
 * Gregorian and Japanese-era formats), each replaced by "*".
 *
 * Deliberately separate from verify/ (the second line of defence must not share the first line's mistakes): the
 * matching idea is the same (NFKC, kana folded to hiragana, case and separators ignored, romaji long vowels folded)
 * but this code keeps a map from every folded character back to the original text, so it can cut spans out.
 */
import { elementPersonNames, elementStrings, type DicomDataset, type ParsedDicom, type Tag } from '@kura/dicom'

/** A folded character and the original UTF-16 span it came from. */
export interface Folded {
  text: string
  start: number[]
  end: number[]
}

// Separators ignored when matching (NFKC has already made full-width forms ASCII).
const SEP = /^[\^=\s\u3000\-\u2010-\u2015\u2212.\/,_\\・·:：()（）]$/
const COMBINING_KANA = /^[\u3099\u309a]$/

function hiragana(c: string): string {
  const n = c.codePointAt(0)!
  return n >= 0x30a1 && n <= 0x30f6 ? String.fromCodePoint(n - 0x60) : c
}

/** Printable ASCII separators of SEP, by char code (the fast path below must fold exactly as SEP does). */
const ASCII_SEP = new Uint8Array(128)
for (let c = 0x20; c < 0x7f; c++) if (SEP.test(String.fromCharCode(c))) ASCII_SEP[c] = 1

/** Folds `s` (NFKC, hiragana, lower case, no separators), remembering where each folded character came from. */
function fold(s: string): Folded {
  const out: Folded = { text: '', start: [], end: [] }
  // Most values are printable ASCII, which NFKC leaves alone: fold them without normalising each character
  // (measured: per-character normalize() was the engine's largest single cost on small CT objects).
  if (/^[\x20-\x7e]*$/.test(s)) {
    const lower = s.toLowerCase()
    let text = ''
    for (let i = 0; i < lower.length; i++) {
      if (ASCII_SEP[lower.charCodeAt(i)]) continue
      text += lower[i]
      out.start.push(i)
      out.end.push(i + 1)
    }
    out.text = text
    return out
  }
  const chars: string[] = []
  let i = 0
  for (const cp of s) {
    const from = i
    i += cp.length
    const n = cp.normalize('NFKC')
    // Half-width ﾀﾞ is two characters; its voiced mark becomes a combining one that belongs to the kana before it.
    if (COMBINING_KANA.test(n) && chars.length > 0) {
      const last = chars.length - 1
      const composed = hiragana(`${chars[last]!}${n}`.normalize('NFC'))
      if ([...composed].length === 1) {
        chars[last] = composed
        out.end[last] = i
        continue
      }
    }
    for (const c of n) {
      const f = hiragana(c).toLowerCase()
      if (SEP.test(f)) continue
      chars.push(f)
      out.start.push(from)
      out.end.push(i)
    }
  }
  out.text = chars.join('')
  return out
}

/** Romaji long vowels folded (ou/oo/oh+consonant → o, uu → u) on a folded text, keeping the span map. */
export function foldRomaji(f: Folded): Folded {
  const out: Folded = { text: '', start: [], end: [] }
  const t = [...f.text]
  const chars: string[] = []
  for (let k = 0; k < t.length; k++) {
    const c = t[k]!
    const next = t[k + 1]
    const merge = (c === 'o' && (next === 'u' || next === 'o' || (next === 'h' && !/[aiueoy]/.test(t[k + 2] ?? '')))) || (c === 'u' && next === 'u')
    chars.push(c)
    out.start.push(f.start[k]!)
    out.end.push(merge ? f.end[k + 1]! : f.end[k]!)
    if (merge) k++
  }
  out.text = chars.join('')
  return out
}

const plain = (s: string): string => fold(s).text
const plainRomaji = (s: string): string => foldRomaji(fold(s)).text

const ERAS: ReadonlyArray<{ start: string; kanji: string; letter: string }> = [
  { start: '18680125', kanji: '明治', letter: 'm' },
  { start: '19120730', kanji: '大正', letter: 't' },
  { start: '19261225', kanji: '昭和', letter: 's' },
  { start: '19890108', kanji: '平成', letter: 'h' },
  { start: '20190501', kanji: '令和', letter: 'r' },
]

/** A birth date 'YYYYMMDD' as people write it, folded: 1980/3/1, 1980年03月01日, 昭和55年3月1日, S55.3.1, 令和元年5月1日 … */
function dateNeedles(yyyymmdd: string): string[] {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(yyyymmdd)
  if (!m) return []
  const [y, mo, d] = [m[1]!, +m[2]!, +m[3]!]
  const md: Array<[string, string]> = [[String(mo), String(d)], [m[2]!, m[3]!]]
  const out = new Set<string>()
  for (const [a, b] of md) {
    out.add(plain(`${y}/${a}/${b}`))
    out.add(plain(`${y}年${a}月${b}日`))
  }
  const era = [...ERAS].reverse().find((e) => yyyymmdd >= e.start)
  if (era) {
    const year = +y - +era.start.slice(0, 4) + 1
    for (const ey of new Set([String(year), String(year).padStart(2, '0'), ...(year === 1 ? ['元'] : [])])) {
      for (const [a, b] of md) {
        out.add(plain(`${era.kanji}${ey}年${a}月${b}日`))
        if (ey !== '元') {
          out.add(plain(`${era.kanji}${ey}.${a}.${b}`))
          out.add(plain(`${era.letter}${ey}.${a}.${b}`))
        }
      }
    }
  }
  return [...out]
}

/** The subject's attributes whose values are cut out of cleaned text. */
const NAME_TAGS: ReadonlySet<Tag> = new Set([0x00100010, 0x00101001, 0x00101005, 0x00101060, 0x00102297])
const ID_TAGS: ReadonlySet<Tag> = new Set([0x00100020, 0x00101000, 0x00080050, 0x00101090, 0x00380010])
const OTHER_PATIENT_IDS_SEQUENCE = 0x00101002
const BIRTH_DATE = 0x00100030
// The same floors as the verification scan: shorter values would cut ordinary words (a 1-kanji given name, "Li").
const MIN_NAME = 2
const MIN_LATIN_NAME = 3
const MIN_ID = 4

export interface Scrubber {
  /** The text with every identifier of the subject replaced by "*", or undefined when none was found. */
  scrub(text: string): string | undefined
}

/**
 * Builds the scrubber for one object from its own Patient's Name(s), IDs and birth date. The needles are collected
 * on the first `scrub` call: most objects have no text the profile keeps, and then cost nothing here.
 */
export function scrubberFor(parsed: ParsedDicom): Scrubber {
  let needles: { plain: ReadonlySet<string>; romaji: ReadonlySet<string> } | null = null
  return {
    scrub(text) {
      needles ??= collectNeedles(parsed)
      return scrubText(text, needles.plain, needles.romaji)
    },
  }
}

function collectNeedles(parsed: ParsedDicom): { plain: ReadonlySet<string>; romaji: ReadonlySet<string> } {
  const plainNeedles = new Set<string>()
  const romajiNeedles = new Set<string>()
  const addName = (v: string) => {
    const p = plain(v)
    if (p.length < (/^[\x00-\x7f]*$/.test(p) ? MIN_LATIN_NAME : MIN_NAME)) return
    plainNeedles.add(p)
    if (/^[a-z]+$/.test(p)) romajiNeedles.add(plainRomaji(v))
  }
  const addId = (v: string) => {
    const p = plain(v)
    if (p.length >= MIN_ID) plainNeedles.add(p)
  }
  const root = parsed.dataset
  const visit = (ds: DicomDataset, top: boolean) => {
    for (const el of ds.elements.values()) {
      if (el.tag === OTHER_PATIENT_IDS_SEQUENCE && el.items) for (const item of el.items) visit(item, false)
      if (!el.bytes || el.bytes.length === 0) continue
      if (NAME_TAGS.has(el.tag) && el.vr === 'PN') {
        for (const pn of elementPersonNames(el, ds)) {
          for (const group of [pn.Alphabetic, pn.Ideographic, pn.Phonetic]) {
            if (!group) continue
            addName(group)
            for (const part of group.split('^')) addName(part)
          }
        }
      } else if (ID_TAGS.has(el.tag)) {
        for (const v of elementStrings(el, ds)) addId(v.trim())
      } else if (top && el.tag === BIRTH_DATE) {
        for (const v of elementStrings(el, ds)) for (const n of dateNeedles(v.trim())) plainNeedles.add(n)
      }
    }
  }
  visit(root, true)
  return { plain: plainNeedles, romaji: romajiNeedles }
}

const isDigit = (c: string | undefined) => c !== undefined && /^\d$/.test(c.normalize('NFKC'))

function spansIn(text: string, f: Folded, needles: ReadonlySet<string>, out: Array<[number, number]>): void {
  for (const n of needles) {
    for (let at = f.text.indexOf(n); at >= 0; at = f.text.indexOf(n, at + 1)) {
      const s = f.start[at]!
      const e = f.end[at + n.length - 1]!
      // A number must stand alone in the ORIGINAL text: 1234567 is not in 91234567, even across a removed space.
      if (isDigit(n[0]) && isDigit(text[s - 1])) continue
      if (isDigit(n[n.length - 1]) && isDigit(text[e])) continue
      out.push([s, e])
    }
  }
}

/** The text with every needle's occurrence replaced by "*", or undefined when none was found. */
function scrubText(text: string, plainNeedles: ReadonlySet<string>, romajiNeedles: ReadonlySet<string>): string | undefined {
  if (plainNeedles.size === 0) return undefined
  const f = fold(text)
  const spans: Array<[number, number]> = []
  spansIn(text, f, plainNeedles, spans)
  if (romajiNeedles.size > 0) spansIn(text, foldRomaji(f), romajiNeedles, spans)
  return spans.length === 0 ? undefined : cutSpans(text, spans)
}

/** `text` with each of the (possibly overlapping) [start, end) spans replaced by one "*". */
export function cutSpans(text: string, spans: Array<[number, number]>): string {
  spans.sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const sp of spans) {
    const last = merged[merged.length - 1]
    if (last && sp[0] <= last[1]) last[1] = Math.max(last[1], sp[1])
    else merged.push([sp[0], sp[1]])
  }
  let out = ''
  let pos = 0
  for (const [s, e] of merged) {
    out += `${text.slice(pos, s)}*`
    pos = e
  }
  return out + text.slice(pos)
}
