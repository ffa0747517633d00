/**
 * @module Fast decoder for ISO 2022 code extensions as DICOM uses them (PS3.5 6.1.2.5): Japanese
 * (IR 13, 87, 159), Korean (IR 149), Chinese (IR 58) and the ISO 8859 upper halves.
 *
 * dicom-character-set decodes these correctly but builds a TextDecoder per run (~40 µs a Japanese name);
 * this keeps one decoder per encoding. Returns undefined for anything it does not know (an unknown
 * escape or term) so the caller can fall back to dicom-character-set.
 */

type Element =
  | { kind: 'ascii' }
  | { kind: 'romaji' }
  | { kind: 'katakana' }
  | { kind: 'double'; encoding: string; high: number; prefix?: number }
  | { kind: 'upper'; encoding: string }

const ASCII: Element = { kind: 'ascii' }
const ROMAJI: Element = { kind: 'romaji' }
const KATAKANA: Element = { kind: 'katakana' }
/** JIS X 0208 in G0: add 0x80 to both bytes to get EUC-JP. */
const JIS0208: Element = { kind: 'double', encoding: 'euc-jp', high: 0x80 }
/** JIS X 0212 in G0: EUC-JP codes it as 0x8F plus both bytes with the high bit. */
const JIS0212: Element = { kind: 'double', encoding: 'euc-jp', high: 0x80, prefix: 0x8f }
const KSX1001: Element = { kind: 'double', encoding: 'euc-kr', high: 0 }
const GB2312: Element = { kind: 'double', encoding: 'gb18030', high: 0 }

const UPPER: Record<string, string> = {
  '100': 'latin1', '101': 'iso-8859-2', '109': 'iso-8859-3', '110': 'iso-8859-4', '144': 'iso-8859-5', '127': 'iso-8859-6',
  '126': 'iso-8859-7', '138': 'iso-8859-8', '148': 'iso-8859-9', '166': 'windows-874', '203': 'iso-8859-15',
}
const UPPER_FINAL: Record<number, string> = { 0x41: '100', 0x42: '101', 0x43: '109', 0x44: '110', 0x4c: '144', 0x47: '127', 0x46: '126', 0x48: '138', 0x4d: '148', 0x54: '166', 0x62: '203' }
const upperElements = new Map<string, Element>()
function upper(ir: string): Element | undefined {
  const enc = UPPER[ir]
  if (!enc) return undefined
  let e = upperElements.get(ir)
  if (!e) upperElements.set(ir, (e = { kind: 'upper', encoding: enc }))
  return e
}

const decoders = new Map<string, { decode(b: Uint8Array): string }>()
function decoder(encoding: string): { decode(b: Uint8Array): string } {
  let d = decoders.get(encoding)
  if (!d) decoders.set(encoding, (d = new TextDecoder(encoding)))
  return d
}

/** Initial G0/G1 for value 1 of Specific Character Set; undefined when not an ISO 2022 set we know. */
function initial(term: string): { g0: Element; g1: Element | undefined } | undefined {
  if (term === '' || term === 'ISO 2022 IR 6' || term === 'ISO_IR 6') return { g0: ASCII, g1: undefined }
  const m = /^ISO(?: 2022 |_)IR (\d+)$/.exec(term)
  if (!m) return undefined
  const ir = m[1]
  if (ir === '13') return { g0: ROMAJI, g1: KATAKANA }
  if (ir === '87') return { g0: JIS0208, g1: undefined }
  if (ir === '159') return { g0: JIS0212, g1: undefined }
  if (ir === '149') return { g0: ASCII, g1: KSX1001 }
  if (ir === '58') return { g0: ASCII, g1: GB2312 }
  const u = upper(ir)
  return u ? { g0: ASCII, g1: u } : undefined
}

/** Reads the escape sequence at i; returns the designated element and which plane, and its length. */
function escape(b: Uint8Array, i: number): { g: 0 | 1; e: Element; len: number } | undefined {
  const b1 = b[i + 1]
  const b2 = b[i + 2]
  if (b1 === 0x28 && b2 === 0x42) return { g: 0, e: ASCII, len: 3 }
  if (b1 === 0x28 && b2 === 0x4a) return { g: 0, e: ROMAJI, len: 3 }
  if (b1 === 0x29 && b2 === 0x49) return { g: 1, e: KATAKANA, len: 3 }
  if (b1 === 0x24 && b2 === 0x42) return { g: 0, e: JIS0208, len: 3 }
  if (b1 === 0x24 && b2 === 0x28 && b[i + 3] === 0x44) return { g: 0, e: JIS0212, len: 4 }
  if (b1 === 0x24 && b2 === 0x29 && b[i + 3] === 0x43) return { g: 1, e: KSX1001, len: 4 }
  if (b1 === 0x24 && b2 === 0x29 && b[i + 3] === 0x41) return { g: 1, e: GB2312, len: 4 }
  if (b1 === 0x2d) {
    const ir = UPPER_FINAL[b2]
    const e = ir ? upper(ir) : undefined
    if (e) return { g: 1, e, len: 3 }
  }
  return undefined
}

/**
 * Decodes `bytes` under normalized Specific Character Set terms; `delimiters` are the bytes that return
 * the code elements to their initial state (CR, LF, FF, TAB, and '\\', '^', '=' as the VR allows).
 */
export function decodeIso2022(bytes: Uint8Array, terms: readonly string[], delimiters: (b: number) => boolean): string | undefined {
  const init = initial(terms[0] ?? '')
  if (!init) return undefined
  for (let t = 1; t < terms.length; t++) if (!initial(terms[t])) return undefined
  let g0 = init.g0
  let g1 = init.g1
  let out = ''
  // Pending multi-byte run, converted to its EUC form and decoded in one call.
  let run: number[] = []
  let runEncoding = ''
  const flush = () => {
    if (run.length) out += decoder(runEncoding).decode(Uint8Array.from(run))
    run = []
  }
  const n = bytes.length
  let i = 0
  while (i < n) {
    const c = bytes[i]
    if (c === 0x1b) {
      const esc = escape(bytes, i)
      if (!esc) return undefined
      flush()
      if (esc.g === 0) g0 = esc.e
      else g1 = esc.e
      i += esc.len
      continue
    }
    const e = c >= 0x80 ? g1 : g0
    if (e === undefined) return undefined
    if (e.kind === 'double') {
      if (i + 1 >= n) return undefined
      if (runEncoding !== e.encoding) flush()
      runEncoding = e.encoding
      if (e.prefix) run.push(e.prefix)
      run.push(c | e.high, bytes[i + 1] | e.high)
      i += 2
      continue
    }
    flush()
    if (e.kind === 'ascii' || e.kind === 'romaji') {
      // Control characters and delimiters are single bytes in G0; a delimiter resets both planes.
      if (delimiters(c)) {
        g0 = init.g0
        g1 = init.g1
      }
      out += String.fromCharCode(c)
    } else if (e.kind === 'katakana') {
      // JIS X 0201 katakana 0xA1-0xDF are U+FF61-U+FF9F.
      if (c < 0xa1 || c > 0xdf) return undefined
      out += String.fromCharCode(0xff61 + c - 0xa1)
    } else {
      out += decoder(e.encoding).decode(bytes.subarray(i, i + 1))
    }
    i++
  }
  flush()
  return out
}
