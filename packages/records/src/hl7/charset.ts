/**
 * @module Bytes ⇄ text for HL7 v2 as Japanese hospitals write it: ISO-2022-JP (JIS X 0208 behind `ESC $ B`,
 * ASCII behind `ESC ( B`), declared in MSH-18 as "~ISO IR87" and in MSH-20 as "ISO 2022-1994" (JAHIS HL7 v2.5
 * implementation guide; SS-MIX2 standardized storage specification, "文字コード").
 *
 * The whole message is decoded BEFORE it is split: the second byte of many kanji equals a delimiter
 * (日 is 0x46 0x7C, `|`; 美 is 0x48 0x7E, `~`; 本 is 0x4B 0x5C, `\`; 五 is 0x38 0x5E, `^`; 愛 is 0x30 0x26, `&`), so splitting raw bytes corrupts names.
 *
 * Why not @kura/dicom's decodeIso2022: DICOM resets the code set at every `^`/`\` delimiter (PS3.5 6.1.2.5.3) and
 * designates katakana into G1; HL7 files carry one state machine per message, and real files also use SO/SI,
 * `ESC ( I` in G0, 8-bit JIS X 0201 katakana and `ESC $ @`. A well-formed message is transcoded in one pass
 * straight to UTF-16 through cell tables read once from the EUC-JP TextDecoder; anything unusual (and every error)
 * takes the general path: JIS to EUC-JP in one pass, then ONE TextDecoder call for the message.
 * Tolerated on purpose: `ESC ( J` (JIS X 0201 Roman, read as ASCII: SS-MIX2 files never mean ¥ there),
 * `ESC $ @` (JIS C 6226-1978, read as JIS X 0208), `ESC & @ ESC $ B`, JIS X 0212 (`ESC $ ( D`), half-width
 * katakana by `ESC ( I`, SO/SI or 8-bit bytes A1–DF, and CR/LF inside a kanji run (taken as a reset to ASCII).
 */
import { isAscii } from 'node:buffer'
import iconv from 'iconv-lite'
import { Hl7Errors } from './errors.ts'

export type DetectedCharset = 'ascii' | 'iso-2022-jp'

export interface DecodedText {
  text: string
  charset: DetectedCharset
}

const eucJp = new TextDecoder('euc-jp')
const utf8Fatal = new TextDecoder('utf-8', { fatal: true })

const MODE_ASCII = 0
const MODE_KANJI = 1
const MODE_KANA = 2
const MODE_X0212 = 3
/** An escape sequence that announces or designates without changing the mode (ESC & @, ESC ) I). */
const MODE_KEPT = 4

/**
 * The escape sequence whose ESC is at `at`: `mode * 8 + its length in bytes` (MODE_KEPT when it changes no mode),
 * or -1 when it is not one ISO-2022-JP uses. A number, not an object: it is read on every designation of a message.
 */
function escapeSequence(b: Uint8Array, at: number): number {
  const b1 = b[at + 1]
  const b2 = b[at + 2]
  if (b1 === 0x28 && (b2 === 0x42 || b2 === 0x4a || b2 === 0x48)) return MODE_ASCII * 8 + 3
  if (b1 === 0x28 && b2 === 0x49) return MODE_KANA * 8 + 3
  if (b1 === 0x24 && (b2 === 0x42 || b2 === 0x40)) return MODE_KANJI * 8 + 3
  if (b1 === 0x24 && b2 === 0x28 && (b[at + 3] === 0x42 || b[at + 3] === 0x40)) return MODE_KANJI * 8 + 4
  if (b1 === 0x24 && b2 === 0x28 && b[at + 3] === 0x44) return MODE_X0212 * 8 + 4
  // The JIS X 0208-1990 announcer (ESC $ B follows), and katakana into G1 (the 8-bit bytes handle it).
  if ((b1 === 0x26 && b2 === 0x40) || (b1 === 0x29 && b2 === 0x49)) return MODE_KEPT * 8 + 3
  return -1
}

// Grown on demand and reused: one message decodes without allocating a buffer.
let scratch = new Uint8Array(16 * 1024)

/**
 * Decodes a message's bytes to text. ASCII-only messages take a fast path; ISO-2022-JP is transcoded; Shift_JIS,
 * UTF-8 and other 8-bit text throw a KuraError naming the encoding (SS-MIX2 requires ISO-2022-JP, so such files
 * are held for the site to fix rather than guessed at).
 */
export function decodeHl7Bytes(bytes: Uint8Array): DecodedText {
  // ESC or SO anywhere means ISO-2022-JP (8-bit bytes then must be JIS8 katakana); else ASCII, or an 8-bit charset.
  if (bytes.indexOf(0x1b) >= 0 || bytes.indexOf(0x0e) >= 0) return { text: iso2022JpToUtf16(bytes) ?? transcodeIso2022Jp(bytes), charset: 'iso-2022-jp' }
  if (isAscii(bytes)) return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'), charset: 'ascii' }
  throw classify8bit(bytes)
}

function classify8bit(bytes: Uint8Array) {
  try {
    utf8Fatal.decode(bytes)
    return Hl7Errors.utf8()
  } catch {
    /* not UTF-8 */
  }
  if (looksShiftJis(bytes)) return Hl7Errors.shiftJis()
  return Hl7Errors.unknown8bit()
}

/** Every 8-bit byte is a Shift_JIS lead byte with a valid trail, or a half-width katakana byte. */
function looksShiftJis(b: Uint8Array): boolean {
  let pairs = 0
  for (let i = 0; i < b.length; i++) {
    const c = b[i]
    if (c < 0x80 || (c >= 0xa1 && c <= 0xdf)) continue
    if ((c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc)) {
      const t = b[i + 1]
      if (t === undefined || t < 0x40 || t === 0x7f || t > 0xfc) return false
      i++
      pairs++
      continue
    }
    return false
  }
  return pairs > 0 || b.some((c) => c >= 0xa1 && c <= 0xdf)
}

/** What the EUC-JP decoder makes of each JIS cell and JIS8 katakana byte, read from it once (so both paths agree). */
interface JisCells {
  /** JIS X 0208 (row − 0x21) × 94 + (cell − 0x21) → UTF-16; 0xFFFD where the decoder maps nothing. */
  x0208: Uint16Array
  /** JIS X 0201 katakana, 8-bit byte − 0xA1 (7-bit byte − 0x21) → UTF-16. */
  kana: Uint16Array
}

let cells: JisCells | null | undefined

/**
 * The cell tables; null (no fast path) when the decoder does not read ASCII as itself or a cell as one code unit.
 * No JIS X 0212 table: the decoder reads its unmapped cells differently in a run than alone, and files rarely use it.
 */
function jisCells(): JisCells | null {
  if (cells !== undefined) return cells
  const ascii = new Uint8Array(128).map((_, i) => i)
  const euc = new Uint8Array(94 * 94 * 2)
  let k = 0
  for (let r = 0xa1; r <= 0xfe; r++) for (let c = 0xa1; c <= 0xfe; c++) { euc[k++] = r; euc[k++] = c }
  const kanaEuc = new Uint8Array(63 * 2).map((_, i) => (i % 2 === 0 ? 0x8e : 0xa1 + (i >> 1)))
  const a = eucJp.decode(ascii)
  const x0208 = eucJp.decode(euc)
  const kana = eucJp.decode(kanaEuc)
  let sameAscii = a.length === 128
  for (let i = 0; sameAscii && i < 128; i++) sameAscii = a.charCodeAt(i) === i
  // utf16Text hands the units to Buffer as UTF-16LE: on a big-endian host, no fast path.
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
  if (!sameAscii || !littleEndian || x0208.length !== 94 * 94 || kana.length !== 63) return (cells = null)
  const units = (text: string) => Uint16Array.from({ length: text.length }, (_, i) => text.charCodeAt(i))
  cells = { x0208: units(x0208), kana: units(kana) }
  return cells
}

// Grown on demand and reused, like scratch: one UTF-16 unit per input byte at most.
let scratch16 = new Uint16Array(16 * 1024)

/**
 * transcodeIso2022Jp's common case straight to UTF-16 (no EUC-JP bytes, no TextDecoder call): the same state
 * machine, giving the same text. Undefined on anything else (a broken sequence, a cell the decoder does not map,
 * JIS X 0212, a control byte inside a kanji run): transcodeIso2022Jp then reads the message, and throws where it must.
 */
function iso2022JpToUtf16(b: Uint8Array): string | undefined {
  const t = jisCells()
  if (t === null) return undefined
  const { x0208, kana } = t
  const n = b.length
  if (scratch16.length < n) scratch16 = new Uint16Array(n + 16)
  const out = scratch16
  let o = 0
  let mode = MODE_ASCII
  let shifted = false
  let i = 0
  while (i < n) {
    let c = b[i]
    // Runs first, most of a message: plain ASCII (a line end changes nothing in this state), then kanji pairs.
    if (mode === MODE_ASCII && !shifted) {
      while (c < 0x80 && c !== 0x1b && c !== 0x0e && c !== 0x0f) {
        out[o++] = c
        if (++i === n) return utf16Text(out, o)
        c = b[i]
      }
    } else if (mode === MODE_KANJI && !shifted) {
      while (c >= 0x21 && c <= 0x7e && i + 1 < n) {
        const cell = b[i + 1]
        if (cell < 0x21 || cell > 0x7e) return undefined
        const u = x0208[(c - 0x21) * 94 + cell - 0x21]
        if (u === 0xfffd) return undefined
        out[o++] = u
        if ((i += 2) === n) return utf16Text(out, o)
        c = b[i]
      }
    }
    if (c === 0x1b) {
      const e = escapeSequence(b, i)
      if (e < 0) return undefined
      if (e >> 3 !== MODE_KEPT) mode = e >> 3
      i += e & 7
      continue
    }
    i++
    if (c === 0x0e) shifted = true
    else if (c === 0x0f) shifted = false
    else if (c >= 0x80) {
      if (c < 0xa1 || c > 0xdf) return undefined
      out[o++] = kana[c - 0xa1]
    } else if (c === 0x0d || c === 0x0a) {
      mode = MODE_ASCII
      shifted = false
      out[o++] = c
    } else if (shifted || mode === MODE_KANA) {
      if (c < 0x21 || c > 0x5f) return undefined
      out[o++] = kana[c - 0x21]
    } else return undefined // in a kanji run: half a kanji, a control byte; JIS X 0212
  }
  return utf16Text(out, o)
}

function utf16Text(units: Uint16Array, n: number): string {
  return Buffer.from(units.buffer, units.byteOffset, n * 2).toString('ucs2')
}

/** ISO-2022-JP → EUC-JP bytes → one TextDecoder call: every case, errors included (iso2022JpToUtf16 is the fast one). */
function transcodeIso2022Jp(b: Uint8Array): string {
  const n = b.length
  if (scratch.length < n * 2 + 16) scratch = new Uint8Array(n * 2 + 16)
  const out = scratch
  let o = 0
  let mode = MODE_ASCII
  let shifted = false // SO: katakana until SI
  for (let i = 0; i < n; i++) {
    const c = b[i]
    if (c === 0x1b) {
      const e = escapeSequence(b, i)
      if (e < 0) throw Hl7Errors.badIso2022(i, 'unknown escape sequence')
      if (e >> 3 !== MODE_KEPT) mode = e >> 3
      i += (e & 7) - 1 // the loop adds the last one
      continue
    }
    if (c === 0x0e) { shifted = true; continue }
    if (c === 0x0f) { shifted = false; continue }
    if (c >= 0x80) {
      // 8-bit JIS X 0201 katakana (JIS8, or G1 after ESC ) I).
      if (c >= 0xa1 && c <= 0xdf) { out[o++] = 0x8e; out[o++] = c; continue }
      throw Hl7Errors.badIso2022(i, '8-bit byte outside the half-width katakana range')
    }
    if (c === 0x0d || c === 0x0a) {
      // A line end inside a kanji run: the writer forgot ESC ( B; the segment ends anyway.
      mode = MODE_ASCII
      shifted = false
      out[o++] = c
      continue
    }
    if (shifted || mode === MODE_KANA) {
      if (c < 0x21 || c > 0x5f) throw Hl7Errors.badIso2022(i, 'byte outside the katakana range')
      out[o++] = 0x8e
      out[o++] = c | 0x80
      continue
    }
    if (mode === MODE_ASCII) { out[o++] = c; continue }
    const t = b[i + 1]
    if (t === undefined || t === 0x0d || t === 0x0a || t === 0x1b) throw Hl7Errors.badIso2022(i, 'a kanji is cut in half')
    if (mode === MODE_X0212) out[o++] = 0x8f
    out[o++] = c | 0x80
    out[o++] = t | 0x80
    i++
  }
  return eucJp.decode(out.subarray(0, o))
}

/**
 * Encodes text as ISO-2022-JP the way SS-MIX2 writers do: ASCII by default, `ESC $ B` before a run of JIS X 0208,
 * `ESC ( B` after it (and before every CR, so each segment ends in ASCII). Half-width katakana, which
 * ISO-2022-JP (RFC 1468) lacks, go out as `ESC ( I` runs; characters outside JIS throw.
 */
export function encodeIso2022Jp(text: string): Uint8Array {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return Buffer.from(text, 'latin1')
  const table = jisTable()
  const out = Buffer.allocUnsafe(text.length * 5 + 16)
  let o = 0
  let mode = MODE_ASCII
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    let want: number
    let jis = 0
    if (c < 0x80) want = MODE_ASCII
    else if (c >= 0xff61 && c <= 0xff9f) want = MODE_KANA
    else {
      const j = table.get(c)
      if (j === undefined) throw new RangeError(`Character U+${c.toString(16).toUpperCase().padStart(4, '0')} is not in JIS X 0208, so ISO-2022-JP cannot carry it.`)
      want = MODE_KANJI
      jis = j
    }
    if (want !== mode) { o = designate(out, o, want); mode = want }
    if (want === MODE_ASCII) out[o++] = c
    else if (want === MODE_KANA) out[o++] = c - 0xff61 + 0x21
    else { out[o++] = jis >> 8; out[o++] = jis & 0xff }
  }
  if (mode !== MODE_ASCII) o = designate(out, o, MODE_ASCII)
  return Uint8Array.prototype.slice.call(out, 0, o)
}

/** Writes the escape sequence that designates `mode` into G0; returns the new length. */
function designate(out: Uint8Array, o: number, mode: number): number {
  out[o++] = 0x1b
  if (mode === MODE_ASCII) { out[o++] = 0x28; out[o++] = 0x42 }
  else if (mode === MODE_KANJI) { out[o++] = 0x24; out[o++] = 0x42 }
  else { out[o++] = 0x28; out[o++] = 0x49 }
  return o
}

let table: Map<number, number> | undefined
/** Unicode → JIS X 0208 row/cell, built once from the same decoder that reads (so encode ∘ decode is identity). */
function jisTable(): Map<number, number> {
  if (table) return table
  table = new Map()
  const buf = new Uint8Array(94 * 94 * 2)
  let k = 0
  for (let r = 0x21; r <= 0x7e; r++) for (let c = 0x21; c <= 0x7e; c++) { buf[k++] = r | 0x80; buf[k++] = c | 0x80 }
  const s = eucJp.decode(buf)
  let i = 0
  for (let r = 0x21; r <= 0x7e; r++) {
    for (let c = 0x21; c <= 0x7e; c++) {
      const ch = s.charCodeAt(i++)
      if (ch !== 0xfffd && !table.has(ch)) table.set(ch, (r << 8) | c)
    }
  }
  // What Windows (CP932) writes for a few JIS cells: take both spellings.
  const alias: Array<[number, number]> = [[0xff5e, 0x301c], [0xff0d, 0x2212], [0x2225, 0x2016], [0xffe0, 0x00a2], [0xffe1, 0x00a3], [0xffe2, 0x00ac]]
  for (const [a, b] of alias) {
    const j = table.get(a) ?? table.get(b)
    if (j === undefined) continue
    if (!table.has(a)) table.set(a, j)
    if (!table.has(b)) table.set(b, j)
  }
  return table
}

/** Best-effort text of bytes that could not be parsed, for a held record's `raw` (kept on the gateway only). */
export function decodeForDisplay(bytes: Uint8Array): string {
  try {
    return decodeHl7Bytes(bytes).text
  } catch {
    try {
      return utf8Fatal.decode(bytes)
    } catch {
      return looksShiftJis(bytes) ? iconv.decode(Buffer.from(bytes), 'shift_jis') : Buffer.from(bytes).toString('latin1')
    }
  }
}
