/**
 * @module The HL7 v2 message: `parseHl7(bytes)` decodes the whole message first (see charset.ts: kanji bytes can
 * equal delimiters), then splits it into segments; fields, repetitions and components are split only when asked
 * for, so a reader that wants PID-3 and PID-5 pays for nothing else.
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

/** One repetition of a field: components and subcomponents on demand. */
export class Hl7Field {
  private comps?: string[]
  constructor(readonly raw: string, private readonly d: Hl7Delimiters) {}

  /** Component `c` (1-based), subcomponent `s`, unescaped; '' when absent. */
  component(c = 1, s = 1): string {
    const raw = this.rawComponent(c)
    if (!raw) return ''
    if (s === 1 && raw.indexOf(this.d.subcomponent) < 0) return unescapeHl7(raw, this.d)
    return unescapeHl7(raw.split(this.d.subcomponent)[s - 1] ?? '', this.d)
  }

  rawComponent(c = 1): string {
    if (c === 1 && this.comps === undefined && this.raw.indexOf(this.d.component) < 0) return this.raw
    this.comps ??= this.raw.split(this.d.component)
    return this.comps[c - 1] ?? ''
  }

  get componentCount(): number {
    this.comps ??= this.raw.split(this.d.component)
    return this.comps.length
  }

  /** The whole repetition unescaped, components joined by the component separator (for codes without parts). */
  get value(): string {
    return this.component(1)
  }

  get isEmpty(): boolean {
    return this.raw === '' || this.raw === '""'
  }
}

/** Fields up to this number are found by scanning until a higher one is asked for (then the segment is split once). */
const SCAN_FIELDS = 8

export class Hl7Segment {
  private fields?: string[]
  /** Repetitions per field, split once: mappings read the same field several times (OBX-3 code and system). */
  private reps?: Array<Hl7Field[] | undefined>
  constructor(
    readonly name: string,
    readonly raw: string,
    /** 1-based position in the message. */
    readonly index: number,
    private readonly d: Hl7Delimiters,
  ) {}

  /** The five delimiters as one string (field, component, repetition, escape, subcomponent): what values depend on. */
  get delimiterChars(): string {
    return this.d.field + this.d.component + this.d.repetition + this.d.escape + this.d.subcomponent
  }

  private split(): string[] {
    if (this.fields === undefined) {
      const parts = this.raw.split(this.d.field)
      // MSH-1 IS the field separator: shift so that fields[n] is MSH-n.
      if (this.name === 'MSH') parts.splice(1, 0, this.d.field)
      this.fields = parts
    }
    return this.fields
  }

  /** Number of the last field present. */
  get fieldCount(): number {
    return this.split().length - 1
  }

  /** Field `n` as written (escapes and repetitions kept); '' when absent. */
  rawField(n: number): string {
    // A low field of a segment not split yet is found by scanning: most OBX reads want fields 2 to 5 of ~20, and
    // splitting every OBX made a string per field (≈ 2 KB of garbage per message). MSH shifts its fields: split.
    if (this.fields === undefined && n >= 0 && n <= SCAN_FIELDS && (n | 0) === n && this.name !== 'MSH') {
      const raw = this.raw
      const fs = this.d.field
      let start = 0
      for (let k = 0; k < n; k++) {
        const i = raw.indexOf(fs, start)
        if (i < 0) return ''
        start = i + 1
      }
      const end = raw.indexOf(fs, start)
      return end < 0 ? raw.slice(start) : raw.slice(start, end)
    }
    return this.split()[n] ?? ''
  }

  /** Every repetition of field `n` (MSH-1 and MSH-2 are never split). */
  repetitions(n: number): Hl7Field[] {
    this.reps ??= []
    let r = this.reps[n]
    if (r === undefined) {
      const raw = this.rawField(n)
      if (raw === '') r = []
      else if (this.name === 'MSH' && n <= 2) r = [new Hl7Field(raw, { ...this.d, component: '\u0000', subcomponent: '\u0000', escape: '' })]
      else if (raw.indexOf(this.d.repetition) < 0) r = [new Hl7Field(raw, this.d)]
      else r = raw.split(this.d.repetition).map((x) => new Hl7Field(x, this.d))
      this.reps[n] = r
    }
    return r
  }

  /** Field `n`, repetition `rep`: component `c`, subcomponent `s`, unescaped; '' when absent. */
  get(n: number, c = 1, s = 1, rep = 1): string {
    if (this.name === 'MSH' && n <= 2) return this.rawField(n)
    if (rep === 1 && this.reps?.[n] === undefined) return scanFirst(this.rawField(n), c, s, this.d)
    const f = this.repetitions(n)[rep - 1]
    return f === undefined ? '' : f.component(c, s)
  }
}

/**
 * Component `c`, subcomponent `s` of a field's first repetition, found by scanning instead of splitting: most
 * reads want one value of a field once, and this allocates nothing but the result.
 */
function scanFirst(raw: string, c: number, s: number, d: Hl7Delimiters): string {
  if (raw === '') return ''
  let end = raw.indexOf(d.repetition)
  if (end < 0) end = raw.length
  let start = 0
  for (let k = 1; k < c; k++) {
    const i = raw.indexOf(d.component, start)
    if (i < 0 || i >= end) return ''
    start = i + 1
  }
  const ce = raw.indexOf(d.component, start)
  if (ce >= 0 && ce < end) end = ce
  for (let k = 1; k < s; k++) {
    const i = raw.indexOf(d.subcomponent, start)
    if (i < 0 || i >= end) return ''
    start = i + 1
  }
  const se = raw.indexOf(d.subcomponent, start)
  if (se >= 0 && se < end) end = se
  return unescapeHl7(start === 0 && end === raw.length ? raw : raw.slice(start, end), d)
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
  private byName?: Map<string, Hl7Segment[]>
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
    return this.all(name)[0]
  }

  /** Every segment named `name`, in order. */
  all(name: string): Hl7Segment[] {
    if (!this.byName) {
      this.byName = new Map()
      for (const s of this.segments) {
        const list = this.byName.get(s.name)
        if (list) list.push(s)
        else this.byName.set(s.name, [s])
      }
    }
    return this.byName.get(name) ?? []
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

/** `XXX|` or a bare `XXX`: an upper-case letter, then two upper-case letters or digits. */
// No closures inside: tsx (esbuild keepNames) wraps every named inner function in a __name() call per invocation.
function isSegmentStart(line: string, fs: number): boolean {
  const a = line.charCodeAt(0)
  const b = line.charCodeAt(1)
  const c = line.charCodeAt(2)
  return a >= 0x41 && a <= 0x5a && isUpperOrDigit(b) && isUpperOrDigit(c) && (line.length === 3 || line.charCodeAt(3) === fs)
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
  if (end < text.length && /[^\r\n]/.test(text.slice(end))) warnings.push('trailing NUL/EOF bytes after the last segment ignored')
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
  // CR ends a segment; when a file has no CR at all its writer used LF. With CR present, an LF after it is a CRLF
  // end and an LF elsewhere is a line break inside a text value, kept.
  const lines = text.indexOf('\r') >= 0 ? text.split('\r') : text.split('\n')
  const segments: Hl7Segment[] = []
  const fsCode = fs.charCodeAt(0)
  let stray = 0
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]
    if (line.charCodeAt(0) === 0x0a) line = line.slice(1)
    if (line.length === 0) continue
    if (!isSegmentStart(line, fsCode)) {
      if (line.trim() !== '') stray++
      continue
    }
    segments.push(new Hl7Segment(line.slice(0, 3), line, segments.length + 1, d))
  }
  if (stray > 0) warnings.push(`${stray} line(s) that are not segments ignored`)
  const msg = new Hl7Message(text, segments, d, charset, warnings)
  if (charset === 'iso-2022-jp' && !JAPANESE_DECLARATION.test(segments[0].raw)) {
    warnings.push(msg.declaredCharsets.length === 0 ? 'MSH-18 (character set) is missing; decoded as ISO-2022-JP from its escape sequences' : 'MSH-18 does not name ISO IR87; decoded as ISO-2022-JP from its escape sequences')
  }
  return msg
}
