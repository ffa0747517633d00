/**
 * @module Reading the HL7 v2.5 data types our mappings need (XPN, XAD, XTN, CX, CWE/CE, TS/DTM), with the
 * Japanese conventions of the JAHIS HL7 v2.5 implementation guide that SS-MIX2 follows: PID-5 repeats the name,
 * ideographic (XPN-8 `I`, kanji) and phonetic (`P`, katakana), each with name type XPN-7 `L`; the whole address
 * in XAD-8 (other geographic designation) or split over XAD-1..4; the telephone number in XTN-12 (unformatted)
 * or XTN-1. Real files omit XPN-8, swap the order or send one script only, so the script is also recognised from
 * the characters themselves.
 */
import type { Hl7Field } from './message.ts'

export type NameScript = 'kanji' | 'kana' | 'alphabetic'

export interface PersonNameParts {
  family: string
  given: string
  script: NameScript
  /** XPN-7 as written (`L` legal, `D` display, ...), '' when absent. */
  type: string
}

const KANA = /^[\u3040-\u30ff\uff61-\uff9f\u3000\s・ー－-]+$/u
const LATIN = /^[A-Za-z\s.'-]+$/

/** The script of a name: from XPN-8 when present, else from its characters. */
export function nameScript(text: string, representation: string): NameScript {
  const r = representation.toUpperCase()
  if (r === 'I') return 'kanji'
  if (r === 'P') return 'kana'
  if (r === 'A') return 'alphabetic'
  if (KANA.test(text)) return 'kana'
  if (LATIN.test(text)) return 'alphabetic'
  return 'kanji'
}

export function readXpn(f: Hl7Field): PersonNameParts | undefined {
  const family = f.component(1).trim()
  const given = f.component(2).trim()
  if (!family && !given) return undefined
  return { family, given, script: nameScript(family + given, f.component(8)), type: f.component(7) }
}

/** PID-5 (or any XPN field): at most one name per script, first one wins, joined "family given". */
export function readNames(reps: Hl7Field[]): { kanji?: string; kana?: string; alphabetic?: string } {
  const out: { kanji?: string; kana?: string; alphabetic?: string } = {}
  for (const r of reps) {
    const n = readXpn(r)
    if (!n) continue
    const full = [n.family, n.given].filter(Boolean).join(' ')
    if (out[n.script] === undefined) out[n.script] = full
  }
  return out
}

export interface Address {
  /** The full address as one line. */
  text: string
  postalCode?: string
}

/** XAD: XAD-8 when it holds the whole address (JAHIS), else XAD-4 (prefecture), -3 (city), -1, -2 in that order. */
export function readXad(f: Hl7Field): Address | undefined {
  const whole = f.component(8).trim()
  const text = whole || [f.component(4), f.component(3), f.component(1), f.component(2)].map((s) => s.trim()).filter(Boolean).join('')
  const postalCode = f.component(5).trim() || undefined
  if (!text && !postalCode) return undefined
  return { text, postalCode }
}

/** XTN: the unformatted number (XTN-12) or the formatted one (XTN-1). */
export function readXtn(f: Hl7Field): string | undefined {
  const v = (f.component(12) || f.component(1)).trim()
  return v || undefined
}

export interface CodedValue {
  code: string
  text: string
  system: string
}

/** CWE/CE: the first triplet, or the alternate (components 4–6) when the first has no code. */
export function readCwe(f: Hl7Field): CodedValue | undefined {
  const code = f.component(1).trim()
  if (code) return { code, text: f.component(2).trim(), system: f.component(3).trim() }
  const alt = f.component(4).trim()
  if (alt) return { code: alt, text: f.component(5).trim(), system: f.component(6).trim() }
  const text = f.component(2).trim()
  return text ? { code: '', text, system: '' } : undefined
}

/**
 * TS/DTM (`YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`) to our ISO form: `YYYY-MM-DD` when there is no time,
 * `YYYY-MM-DDTHH:MM[:SS]` when there is (site local time, zone dropped). Undefined when not a valid date.
 */
export function hl7DateTime(ts: string): string | undefined {
  // Read by char codes, not a regular expression with six groups: every record reads two or three of these.
  const t = ts.trim()
  const n = t.length
  if (n < 8 || !digitsAt(t, 0, 8)) return undefined
  let at = 8
  let hasTime = false
  let hasMinute = false
  let hasSecond = false
  if (digitsAt(t, at, 2)) {
    hasTime = true
    at += 2
    if (digitsAt(t, at, 2)) {
      hasMinute = true
      at += 2
      if (digitsAt(t, at, 2)) {
        hasSecond = true
        at += 2
      }
    }
    // A fraction of a second: `.` and one digit or more.
    if (t.charCodeAt(at) === 0x2e && digitsAt(t, at + 1, 1)) {
      at += 2
      while (digitsAt(t, at, 1)) at++
    }
  }
  // A zone, dropped: `+` or `-` and four digits.
  const z = t.charCodeAt(at)
  if ((z === 0x2b || z === 0x2d) && digitsAt(t, at + 1, 4)) at += 5
  if (at !== n) return undefined
  const mo = twoDigits(t, 4)
  const d = twoDigits(t, 6)
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined
  // Built in one String.fromCharCode call (no closure: tsx's keepNames would wrap it per call): slices joined by a
  // template were six strings for one.
  if (!hasTime) return String.fromCharCode(t.charCodeAt(0), t.charCodeAt(1), t.charCodeAt(2), t.charCodeAt(3), 0x2d, t.charCodeAt(4), t.charCodeAt(5), 0x2d, t.charCodeAt(6), t.charCodeAt(7))
  if (twoDigits(t, 8) > 23 || (hasMinute && twoDigits(t, 10) > 59) || (hasSecond && twoDigits(t, 12) > 59)) return undefined
  const m0 = hasMinute ? t.charCodeAt(10) : 0x30
  const m1 = hasMinute ? t.charCodeAt(11) : 0x30
  if (!hasSecond) return String.fromCharCode(t.charCodeAt(0), t.charCodeAt(1), t.charCodeAt(2), t.charCodeAt(3), 0x2d, t.charCodeAt(4), t.charCodeAt(5), 0x2d, t.charCodeAt(6), t.charCodeAt(7), 0x54, t.charCodeAt(8), t.charCodeAt(9), 0x3a, m0, m1)
  return String.fromCharCode(t.charCodeAt(0), t.charCodeAt(1), t.charCodeAt(2), t.charCodeAt(3), 0x2d, t.charCodeAt(4), t.charCodeAt(5), 0x2d, t.charCodeAt(6), t.charCodeAt(7), 0x54, t.charCodeAt(8), t.charCodeAt(9), 0x3a, m0, m1, 0x3a, t.charCodeAt(12), t.charCodeAt(13))
}

/** `count` ASCII digits from `at` (false past the end). */
function digitsAt(t: string, at: number, count: number): boolean {
  if (at + count > t.length) return false
  for (let i = at; i < at + count; i++) {
    const c = t.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

/** The two digits at `at` as a number (they are known to be digits). */
function twoDigits(t: string, at: number): number {
  return (t.charCodeAt(at) - 0x30) * 10 + t.charCodeAt(at + 1) - 0x30
}
