/**
 * @module Specific Character Set (0008,0005): decoding text values and encoding strings for writing
 * (PS3.5 6.1 and PS3.3 C.12.1.1.2), including ISO 2022 code extensions for Japanese and Korean.
 *
 * Decoding delegates ISO 2022 and the less common sets to dicom-character-set (it resets code elements
 * at delimiters as PS3.5 6.1.2.5.3 requires and decodes JIS X 0201 katakana correctly, which Node's
 * 'iso-2022-jp' TextDecoder does not). Encoding uses iconv-lite's EUC tables and adds the escapes.
 */
import { convertBytes } from 'dicom-character-set'
import iconv from 'iconv-lite'
import { DicomErrors } from './errors.ts'
import { decodeIso2022 } from './iso2022.ts'
import type { Vr } from './types.ts'
import { SINGLE_VALUE_VRS } from './vr.ts'

const utf8 = new TextDecoder('utf-8')

/** Canonical spelling of a Specific Character Set term; fixes common misspellings the way pydicom tolerates them. */
export function normalizeCharsetTerm(term: string): string {
  const t = term.trim().toUpperCase()
  if (t === '') return ''
  let m = /^ISO[-_ ]?2022[-_ ]?IR[-_ ]?(\d+)$/.exec(t)
  if (m) return `ISO 2022 IR ${m[1]}`
  m = /^ISO[-_ ]?IR[-_ ]?(\d+)$/.exec(t)
  if (m) return `ISO_IR ${m[1]}`
  if (t === 'UTF-8' || t === 'UTF8') return 'ISO_IR 192'
  if (t === 'GB 18030') return 'GB18030'
  return t
}

function latin1(bytes: Uint8Array): string {
  // Short values dominate; a loop beats creating a Buffer view for them.
  if (bytes.length < 64) {
    let s = ''
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i])
    return s
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
}

function isPlainAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]
    if (c >= 0x80 || c === 0x1b) return false
  }
  return true
}

/** Text VRs whose bytes follow Specific Character Set; all other string VRs are the default repertoire. */
function usesCharset(vr: Vr): boolean {
  return vr === 'SH' || vr === 'LO' || vr === 'ST' || vr === 'LT' || vr === 'PN' || vr === 'UC' || vr === 'UT'
}

const NORMALIZED = new Map<string, string>()

/** Bytes that return ISO 2022 code elements to their initial state (PS3.5 6.1.2.5.3). */
const isTextDelimiter = (b: number) => b === 0x0d || b === 0x0a || b === 0x0c || b === 0x09
const isDelimiter = (b: number) => isTextDelimiter(b) || b === 0x5c
const isPnDelimiter = (b: number) => isDelimiter(b) || b === 0x5e || b === 0x3d

/** Decodes a whole value (all its backslash-separated values) to a string; split it afterwards. */
export function decodeText(bytes: Uint8Array, charsets: readonly string[], vr: Vr): string {
  if (bytes.length === 0) return ''
  if (charsets.length === 0 || !usesCharset(vr) || isPlainAscii(bytes)) return latin1(bytes)
  const key = charsets.join('\\')
  let norm = NORMALIZED.get(key)
  if (norm === undefined) {
    norm = charsets.map(normalizeCharsetTerm).join('\\')
    NORMALIZED.set(key, norm)
  }
  // Default repertoire (ISO_IR 6) with bytes above 0x7F: decode as Latin-1, as pydicom and DCMTK do.
  if (norm === '' || norm === 'ISO_IR 6' || norm === 'ISO 2022 IR 6' || norm === 'ISO_IR 100') return latin1(bytes)
  if (norm === 'ISO_IR 192') return utf8.decode(bytes)
  if (norm.startsWith('ISO 2022') || norm.includes('\\')) {
    const fast = decodeIso2022(bytes, norm.split('\\'), vr === 'PN' ? isPnDelimiter : SINGLE_VALUE_VRS.has(vr) ? isTextDelimiter : isDelimiter)
    if (fast !== undefined) return fast
  }
  try {
    return convertBytes(norm, bytes, { vr })
  } catch {
    // An escape to a set the value does not declare (e.g. ESC ( B under 'ISO 2022 IR 13\\ISO 2022 IR 87'):
    // accept every ISO 2022 set, as pydicom does. Failing that, Latin-1 rather than losing the value.
    try {
      const extra = LENIENT_SETS.filter((t) => !norm!.split('\\').includes(t))
      return convertBytes([norm, ...extra].join('\\'), bytes, { vr })
    } catch {
      return latin1(bytes)
    }
  }
}

const LENIENT_SETS = ['ISO 2022 IR 6', 'ISO 2022 IR 13', 'ISO 2022 IR 87', 'ISO 2022 IR 159', 'ISO 2022 IR 149', 'ISO 2022 IR 58', 'ISO 2022 IR 100']

// ---------------------------------------------------------------------------------------------
// Encoding

interface CodeElement {
  /** 0 for G0 (bytes 0x21-0x7E), 1 for G1 (bytes 0xA1-0xFE). */
  g: 0 | 1
  esc: readonly number[]
  /** Bytes for one character, or undefined when this element cannot represent it. */
  encode(ch: string): number[] | undefined
}

const ESC = 0x1b
const ASCII: CodeElement = { g: 0, esc: [ESC, 0x28, 0x42], encode: (ch) => (ch.charCodeAt(0) < 0x80 ? [ch.charCodeAt(0)] : undefined) }
/** JIS X 0201 Romaji: ASCII except that 0x5C is the yen sign and 0x7E the overline (we write ASCII as is). */
const ROMAJI: CodeElement = { g: 0, esc: [ESC, 0x28, 0x4a], encode: ASCII.encode }
const KATAKANA: CodeElement = {
  g: 1,
  esc: [ESC, 0x29, 0x49],
  encode: (ch) => {
    const c = ch.charCodeAt(0)
    return c >= 0xff61 && c <= 0xff9f ? [c - 0xff61 + 0xa1] : undefined
  },
}

/** Characters of a multi-byte EUC table: iconv-lite substitutes '?' (or nothing) for what it cannot encode. */
function eucEncoder(encoding: string, pick: (b: Buffer) => number[] | undefined): (ch: string) => number[] | undefined {
  return (ch) => {
    if (ch === '?') return undefined
    const b = iconv.encode(ch, encoding)
    return pick(b)
  }
}

const JIS_X_0208: CodeElement = {
  g: 0,
  esc: [ESC, 0x24, 0x42],
  // EUC-JP codes JIS X 0208 as two bytes with the high bit set; ISO 2022 G0 wants them without.
  encode: eucEncoder('euc-jp', (b) => (b.length === 2 && b[0] >= 0xa1 && b[1] >= 0xa1 ? [b[0] - 0x80, b[1] - 0x80] : undefined)),
}
const JIS_X_0212: CodeElement = {
  g: 0,
  esc: [ESC, 0x24, 0x28, 0x44],
  encode: eucEncoder('euc-jp', (b) => (b.length === 3 && b[0] === 0x8f ? [b[1] - 0x80, b[2] - 0x80] : undefined)),
}
const KS_X_1001: CodeElement = {
  g: 1,
  esc: [ESC, 0x24, 0x29, 0x43],
  encode: eucEncoder('euc-kr', (b) => (b.length === 2 && b[0] >= 0xa1 && b[1] >= 0xa1 ? [b[0], b[1]] : undefined)),
}
const GB_2312: CodeElement = {
  g: 1,
  esc: [ESC, 0x24, 0x29, 0x41],
  encode: eucEncoder('gb2312', (b) => (b.length === 2 && b[0] >= 0xa1 && b[1] >= 0xa1 ? [b[0], b[1]] : undefined)),
}

/** ISO 8859 upper halves designated to G1 with ESC - F (PS3.3 Table C.12-3). */
function upperHalf(final: number, encoding: string): CodeElement {
  return {
    g: 1,
    esc: [ESC, 0x2d, final],
    encode: (ch) => {
      if (ch === '?') return undefined
      const b = iconv.encode(ch, encoding)
      return b.length === 1 && b[0] >= 0xa0 ? [b[0]] : undefined
    },
  }
}

const SINGLE_BYTE: Record<string, [number, string]> = {
  '100': [0x41, 'iso-8859-1'], '101': [0x42, 'iso-8859-2'], '109': [0x43, 'iso-8859-3'], '110': [0x44, 'iso-8859-4'],
  '144': [0x4c, 'iso-8859-5'], '127': [0x47, 'iso-8859-6'], '126': [0x46, 'iso-8859-7'], '138': [0x48, 'iso-8859-8'],
  '148': [0x4d, 'iso-8859-9'], '166': [0x54, 'tis620'], '203': [0x62, 'iso-8859-15'],
}

/** Code elements a Specific Character Set term makes available under ISO 2022 (PS3.3 Tables C.12-3/C.12-4). */
function codeElements(term: string): CodeElement[] {
  const n = /(\d+)$/.exec(term)?.[1] ?? ''
  if (term === '' || n === '6') return [ASCII]
  if (n === '13') return [ROMAJI, KATAKANA]
  if (n === '87') return [JIS_X_0208]
  if (n === '159') return [JIS_X_0212]
  if (n === '149') return [KS_X_1001]
  if (n === '58') return [GB_2312]
  const sb = SINGLE_BYTE[n]
  if (sb) return [ASCII, upperHalf(sb[0], sb[1])]
  throw DicomErrors.badValue(`Specific Character Set term "${term}" is not supported for writing`)
}

const PLAIN_ENCODINGS: Record<string, string> = {
  'ISO_IR 101': 'iso-8859-2', 'ISO_IR 109': 'iso-8859-3', 'ISO_IR 110': 'iso-8859-4', 'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6', 'ISO_IR 126': 'iso-8859-7', 'ISO_IR 138': 'iso-8859-8', 'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 166': 'tis620', 'ISO_IR 203': 'iso-8859-15', 'ISO_IR 13': 'shift_jis', GB18030: 'gb18030', GBK: 'gbk',
}

function asciiBytes(value: string): Uint8Array {
  const out = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) out[i] = value.charCodeAt(i)
  return out
}

function isAsciiString(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) >= 0x80) return false
  return true
}

/**
 * Encodes a string value (multiple values already joined with '\') in the given Specific Character Set.
 * Does not pad. Throws DICOM_UNENCODABLE_TEXT when a character has no encoding in those sets.
 */
export function encodeString(value: string, charsets: readonly string[], vr: Vr): Uint8Array {
  if (isAsciiString(value)) return asciiBytes(value)
  const terms = charsets.map(normalizeCharsetTerm)
  const nonEmpty = terms.filter((t) => t !== '')
  const first = nonEmpty[0] ?? ''
  if (!usesCharset(vr) && vr !== 'UR') throw DicomErrors.unencodableText(['ISO_IR 6 (the only repertoire for ' + vr + ')'], [...value].find((c) => c.charCodeAt(0) >= 0x80) ?? '')
  if (terms.length <= 1 || first === 'ISO_IR 192' || first === 'GB18030' || first === 'GBK') {
    if (first === 'ISO_IR 192') return new Uint8Array(Buffer.from(value, 'utf8'))
    if (first === '' || first === 'ISO_IR 6') throw DicomErrors.unencodableText(charsets, [...value].find((c) => c.charCodeAt(0) >= 0x80)!)
    if (first === 'ISO_IR 100') {
      for (const ch of value) if (ch.charCodeAt(0) > 0xff || ch.length > 1) throw DicomErrors.unencodableText(charsets, ch)
      return new Uint8Array(Buffer.from(value, 'latin1'))
    }
    const enc = PLAIN_ENCODINGS[first]
    if (enc) {
      const b = iconv.encode(value, enc)
      if (iconv.decode(b, enc) !== value) {
        const bad = [...value].find((ch) => iconv.decode(iconv.encode(ch, enc), enc) !== ch) ?? '?'
        throw DicomErrors.unencodableText(charsets, bad)
      }
      return new Uint8Array(b)
    }
    if (!first.startsWith('ISO 2022')) throw DicomErrors.badValue(`Specific Character Set "${first}" is not supported for writing`)
  }
  return encodeIso2022(value, terms, charsets, vr)
}

/**
 * ISO 2022 with code extensions: escape into the first set that has the character; switch back to
 * value 1's code elements before each delimiter and at the end of the value (PS3.5 6.1.2.5.3).
 */
function encodeIso2022(value: string, terms: readonly string[], charsets: readonly string[], vr: Vr): Uint8Array {
  const initial = codeElements(terms[0] ?? '')
  const initialG0 = initial.find((e) => e.g === 0) ?? ASCII
  const initialG1 = initial.find((e) => e.g === 1)
  const available: CodeElement[] = []
  for (const t of terms) for (const e of codeElements(t)) if (!available.includes(e)) available.push(e)
  // Characters below 0x80 go in the ASCII-compatible G0 of value 1 (ASCII, or JIS X 0201 Romaji).
  const asciiG0 = initialG0 === ASCII || initialG0 === ROMAJI ? initialG0 : ASCII
  const multi = !SINGLE_VALUE_VRS.has(vr)
  let g0 = initialG0
  let g1 = initialG1
  const out: number[] = []
  for (const ch of value) {
    const c = ch.codePointAt(0)!
    const delimiter = c === 0x0d || c === 0x0a || c === 0x0c || c === 0x09 || (multi && c === 0x5c) || (vr === 'PN' && (c === 0x5e || c === 0x3d))
    if (delimiter) {
      if (g0 !== initialG0) out.push(...initialG0.esc)
      g0 = initialG0
      g1 = initialG1
      out.push(c)
      continue
    }
    if (c < 0x80) {
      if (g0 !== asciiG0) {
        out.push(...asciiG0.esc)
        g0 = asciiG0
      }
      out.push(c)
      continue
    }
    let done = false
    for (const e of available) {
      if (e === ASCII || e === ROMAJI) continue
      const bytes = e.encode(ch)
      if (!bytes) continue
      if (e.g === 0 && g0 !== e) {
        out.push(...e.esc)
        g0 = e
      } else if (e.g === 1 && g1 !== e) {
        out.push(...e.esc)
        g1 = e
      }
      out.push(...bytes)
      done = true
      break
    }
    if (!done) throw DicomErrors.unencodableText(charsets, ch)
  }
  if (g0 !== initialG0) out.push(...initialG0.esc)
  return Uint8Array.from(out)
}
