/** @module Text normalisation and date variants used by the verification scan to match identifiers however they were re-typed. */

/**
 * Separators removed before matching: PN delimiters (^ =), spaces (incl. U+3000 and tabs/newlines), hyphens and
 * dashes (incl. the minus sign), dots, slashes, commas, underscores, the katakana middle dot and backslash.
 * Removing them lets "Yamada^Tarou", "YAMADA TAROU" and "yamada-tarou" all compare equal. NFKC runs first, so
 * full-width forms (＾ ／ －) and the half-width middle dot (･) have already become these characters.
 */
const SEPARATORS = /[\^=\s\u3000\-\u2010-\u2015\u2212.\/,_\\・·]/g

/** Hiragana has the same layout as katakana, 0x60 code points lower (ァ U+30A1 … ヶ U+30F6 ↔ ぁ U+3041 … ゖ U+3096). */
export function katakanaToHiragana(s: string): string {
  // Most texts hold no katakana: returned as they are, not rebuilt character by character.
  if (!KATAKANA.test(s)) return s
  return s.replace(KATAKANA_ALL, (ch) => String.fromCharCode(ch.charCodeAt(0) - 0x60))
}

const KATAKANA = /[\u30a1-\u30f6]/
const KATAKANA_ALL = /[\u30a1-\u30f6]/g

/** NFKC leaves ASCII unchanged: skipped for it (most DICOM values), as it is the costliest step here. */
const ASCII = /^[\x00-\x7f]*$/

function nfkc(s: string): string {
  return ASCII.test(s) ? s : s.normalize('NFKC')
}

/**
 * Loose form, for dates and patterns: NFKC (full-width → ASCII, half-width katakana → full-width, ㍼ → 昭和),
 * katakana folded to hiragana, lower case, whitespace removed (dates are written "昭和 55年 3月 1日" too), but
 * other separators kept, because they carry the structure of a date or phone number.
 */
export function normalizeLoose(s: string): string {
  return katakanaToHiragana(nfkc(s)).toLowerCase().replace(/[\s\u3000]+/g, '')
}

// A run of separators between two digits (after NFKC). Removing it would glue unrelated numbers together.
const DIGIT_BREAK = /(?<=\d)[\^=\s\u3000\-\u2010-\u2015\u2212.\/,_\\・·]+(?=\d)/g
const DIGIT_SPACE = /(?<=\d)[\s\u3000]+(?=\d)/g

/**
 * The text with separators between digits turned into "|", which no normalisation removes and no needle holds.
 * Removing separators (normalizeText) or spaces (normalizeLoose) glues neighbouring numbers, so "No. 5 12345678"
 * becomes "no512345678" and the ID 12345678 no longer stands alone; searching this form as well keeps its edges.
 * `spacesOnly` marks only whitespace, for the loose form whose needles keep their own separators (1980/3/1).
 */
export function markDigitBreaks(s: string, spacesOnly = false): string {
  return nfkc(s).replace(spacesOnly ? DIGIT_SPACE : DIGIT_BREAK, '|')
}

/** Matching form for names and IDs: the loose form with every separator removed. */
export function normalizeText(s: string): string {
  return katakanaToHiragana(nfkc(s)).toLowerCase().replace(SEPARATORS, '')
}

// normalizeText of identifier values, shared by the record identifiers' collection and the scan's needles built
// from them right after (the same values, one subject after another): bounded, cleared when full. Lower-case letters
// and digits (record and order numbers, new with every record) are their own normal form and are not kept.
const NORMAL = new Map<string, string>()
const NORMAL_MAX = 4096
const ALREADY_NORMAL = /^[0-9a-z]+$/

/** normalizeText(s), from a small memo of the values asked for last (identifier values, not texts). */
export function normalizedValue(s: string): string {
  if (ALREADY_NORMAL.test(s)) return s
  let n = NORMAL.get(s)
  if (n === undefined) {
    n = normalizeText(s)
    if (NORMAL.size >= NORMAL_MAX) NORMAL.clear()
    NORMAL.set(s, n)
  }
  return n
}

/**
 * Romaji long-vowel folding, applied to both the identifier and the text: ou/oo/oh+consonant → o and uu → u, so
 * "Tarou", "Taroo", "Taroh" and "Taro" all meet as "taro", and "Yuuko" as "yuko". It works on the already
 * normalised (lower-case, separator-free) form. Only these cheap, common Hepburn variants are folded; ei/ee and
 * the like are left alone because folding them would merge unrelated words too often.
 */
export function foldRomaji(s: string): string {
  // Every fold needs an o or a u: most texts (kanji, kana, digits) have neither and are returned as they are.
  if (s.indexOf('o') < 0 && s.indexOf('u') < 0) return s
  return s.replace(/o[uo]|oh(?![aiueoy])/g, 'o').replace(/uu/g, 'u')
}

export type Era = 'meiji' | 'taisho' | 'showa' | 'heisei' | 'reiwa'

/** Japanese eras: first day (YYYYMMDD) and names. Each era runs until the day before the next one begins. */
export const ERAS: ReadonlyArray<{ era: Era; start: string; kanji: string; letter: string }> = [
  { era: 'meiji', start: '18680125', kanji: '明治', letter: 'M' },
  { era: 'taisho', start: '19120730', kanji: '大正', letter: 'T' },
  { era: 'showa', start: '19261225', kanji: '昭和', letter: 'S' },
  { era: 'heisei', start: '19890108', kanji: '平成', letter: 'H' },
  { era: 'reiwa', start: '20190501', kanji: '令和', letter: 'R' },
]

function validDate(y: number, m: number, d: number): boolean {
  if (!Number.isInteger(y) || !Number.isInteger(m) || !Number.isInteger(d) || m < 1 || m > 12 || d < 1) return false
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate()
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** The era of a Gregorian date 'YYYYMMDD' and its year within that era (1 = 元年); undefined before Meiji or if invalid. */
export function toEra(yyyymmdd: string): { era: Era; year: number; month: number; day: number } | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(yyyymmdd)
  if (!m || !validDate(+m[1], +m[2], +m[3])) return undefined
  for (let i = ERAS.length - 1; i >= 0; i--) {
    const e = ERAS[i]
    // Same-width digit strings compare chronologically.
    if (yyyymmdd >= e.start) return { era: e.era, year: +m[1] - +e.start.slice(0, 4) + 1, month: +m[2], day: +m[3] }
  }
  return undefined
}

/** 'YYYYMMDD' for an era date; undefined when the date does not exist or falls outside that era (e.g. 平成1年1月7日). */
export function fromEra(era: Era, year: number, month: number, day: number): string | undefined {
  const i = ERAS.findIndex((e) => e.era === era)
  if (i < 0 || year < 1) return undefined
  const y = +ERAS[i].start.slice(0, 4) + year - 1
  if (!validDate(y, month, day)) return undefined
  const s = `${pad(y, 4)}${pad(month)}${pad(day)}`
  if (s < ERAS[i].start) return undefined
  if (i + 1 < ERAS.length && s >= ERAS[i + 1].start) return undefined
  return s
}

/**
 * Ways a date of birth 'YYYYMMDD' is written in Japanese records, already in normalizeLoose form (lower case, no
 * whitespace): 1980-03-01, 1980/3/1, 1980.03.01, 1980年3月1日, 昭和55年3月1日, 昭和55.3.1, s55.3.1, s55/03/01, h2/1/5,
 * r1.5.1 / 令和元年5月1日 …, each with and without zero padding. The compact 19800301 is matched separately on the
 * separator-free text (see scan.ts). [] for a value that is not a valid date.
 */
export function dateVariants(yyyymmdd: string): string[] {
  return [...sharedDateVariants(yyyymmdd)]
}

// A subject's date of birth is asked for twice in a row (the record scrubber's needles, then the scan's): the last
// answer is kept, shared read-only.
let lastDate: string | undefined
let lastVariants: readonly string[] = []

/** dateVariants, the same array for the same date asked again: for callers that never change it. */
export function sharedDateVariants(yyyymmdd: string): readonly string[] {
  if (yyyymmdd !== lastDate) {
    lastVariants = Object.freeze(makeDateVariants(yyyymmdd))
    lastDate = yyyymmdd
  }
  return lastVariants
}

function makeDateVariants(yyyymmdd: string): string[] {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(yyyymmdd.trim())
  if (!m || !validDate(+m[1], +m[2], +m[3])) return []
  const [mo, d] = [+m[2], +m[3]]
  const out = new Set<string>()
  const md = [[String(mo), String(d)], [pad(mo), pad(d)]]
  for (const [a, b] of md) {
    for (const sep of ['-', '/', '.']) out.add(`${m[1]}${sep}${a}${sep}${b}`)
    out.add(`${m[1]}年${a}月${b}日`)
  }
  const era = toEra(m[0])
  if (era) {
    const e = ERAS.find((x) => x.era === era.era)!
    const years = [String(era.year), pad(era.year)]
    for (const ey of new Set(years)) {
      for (const [a, b] of md) {
        out.add(`${e.kanji}${ey}年${a}月${b}日`)
        for (const sep of ['.', '/', '-']) {
          out.add(`${e.kanji}${ey}${sep}${a}${sep}${b}`)
          out.add(`${e.letter.toLowerCase()}${ey}${sep}${a}${sep}${b}`)
        }
      }
    }
    // The first year of an era is usually written 元年.
    if (era.year === 1) for (const [a, b] of md) out.add(`${e.kanji}元年${a}月${b}日`)
  }
  return [...out]
}
