/**
 * @module The HL7 v2 message: `parseHl7(bytes)` decodes the whole message first (see charset.ts: kanji bytes can
 * equal delimiters), then splits it into segments; fields, repetitions and components are found in a segment's
 * text only when asked for, so a reader that wants PID-3 and PID-5 pays for nothing else.
 *
 * Numbering follows HL7: fields from 1 (MSH-1 is the field separator itself, MSH-2 the encoding characters),
 * repetitions, components and subcomponents from 1. Values come back unescaped (escape.ts); `raw*` keep the
 * escapes. Tolerated, with a warning: blank lines, CRLF or LF segment ends, trailing NUL/EOF bytes, trailing or
 * stray lines that are not segments, MSH-18 missing or spelled differently. Fatal (KuraError with position):
 * no MSH, bad encoding characters, a character set other than ISO-2022-JP/ASCII.
 */
import { decodeHl7Bytes, type DetectedCharset } from './charset.ts'
import { Hl7Errors } from './errors.ts'
import { type Hl7Delimiters, unescapeHl7 } from './escape.ts'

/**
 * A message's delimiters as char codes (what the scanners compare), and as one string (what values depend on):
 * worked out once per message, not per value read. A code of -1 never matches (an absent subcomponent separator).
 */
interface DelimiterCodes {
  readonly d: Hl7Delimiters
  readonly field: number
  readonly component: number
  readonly repetition: number
  readonly escape: number
  readonly subcomponent: number
  /** field + component + repetition + escape + subcomponent. */
  readonly chars: string
}

function delimiterCodes(d: Hl7Delimiters): DelimiterCodes {
  return {
    d,
    field: codeOf(d.field),
    component: codeOf(d.component),
    repetition: codeOf(d.repetition),
    escape: codeOf(d.escape),
    subcomponent: codeOf(d.subcomponent),
    chars: d.field + d.component + d.repetition + d.escape + d.subcomponent,
  }
}

/** A delimiter's char code; -1 for none (''). */
function codeOf(c: string): number {
  return c === '' ? -1 : c.charCodeAt(0)
}

/** One repetition of a field: components and subcomponents found by scanning when asked for. */
export class Hl7Field {
  private readonly k: DelimiterCodes
  constructor(readonly raw: string, d: Hl7Delimiters | DelimiterCodes) {
    this.k = 'chars' in d ? d : delimiterCodes(d)
  }

  private get d(): Hl7Delimiters {
    return this.k.d
  }

  /** The component after the last one read to its end, and where it starts: readers go up a value's components. */
  private nextPart = 1
  private nextStart = 0

  /** Component `c` (1-based), subcomponent `s`, unescaped; '' when absent. */
  component(c = 1, s = 1): string {
    // Scanned on from the last component read (CWE: code, text, system), unless `c` comes before it.
    const on = c >= this.nextPart
    const value = valueAt(this.raw, on ? this.nextStart : 0, this.raw.length, c, s, this.k, -1, -1, on ? this.nextPart : 1)
    // The scan stopped at a component separator only at component c's end: c + 1 starts after it.
    if (scanEnd < this.raw.length && this.raw.charCodeAt(scanEnd) === this.k.component) {
      this.nextPart = c + 1
      this.nextStart = scanEnd + 1
    }
    return value
  }

  rawComponent(c = 1): string {
    const raw = this.raw
    if (!(c >= 1) || (c | 0) !== c) return ''
    if (c === 1 && raw.indexOf(this.d.component) < 0) return raw
    let start = 0
    for (let k = 1; k < c; k++) {
      const i = raw.indexOf(this.d.component, start)
      if (i < 0) return ''
      start = i + 1
    }
    const end = raw.indexOf(this.d.component, start)
    return end < 0 ? raw.slice(start) : raw.slice(start, end)
  }

  get componentCount(): number {
    let n = 1
    for (let i = this.raw.indexOf(this.d.component); i >= 0; i = this.raw.indexOf(this.d.component, i + 1)) n++
    return n
  }

  /** The whole repetition unescaped, components joined by the component separator (for codes without parts). */
  get value(): string {
    return this.component(1)
  }

  get isEmpty(): boolean {
    return this.raw === '' || this.raw === '""'
  }
}

export class Hl7Segment {
  /** The last part found by scanning, and where it starts (an offset in `text`). */
  private scannedPart = 0
  private scannedStart: number
  private readonly k: DelimiterCodes
  private rawText: string | undefined
  /**
   * The segment is `text[start, end)`: a parser passes the message's whole text and the segment's place in it,
   * so values are scanned in the flat text itself and no string is made for a segment nobody asks the text of.
   */
  constructor(
    readonly name: string,
    private readonly text: string,
    /** 1-based position in the message. */
    readonly index: number,
    d: Hl7Delimiters | DelimiterCodes,
    private readonly start = 0,
    private readonly end = text.length,
  ) {
    this.k = 'chars' in d ? d : delimiterCodes(d)
    this.scannedStart = start
  }

  /** The segment's text as written. */
  get raw(): string {
    if (this.rawText === undefined) this.rawText = this.start === 0 && this.end === this.text.length ? this.text : this.text.slice(this.start, this.end)
    return this.rawText
  }

  private get d(): Hl7Delimiters {
    return this.k.d
  }

  /**
   * The same segment over its own copy of the text: values read from it are not slices of the message's text,
   * so a reader that keeps them (a cache of identities) does not keep the whole message alive with them.
   */
  detached(): Hl7Segment {
    return new Hl7Segment(this.name, Buffer.from(this.raw, 'utf16le').toString('utf16le'), this.index, this.k)
  }

  /** The five delimiters as one string (field, component, repetition, escape, subcomponent): what values depend on. */
  get delimiterChars(): string {
    return this.k.chars
  }

  /**
   * Where field `n` starts in `text` (MSH-1 IS the field separator: MSH-n is part n − 1 of the segment); -1 when
   * the segment has no such field. Found by scanning on from the last part found, unless the wanted one comes
   * before it (then from the start): readers mostly go up a segment's fields (OBX-2 to OBX-5; OBR-4, -7, -24,
   * -32…), so one pass finds them all; recording every start was an array per segment and a builtin call per field.
   */
  private fieldStart(n: number): number {
    if (!(n >= 0) || (n | 0) !== n) return -1
    const k = this.name === 'MSH' && n >= 1 ? n - 1 : n
    let part = 0
    let start = this.start
    if (k >= this.scannedPart) {
      part = this.scannedPart
      start = this.scannedStart
    }
    const text = this.text
    const fs = this.k.field
    const end = this.end
    for (; part < k; part++) {
      while (start < end && text.charCodeAt(start) !== fs) start++
      if (start >= end) return -1
      start++
    }
    this.scannedPart = k
    this.scannedStart = start
    return start
  }

  /** Where the field that starts at `start` ends; the next field's start is noted (the next read usually wants it). */
  private fieldEnd(start: number): number {
    const end = this.text.indexOf(this.d.field, start)
    if (end < 0 || end >= this.end) return this.end
    this.passedFieldEnd(start, end)
    return end
  }

  /**
   * A scan from `start` (where the last part found starts) met the field separator at `end`: the next part starts
   * after it, so reading fields in order scans each character once.
   */
  private passedFieldEnd(start: number, end: number): void {
    if (start === this.scannedStart) {
      this.scannedPart++
      this.scannedStart = end + 1
    }
  }

  /** Number of the last field present. */
  get fieldCount(): number {
    let parts = 1
    for (let i = this.text.indexOf(this.d.field, this.start); i >= 0 && i < this.end; i = this.text.indexOf(this.d.field, i + 1)) parts++
    return this.name === 'MSH' ? parts : parts - 1
  }

  /** Field `n` as written (escapes and repetitions kept); '' when absent. */
  rawField(n: number): string {
    if (n === 1 && this.name === 'MSH') return this.d.field
    const start = this.fieldStart(n)
    return start < 0 ? '' : this.text.slice(start, this.fieldEnd(start))
  }

  /**
   * Every repetition of field `n` (MSH-1 and MSH-2 are never split), split afresh at each call: readers ask for a
   * field's repetitions once (values by component are read with `get`), so a cache per segment cost more than it saved.
   */
  repetitions(n: number): Hl7Field[] {
    const raw = this.rawField(n)
    if (raw === '') return []
    if (this.name === 'MSH' && n <= 2) return [new Hl7Field(raw, { ...this.d, component: '\u0000', subcomponent: '\u0000', escape: '' })]
    if (raw.indexOf(this.d.repetition) < 0) return [new Hl7Field(raw, this.k)]
    const out: Hl7Field[] = []
    for (const x of raw.split(this.d.repetition)) out.push(new Hl7Field(x, this.k))
    return out
  }

  /** Field `n`, repetition `rep`: component `c`, subcomponent `s`, unescaped; '' when absent. */
  get(n: number, c = 1, s = 1, rep = 1): string {
    if (this.name === 'MSH' && n <= 2) return this.rawField(n)
    if (rep === 1) {
      // Most reads want one value of a field once: scan the segment's text, allocate nothing but the value.
      const from = this.fieldStart(n)
      if (from < 0) return ''
      const value = valueAt(this.text, from, this.end, c, s, this.k, this.k.field, this.k.repetition)
      if (scanEnd < this.end && this.text.charCodeAt(scanEnd) === this.k.field) this.passedFieldEnd(from, scanEnd)
      return value
    }
    const f = this.repetitions(n)[rep - 1]
    return f === undefined ? '' : f.component(c, s)
  }
}

/** Where valueAt's last scan stopped (a separator or the end of its text): where a field ends, when it read to it. */
let scanEnd = 0

/**
 * Component `c`, subcomponent `s` of the value that starts at `raw[from]` and ends at the field separator `fs` or
 * at `to` (its first repetition: `rep` is the repetition separator's code; -1 for either when the value
 * is one repetition), unescaped; '' when absent. One scan: it stops at the wanted part's end. `from` may be where
 * a later component starts (`fromComponent`, when a reader goes on from a value's component it has read).
 */
function valueAt(raw: string, from: number, to: number, c: number, s: number, k: DelimiterCodes, fs: number, rep: number, fromComponent = 1): string {
  const comp = k.component
  const sub = k.subcomponent
  const esc = k.escape
  let kk = fromComponent
  let j = 1
  let start = from
  let end = from
  // Whether the value (from `start`) has an escape character: most have none and skip unescapeHl7's own scan.
  let escaped = false
  for (; end < to; end++) {
    const ch = raw.charCodeAt(end)
    if (ch === fs || ch === rep) break
    if (ch === comp) {
      if (kk === c) break
      kk++
      start = end + 1
      escaped = false
    } else if (ch === sub && kk === c) {
      if (j === s) break
      j++
      start = end + 1
      escaped = false
    } else if (ch === esc) escaped = true
  }
  scanEnd = end
  if (kk !== c || j !== s) return ''
  const value = start === 0 && end === raw.length ? raw : raw.slice(start, end)
  return escaped ? unescapeHl7(value, k.d) : value
}

export interface Hl7MessageType {
  /** MSH-9.1, e.g. `ADT`, `OMG`, `ORU`. */
  code: string
  /** MSH-9.2, e.g. `A08`, `O19`, `R01`. */
  trigger: string
  /** MSH-9.3, e.g. `ADT_A01`. */
  structure: string
}

export class Hl7Message {
  constructor(
    readonly text: string,
    readonly segments: readonly Hl7Segment[],
    readonly delimiters: Hl7Delimiters,
    /** What the bytes were: ASCII only, or ISO-2022-JP. */
    readonly charset: DetectedCharset,
    /** Problems tolerated while parsing, each with its position and never a value. */
    readonly warnings: string[],
  ) {}

  get msh(): Hl7Segment {
    return this.segments[0]
  }

  /** The first segment named `name` (e.g. `PID`). */
  segment(name: string): Hl7Segment | undefined {
    // A message has a score of segments: a scan beats building a table of them by name (a Map per message).
    for (const s of this.segments) if (s.name === name) return s
    return undefined
  }

  /** Every segment named `name`, in order. */
  all(name: string): Hl7Segment[] {
    const out: Hl7Segment[] = []
    for (const s of this.segments) if (s.name === name) out.push(s)
    return out
  }

  get type(): Hl7MessageType {
    return { code: this.msh.get(9, 1), trigger: this.msh.get(9, 2), structure: this.msh.get(9, 3) }
  }

  get controlId(): string {
    return this.msh.get(10)
  }

  get version(): string {
    return this.msh.get(12)
  }

  /** MSH-18 repetitions as written (SS-MIX2: `~ISO IR87`, the first empty one meaning ASCII). */
  get declaredCharsets(): string[] {
    return this.msh.repetitions(18).map((f) => f.value)
  }
}

/**
 * `new Set(s).size === s.length`, without the Set (an allocation per message): no code point twice. A string with
 * surrogates keeps the Set, which counts a pair as one code point.
 */
function allDistinct(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdfff) return new Set(s).size === s.length
    if (i > 0 && s.lastIndexOf(s[i]!, i - 1) >= 0) return false
  }
  return true
}

/**
 * Segment names as the string literals readers look them up by (`message.segment('OBX')` then compares two
 * identical internalized strings, not two texts), keyed by their three char codes; other names are sliced.
 */
const SEGMENT_NAMES = new Map<number, string>(
  ['MSH', 'EVN', 'PID', 'PD1', 'NK1', 'PV1', 'PV2', 'AL1', 'DG1', 'IN1', 'ORC', 'TQ1', 'TQ2', 'OBR', 'OBX', 'NTE', 'IPC', 'SPM', 'SAC', 'RXE', 'RXR', 'RXA', 'ODS', 'PRT', 'ROL']
    .map((n) => [nameKey(n), n]),
)

function nameKey(line: string, at = 0): number {
  return (line.charCodeAt(at) << 16) | (line.charCodeAt(at + 1) << 8) | line.charCodeAt(at + 2)
}

/** The name of the segment at `text[at]` (known to be three letters or digits). */
function segmentName(text: string, at: number): string {
  return SEGMENT_NAMES.get(nameKey(text, at)) ?? text.slice(at, at + 3)
}

/** `text[at, to)` is `XXX|…` or a bare `XXX`: an upper-case letter, then two upper-case letters or digits. */
// No closures inside: tsx (esbuild keepNames) wraps every named inner function in a __name() call per invocation.
function isSegmentStartAt(text: string, at: number, to: number, fs: number): boolean {
  if (to - at < 3) return false
  const a = text.charCodeAt(at)
  const b = text.charCodeAt(at + 1)
  const c = text.charCodeAt(at + 2)
  return a >= 0x41 && a <= 0x5a && isUpperOrDigit(b) && isUpperOrDigit(c) && (to - at === 3 || text.charCodeAt(at + 3) === fs)
}

/** `text[at, to)` is only white space (as String.prototype.trim sees it): a blank line, not a stray one. */
function isBlank(text: string, at: number, to: number): boolean {
  return text.slice(at, to).trim() === ''
}

/** `text` from `at` on is CRs and LFs only (what comes after the last segment when nothing else is there). */
function onlyLineEnds(text: string, at: number): boolean {
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x0d && c !== 0x0a) return false
  }
  return true
}

function isUpperOrDigit(x: number): boolean {
  return (x >= 0x41 && x <= 0x5a) || (x >= 0x30 && x <= 0x39)
}

/** Any of the spellings below anywhere in MSH (MSH-18 or MSH-20). */
const JAPANESE_DECLARATION = /ISO[\s_-]?IR[\s_-]?(?:87|159)|ISO[\s_-]?2022|JIS/i

/** Character set spellings seen in MSH-18/MSH-20 for ISO-2022-JP: all mean the same to us. */
export function isJapaneseCharsetTerm(term: string): boolean {
  const t = term.toUpperCase().replace(/[\s_-]/g, '')
  return t === 'ISOIR87' || t === 'ISOIR159' || t === 'ISO2022JP' || t === 'ISO20221994' || t === 'ISO2022IR87' || t === 'JIS'
}

/**
 * Parses one HL7 v2 message from its bytes (or already-decoded text). Throws a KuraError (code `HL7_*`) when the
 * message cannot be read at all; everything it tolerates is listed in `warnings`.
 */
export function parseHl7(input: Uint8Array | string): Hl7Message {
  let text: string
  let charset: DetectedCharset
  if (typeof input === 'string') {
    text = input
    charset = /^[\x00-\x7f]*$/.test(input) ? 'ascii' : 'iso-2022-jp'
  } else {
    // Not HL7 at all (a PDF, an image): say so before any character-set verdict on its binary bytes.
    let i = 0
    while (i < input.length && (input[i] <= 0x20 || input[i] === 0x1a)) i++
    if (i === input.length) throw Hl7Errors.empty()
    if (input[i] === 0xef && input[i + 1] === 0xbb && input[i + 2] === 0xbf) i += 3
    if (input[i] !== 0x4d || input[i + 1] !== 0x53 || input[i + 2] !== 0x48) throw Hl7Errors.noMsh()
    const d = decodeHl7Bytes(input)
    text = d.text
    charset = d.charset
  }
  const warnings: string[] = []
  // A byte-order mark or blank lines before MSH, NULs or ^Z (DOS EOF) after the last segment.
  let start = 0
  while (start < text.length && (text.charCodeAt(start) <= 0x20 || text.charCodeAt(start) === 0xfeff)) start++
  let end = text.length
  while (end > start) {
    const c = text.charCodeAt(end - 1)
    if (c <= 0x20 || c === 0x1a) end--
    else break
  }
  if (end <= start) throw Hl7Errors.empty()
  if (end < text.length && !onlyLineEnds(text, end)) warnings.push('trailing NUL/EOF bytes after the last segment ignored')
  if (start > 0 || end < text.length) text = text.slice(start, end)
  if (!text.startsWith('MSH')) throw Hl7Errors.noMsh()
  const fs = text[3]
  const enc = text.slice(4, 8)
  if (fs === undefined || /[A-Za-z0-9\r\n]/.test(fs) || enc.length < 4 || !allDistinct(fs + enc) || enc.includes('\r')) {
    // Three encoding characters (no subcomponent) is legal in old messages; anything else is not HL7.
    if (!(fs && enc.length >= 3 && enc[3] === fs && new Set(fs + enc.slice(0, 3)).size === 4)) throw Hl7Errors.badEncodingCharacters()
  }
  const d: Hl7Delimiters = {
    field: fs,
    component: enc[0],
    repetition: enc[1],
    escape: enc[2],
    subcomponent: enc[3] === fs ? '\u0000' : enc[3],
  }
  const codes = delimiterCodes(d)
  // CR ends a segment; when a file has no CR at all its writer used LF. With CR present, an LF after it is a CRLF
  // end and an LF elsewhere is a line break inside a text value, kept. Lines are found with indexOf and sliced
  // once each (no array of every line from split).
  const eol = text.indexOf('\r') >= 0 ? '\r' : '\n'
  const segments: Hl7Segment[] = []
  const fsCode = fs.charCodeAt(0)
  let stray = 0
  for (let from = 0; from <= text.length; ) {
    let to = text.indexOf(eol, from)
    if (to < 0) to = text.length
    let lineStart = from
    from = to + 1
    if (text.charCodeAt(lineStart) === 0x0a && lineStart < to) lineStart++
    if (lineStart === to) continue
    if (!isSegmentStartAt(text, lineStart, to, fsCode)) {
      if (!isBlank(text, lineStart, to)) stray++
      continue
    }
    segments.push(new Hl7Segment(segmentName(text, lineStart), text, segments.length + 1, codes, lineStart, to))
  }
  if (stray > 0) warnings.push(`${stray} line(s) that are not segments ignored`)
  const msg = new Hl7Message(text, segments, d, charset, warnings)
  if (charset === 'iso-2022-jp' && !JAPANESE_DECLARATION.test(segments[0].raw)) {
    warnings.push(msg.declaredCharsets.length === 0 ? 'MSH-18 (character set) is missing; decoded as ISO-2022-JP from its escape sequences' : 'MSH-18 does not name ISO IR87; decoded as ISO-2022-JP from its escape sequences')
  }
  return msg
}
