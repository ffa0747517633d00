/**
 * @module Writes a DICOM Part 10 file (PS3.10 7.1) from an element list: preamble, DICM, File Meta with its
 * group length, and the dataset in Explicit or Implicit VR Little Endian (or deflated, or with encapsulated
 * pixel data for the compressed syntaxes).
 */
import { deflateRawSync } from 'node:zlib'
import { encodeString } from './charset.ts'
import { Tags } from './dictionary.ts'
import { DicomErrors } from './errors.ts'
import { parseCharsetValue } from './parser.ts'
import { TransferSyntax, transferSyntaxInfo } from './transfer-syntax.ts'
import type { PersonName, Tag, Vr } from './types.ts'
import { LONG_LENGTH_VRS } from './vr.ts'

/** Kura's Implementation Class UID (PS3.7 D.3.3.2): a UUID-derived UID (PS3.5 B.2) fixed for this implementation. */
export const KURA_IMPLEMENTATION_CLASS_UID = '2.25.100346920813337053928246817758229797952'
export const KURA_IMPLEMENTATION_VERSION_NAME = 'KURA_0.1'

export type WriteValue =
  | string
  | string[]
  | number
  | number[]
  | Uint8Array
  /** Encapsulated Pixel Data: one Uint8Array per fragment (an empty Basic Offset Table is added). */
  | Uint8Array[]
  | PersonName[]
  /** Sequence items, each an element list. */
  | WriteElement[][]
  | null
  | undefined

export interface WriteElement {
  tag: Tag
  vr: Vr
  value: WriteValue
}

export interface WriteMeta {
  MediaStorageSOPClassUID?: string
  MediaStorageSOPInstanceUID?: string
  ImplementationClassUID?: string
  ImplementationVersionName?: string
  SourceApplicationEntityTitle?: string
}

export interface WriteInput {
  meta?: WriteMeta
  dataset: readonly WriteElement[]
}

export interface WriteOptions {
  /** Explicit VR Little Endian by default; Implicit VR LE, Deflated, and encapsulated (compressed) syntaxes also work. */
  transferSyntaxUID?: string
  /** Specific Character Set to encode text with; by default the dataset's (0008,0005) value. */
  charsets?: readonly string[]
}

/** Growable little-endian output buffer. */
class Out {
  buf: Uint8Array
  dv: DataView
  pos = 0
  // Small to start: most hold one dataset's few replaced elements (the rewrite makes several per object).
  constructor(size = 512) {
    this.buf = new Uint8Array(size)
    this.dv = new DataView(this.buf.buffer)
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let len = this.buf.length * 2
    while (len < this.pos + n) len *= 2
    const b = new Uint8Array(len)
    b.set(this.buf.subarray(0, this.pos))
    this.buf = b
    this.dv = new DataView(b.buffer)
  }
  u16(v: number): void {
    this.ensure(2)
    this.dv.setUint16(this.pos, v, true)
    this.pos += 2
  }
  u32(v: number): void {
    this.ensure(4)
    this.dv.setUint32(this.pos, v >>> 0, true)
    this.pos += 4
  }
  tag(t: Tag): void {
    this.u16(t >>> 16)
    this.u16(t & 0xffff)
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }
  ascii(s: string): void {
    this.ensure(s.length)
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i)
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

/**
 * One buffer reused by the top level of encodeDataset and encodeFileMeta (both synchronous and never nested), whose
 * results are copied out at their exact size: the rewrite calls them several times per object, and a fresh
 * zeroed buffer and DataView each time showed in profiles of small objects.
 */
const scratch = new Out(64 * 1024)

function scratchOut(): Out {
  // A large value grew it once: let that memory go rather than keep it for good.
  if (scratch.buf.length > 1 << 20) {
    scratch.buf = new Uint8Array(64 * 1024)
    scratch.dv = new DataView(scratch.buf.buffer)
  }
  scratch.pos = 0
  return scratch
}

const STRING_VRS = new Set<Vr>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT'])
const NUMBER_VRS: Partial<Record<Vr, number>> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8, AT: 4 }
const EMPTY = new Uint8Array(0)

/** DS is at most 16 characters (PS3.5 Table 6.2-1): the closest of the plain and exponent spellings that fit. */
function formatDS(n: number): string {
  if (!Number.isFinite(n)) throw DicomErrors.badValue(`DS cannot hold ${n}`)
  const plain = String(n)
  if (plain.length <= 16) return plain
  let fixed = plain
  for (let p = 15; fixed.length > 16 && p > 0; p--) fixed = String(Number(n.toPrecision(p)))
  let exp = ''
  for (let d = 14; d >= 0; d--) {
    exp = n.toExponential(d).replace(/\.?0+e/, 'e')
    if (exp.length <= 16) break
  }
  const candidates = [fixed, exp].filter((c) => c.length <= 16)
  candidates.sort((a, b) => Math.abs(Number(a) - n) - Math.abs(Number(b) - n))
  return candidates[0]
}

function personNameString(pn: PersonName | string): string {
  if (typeof pn === 'string') return pn
  return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '')
}

function textOf(el: WriteElement): string {
  const v = el.value
  if (v === null || v === undefined) return ''
  const list = Array.isArray(v) ? (v as unknown[]) : [v]
  return list
    .map((x) => {
      if (el.vr === 'PN' && typeof x === 'object' && x !== null) return personNameString(x as PersonName)
      if (typeof x === 'number') {
        if (el.vr === 'DS') return formatDS(x)
        if (el.vr === 'IS' && !Number.isInteger(x)) throw DicomErrors.badValue(`IS value ${x} of ${el.tag.toString(16)} is not an integer`)
        return String(x)
      }
      if (typeof x !== 'string') throw DicomErrors.badValue(`element ${el.tag.toString(16).padStart(8, '0')} (${el.vr}) needs text, not ${typeof x}`)
      return x
    })
    .join('\\')
}

/** Value bytes padded to even length: UI with NUL, other text with space, binary with NUL (PS3.5 6.2). */
function valueBytes(el: WriteElement, charsets: readonly string[]): Uint8Array {
  const v = el.value
  if (v === null || v === undefined) return EMPTY
  const vr = el.vr
  if (STRING_VRS.has(vr)) {
    const b = encodeString(textOf(el), charsets, vr)
    if (b.length % 2 === 0) return b
    const out = new Uint8Array(b.length + 1)
    out.set(b)
    out[b.length] = vr === 'UI' ? 0 : 0x20
    return out
  }
  const width = NUMBER_VRS[vr]
  if (width !== undefined) {
    const list = (Array.isArray(v) ? v : [v]) as unknown[]
    const out = new Uint8Array(list.length * width)
    const dv = new DataView(out.buffer)
    list.forEach((x, i) => {
      if (typeof x !== 'number') throw DicomErrors.badValue(`element ${el.tag.toString(16).padStart(8, '0')} (${vr}) needs numbers`)
      const o = i * width
      switch (vr) {
        case 'US': dv.setUint16(o, x, true); break
        case 'SS': dv.setInt16(o, x, true); break
        case 'UL': dv.setUint32(o, x, true); break
        case 'SL': dv.setInt32(o, x, true); break
        case 'FL': dv.setFloat32(o, x, true); break
        case 'FD': dv.setFloat64(o, x, true); break
        case 'SV': dv.setBigInt64(o, BigInt(x), true); break
        case 'UV': dv.setBigUint64(o, BigInt(x), true); break
        case 'AT': dv.setUint16(o, x >>> 16, true); dv.setUint16(o + 2, x & 0xffff, true); break
      }
    })
    return out
  }
  // Binary: OB, OW, OF, OD, OL, OV, UN.
  if (v instanceof Uint8Array) {
    if (v.length % 2 === 0) return v
    const out = new Uint8Array(v.length + 1)
    out.set(v)
    return out
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) {
    const w = vr === 'OW' ? 2 : vr === 'OD' || vr === 'OV' ? 8 : 4
    const out = new Uint8Array(v.length * w)
    const dv = new DataView(out.buffer)
    ;(v as number[]).forEach((x, i) => {
      if (vr === 'OW') dv.setUint16(i * 2, x, true)
      else if (vr === 'OF') dv.setFloat32(i * 4, x, true)
      else if (vr === 'OD') dv.setFloat64(i * 8, x, true)
      else if (vr === 'OL') dv.setUint32(i * 4, x, true)
      else if (vr === 'OV') dv.setBigUint64(i * 8, BigInt(x), true)
      else out[i] = x
    })
    return out
  }
  throw DicomErrors.badValue(`element ${el.tag.toString(16).padStart(8, '0')} (${vr}) needs bytes`)
}

function isFragments(v: WriteValue): v is Uint8Array[] {
  return Array.isArray(v) && v.length > 0 && v[0] instanceof Uint8Array
}

function isItems(v: WriteValue): v is WriteElement[][] {
  return Array.isArray(v) && (v.length === 0 || Array.isArray(v[0]))
}

function charsetOf(elements: readonly WriteElement[], inherited: readonly string[]): readonly string[] {
  const cs = elements.find((e) => e.tag === Tags.SpecificCharacterSet)
  if (!cs) return inherited
  const v = cs.value
  if (v === null || v === undefined) return []
  if (Array.isArray(v)) return (v as unknown[]).map((x) => String(x).trim())
  return parseCharsetValue(new TextEncoder().encode(String(v)))
}

function header(out: Out, tag: Tag, vr: Vr, length: number, explicit: boolean): void {
  out.tag(tag)
  if (!explicit) {
    out.u32(length)
    return
  }
  out.ascii(vr)
  if (LONG_LENGTH_VRS.has(vr)) {
    out.u16(0)
    out.u32(length)
  } else {
    if (length > 0xffff) throw DicomErrors.badValue(`element ${tag.toString(16).padStart(8, '0')} (${vr}) is ${length} bytes, more than its VR can hold (65534)`)
    out.u16(length)
  }
}

function writeElements(out: Out, elements: readonly WriteElement[], explicit: boolean, inherited: readonly string[]): void {
  const charsets = charsetOf(elements, inherited)
  const sorted = [...elements].sort((a, b) => (a.tag >>> 0) - (b.tag >>> 0))
  for (const el of sorted) {
    const tag = el.tag >>> 0
    // File Meta is written separately; group lengths are optional and left out (PS3.5 7.2).
    if (tag >>> 16 === 0x0002 || (tag & 0xffff) === 0) continue
    if (el.vr === 'SQ') {
      if (el.value !== null && el.value !== undefined && !isItems(el.value)) throw DicomErrors.badValue(`sequence ${tag.toString(16).padStart(8, '0')} needs a list of items`)
      const items = (el.value ?? []) as WriteElement[][]
      const body = new Out()
      for (const item of items) {
        const inner = new Out()
        writeElements(inner, item, explicit, charsets)
        body.tag(Tags.Item)
        body.u32(inner.pos)
        body.bytes(inner.result())
      }
      header(out, tag, 'SQ', body.pos, explicit)
      out.bytes(body.result())
      continue
    }
    if (isFragments(el.value)) {
      // Encapsulated (PS3.5 A.4): undefined length, empty Basic Offset Table, one item per fragment.
      header(out, tag, el.vr === 'OW' ? 'OW' : 'OB', 0xffffffff, explicit)
      out.tag(Tags.Item)
      out.u32(0)
      for (const frag of el.value) {
        const len = frag.length + (frag.length % 2)
        out.tag(Tags.Item)
        out.u32(len)
        out.bytes(frag)
        if (len !== frag.length) out.bytes(new Uint8Array(1))
      }
      out.tag(Tags.SequenceDelimitationItem)
      out.u32(0)
      continue
    }
    const b = valueBytes(el, charsets)
    header(out, tag, el.vr, b.length, explicit)
    out.bytes(b)
  }
}

function uidValue(elements: readonly WriteElement[], tag: Tag): string | undefined {
  const v = elements.find((e) => e.tag === tag)?.value
  if (typeof v === 'string') return v
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0]
  return undefined
}

/**
 * The dataset alone, encoded exactly as writeDicom encodes it after the File Meta for a little-endian, not deflated
 * transfer syntax (`charsets` as writeDicom's `opts.charsets`). The rewrite encodes its replaced elements with it.
 */
export function encodeDataset(elements: readonly WriteElement[], explicitVr: boolean, charsets: readonly string[]): Uint8Array {
  const body = scratchOut()
  writeElements(body, elements, explicitVr, charsets)
  return body.buf.slice(0, body.pos)
}

/** Encodes a Part 10 file. Throws DICOM_BAD_VALUE / DICOM_UNENCODABLE_TEXT / DICOM_UNSUPPORTED_TRANSFER_SYNTAX. */
export function writeDicom(input: WriteInput, opts: WriteOptions = {}): Uint8Array {
  const ts = opts.transferSyntaxUID ?? TransferSyntax.ExplicitVRLittleEndian
  const info = transferSyntaxInfo(ts)
  if (!info.littleEndian || !info.known) throw DicomErrors.unsupportedTransferSyntax(ts)
  const charsets = opts.charsets ?? charsetOf(input.dataset, [])

  const body = new Out()
  writeElements(body, input.dataset, info.explicitVr, charsets)

  const m = input.meta ?? {}
  const head = encodeFileMeta({
    ...m,
    MediaStorageSOPClassUID: m.MediaStorageSOPClassUID ?? uidValue(input.dataset, Tags.SOPClassUID),
    MediaStorageSOPInstanceUID: m.MediaStorageSOPInstanceUID ?? uidValue(input.dataset, Tags.SOPInstanceUID),
    TransferSyntaxUID: ts,
  })
  const dataset = info.deflated ? new Uint8Array(deflateRawSync(body.result())) : body.result()
  const out = new Uint8Array(head.length + dataset.length)
  out.set(head)
  out.set(dataset, head.length)
  return out
}

/**
 * Preamble, "DICM" and the File Meta group (PS3.10 7.1) with its group length, for a dataset in `TransferSyntaxUID`.
 * ImplementationClassUID and ImplementationVersionName default to Kura's.
 */
export function encodeFileMeta(m: WriteMeta & { TransferSyntaxUID: string }): Uint8Array {
  const sopClass = m.MediaStorageSOPClassUID
  const sopInstance = m.MediaStorageSOPInstanceUID
  if (!sopClass || !sopInstance) throw DicomErrors.badValue('SOP Class UID (0008,0016) and SOP Instance UID (0008,0018) are required to write a Part 10 file')
  const meta: WriteElement[] = [
    { tag: Tags.FileMetaInformationVersion, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: Tags.MediaStorageSOPClassUID, vr: 'UI', value: sopClass },
    { tag: Tags.MediaStorageSOPInstanceUID, vr: 'UI', value: sopInstance },
    { tag: Tags.TransferSyntaxUID, vr: 'UI', value: m.TransferSyntaxUID },
    { tag: Tags.ImplementationClassUID, vr: 'UI', value: m.ImplementationClassUID ?? KURA_IMPLEMENTATION_CLASS_UID },
    { tag: Tags.ImplementationVersionName, vr: 'SH', value: m.ImplementationVersionName ?? KURA_IMPLEMENTATION_VERSION_NAME },
  ]
  if (m.SourceApplicationEntityTitle) meta.push({ tag: Tags.SourceApplicationEntityTitle, vr: 'AE', value: m.SourceApplicationEntityTitle })
  const out = scratchOut()
  out.ensure(132 + 12)
  out.buf.fill(0, 0, 128) // preamble: zeros (PS3.10 7.1)
  out.pos = 128
  out.ascii('DICM')
  header(out, Tags.FileMetaInformationGroupLength, 'UL', 4, true)
  const lengthAt = out.pos
  out.u32(0)
  for (const el of meta) {
    const b = valueBytes(el, [])
    header(out, el.tag, el.vr, b.length, true)
    out.bytes(b)
  }
  out.dv.setUint32(lengthAt, out.pos - lengthAt - 4, true)
  return out.buf.slice(0, out.pos)
}
