/**
 * @module Streaming header rewrite for de-identification: a new Part 10 object in the source's transfer syntax where each element is kept byte for byte, removed, or replaced, and bulk values stream from the source.
 *
 * Sequences and items are written with undefined length (PS3.5 7.5) so nothing has to be measured in
 * advance; kept non-sequence values (pixel data included, encapsulated item structure included) are
 * copied from the ByteSource in chunks and never loaded whole. Re-encoded pixel data (the `encapsulate` edit)
 * is written frame by frame as the plan produces the frames, in a transfer syntax the plan may change.
 */
import { KuraError, type ByteSource } from '@kura/core'
import { Tags } from './dictionary.ts'
import { encapsulatedValue, type OffsetTable } from './encapsulated.ts'
import { DicomErrors } from './errors.ts'
import { parseCharsetValue } from './parser.ts'
import { transferSyntaxInfo } from './transfer-syntax.ts'
import type { DicomDataset, DicomElement, ParsedDicom, Tag, Vr } from './types.ts'
import { getString } from './values.ts'
import { LONG_LENGTH_VRS } from './vr.ts'
import { encodeDataset, encodeFileMeta, type WriteValue } from './writer.ts'

export type Edit =
  /** Copied unchanged: value bytes identical; sequences recurse into their items. */
  | { op: 'keep' }
  | { op: 'remove' }
  /** A new value, encoded as writeDicom does (text with the output dataset's Specific Character Set). */
  | { op: 'replace'; vr?: Vr; value: WriteValue }
  /** Raw new value bytes, written as given (the caller pads them to even length). */
  | { op: 'replaceBytes'; bytes: Uint8Array }
  /**
   * Root Pixel Data only: a new encapsulated value (PS3.5 A.4), one fragment per frame, each frame taken from
   * `frames` only when it is written (so frames can be produced one at a time). The output transfer syntax must
   * be an encapsulated one. Extended Offset Table and its Lengths are dropped, as they would point at the old
   * fragments. An empty Basic Offset Table by default; 'basic' fills it, holding the encoded frames until the last.
   */
  | { op: 'encapsulate'; frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>; offsetTable?: OffsetTable }

export interface RewritePlan {
  /**
   * Decides per element; `path` is the tag path from the root (e.g. [0x00081115, 0, 0x00081155]), valid during the
   * call only (one array per dataset is reused: copy it to keep it).
   */
  edit(el: DicomElement, path: readonly number[], ds: DicomDataset): Edit
  /** Elements to add at the root (replacing any present), e.g. PatientIdentityRemoved. */
  insert?: Array<{ tag: Tag; vr: Vr; value: WriteValue }>
  /**
   * The output's transfer syntax when it differs from the source's (little endian, not deflated): written in the
   * new File Meta, and the dataset is encoded with its VR rule. Pixel data kept as it was must still fit it.
   */
  transferSyntaxUID?: string
}

export interface RewriteOptions {
  /** Bytes per read when copying values left in the source (1 MiB by default). */
  chunkSize?: number
}

const FLUSH = 64 * 1024
const UNDEFINED = 0xffffffff
const EXTENDED_OFFSET_TABLE = 0x7fe00001
const EXTENDED_OFFSET_TABLE_LENGTHS = 0x7fe00002

function unsupported(uid: string, why: string): KuraError {
  return new KuraError(
    'DICOM_REWRITE_UNSUPPORTED_TRANSFER_SYNTAX',
    `Objects in transfer syntax ${uid} (${why}) cannot be rewritten here. Convert them to Explicit VR Little Endian first.`,
    { status: 415 },
  )
}

/** Output buffer: small parts are copied into one growing buffer, handed out as one chunk once it holds enough. */
class Chunks {
  buf = new Uint8Array(0)
  dv = new DataView(this.buf.buffer)
  size = 0
  /**
   * `first`: the first buffer's size. A small object's output is about its source's size, so a buffer sized from
   * the source holds it whole: a 33 KB CT slice took a 68 KB buffer (twice the external memory, which is what
   * drives V8's full collections in the gateway: one per ~64 MB allocated outside the heap).
   */
  constructor(readonly explicit: boolean, private first = FLUSH + 4096) {}
  private ensure(n: number): void {
    if (this.size + n <= this.buf.length) return
    let len = Math.max(this.buf.length * 2, this.first)
    this.first = FLUSH + 4096
    while (len < this.size + n) len *= 2
    // Not zero-filled: every byte below `size` is written before it is handed out (header, marker and push fill
    // what they claim), and the memset showed in profiles of small objects.
    const b = Buffer.allocUnsafeSlow(len)
    b.set(this.buf.subarray(0, this.size))
    this.buf = b
    this.dv = new DataView(b.buffer)
  }
  push(b: Uint8Array): void {
    if (b.length === 0) return
    this.ensure(b.length)
    this.buf.set(b, this.size)
    this.size += b.length
  }
  header(tag: Tag, vr: Vr, length: number): void {
    const long = !this.explicit || LONG_LENGTH_VRS.has(vr)
    if (this.explicit && !long && length > 0xffff) {
      throw DicomErrors.badValue(`element ${tag.toString(16).padStart(8, '0')} (${vr}) is ${length} bytes, more than its VR can hold (65534)`)
    }
    const n = this.explicit && long ? 12 : 8
    this.ensure(n)
    const dv = this.dv
    const o = this.size
    dv.setUint16(o, tag >>> 16, true)
    dv.setUint16(o + 2, tag & 0xffff, true)
    if (!this.explicit) {
      dv.setUint32(o + 4, length >>> 0, true)
    } else {
      this.buf[o + 4] = vr.charCodeAt(0)
      this.buf[o + 5] = vr.charCodeAt(1)
      if (long) {
        dv.setUint16(o + 6, 0, true)
        dv.setUint32(o + 8, length >>> 0, true)
      } else dv.setUint16(o + 6, length, true)
    }
    this.size += n
  }
  /** Item and delimitation items: no VR in any transfer syntax (PS3.5 7.5). */
  marker(tag: Tag, length: number): void {
    this.ensure(8)
    const dv = this.dv
    const o = this.size
    dv.setUint16(o, tag >>> 16, true)
    dv.setUint16(o + 2, tag & 0xffff, true)
    dv.setUint32(o + 4, length >>> 0, true)
    this.size += 8
  }
  take(): Uint8Array {
    // The chunk handed out keeps the buffer; the next write starts a new one.
    const out = this.buf.subarray(0, this.size)
    this.buf = new Uint8Array(0)
    this.dv = new DataView(this.buf.buffer)
    this.size = 0
    return out
  }
}

interface Ctx {
  src: ByteSource
  plan: RewritePlan
  out: Chunks
  chunk: number
  /** Pre-encoded replaced elements of the dataset being written. */
  encoded?: Map<Tag, Uint8Array>
  /** The output transfer syntax, and whether it differs from the source's. */
  ts: { uid: string; encapsulated: boolean; changed: boolean }
}

/** Whole element (header + value) encoded exactly as writeDicom encodes it (encodeDataset), so replace follows the writer's rules. */
function encodeElement(tag: Tag, vr: Vr, value: WriteValue, explicit: boolean, charsets: readonly string[]): Uint8Array {
  if (tag >>> 16 === 0x0002 || (tag & 0xffff) === 0) {
    throw DicomErrors.badValue(`element ${tag.toString(16).padStart(8, '0')} cannot be written into the dataset (file meta or group length)`)
  }
  return encodeDataset([{ tag, vr, value }], explicit, charsets)
}

/**
 * Encodes many replaced elements of one dataset with a single encodeDataset call (exactly as encodeElement would
 * encode each one) and splits the result per element. Values whose encoding depends on the batch (Specific
 * Character Set, encapsulated fragments) are left to encodeElement.
 */
function encodeBatch(items: ReadonlyArray<{ tag: Tag; vr: Vr; value: WriteValue }>, explicit: boolean, charsets: readonly string[]): Map<Tag, Uint8Array> {
  const res = new Map<Tag, Uint8Array>()
  const batch: Array<{ tag: Tag; vr: Vr; value: WriteValue }> = []
  for (const it of items) {
    if (it.tag >>> 16 === 0x0002 || (it.tag & 0xffff) === 0) encodeElement(it.tag, it.vr, it.value, explicit, charsets) // throws
    if (it.tag === Tags.SpecificCharacterSet || isFragmentList(it.value)) continue
    batch.push(it)
  }
  if (batch.length === 0) return res
  const file = encodeDataset(batch, explicit, charsets)
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength)
  let o = 0
  while (o < file.length) {
    const tag = ((dv.getUint16(o, true) << 16) | dv.getUint16(o + 2, true)) >>> 0
    let end: number
    if (!explicit) end = o + 8 + dv.getUint32(o + 4, true)
    else {
      const vr = String.fromCharCode(file[o + 4]!, file[o + 5]!) as Vr
      end = LONG_LENGTH_VRS.has(vr) ? o + 12 + dv.getUint32(o + 8, true) : o + 8 + dv.getUint16(o + 6, true)
    }
    res.set(tag, file.subarray(o, end))
    o = end
  }
  return res
}

function isFragmentList(v: WriteValue): boolean {
  return Array.isArray(v) && v.length > 0 && v[0] instanceof Uint8Array
}

function replacements(ds: DicomDataset, edits: Map<Tag, Edit>): Array<{ tag: Tag; vr: Vr; value: WriteValue }> {
  const out: Array<{ tag: Tag; vr: Vr; value: WriteValue }> = []
  for (const [tag, e] of edits) if (e.op === 'replace') out.push({ tag, vr: e.vr ?? ds.elements.get(tag)!.vr, value: e.value })
  return out
}

function charsetOfValue(value: WriteValue): readonly string[] {
  if (value === null || value === undefined) return []
  if (Array.isArray(value)) return (value as unknown[]).map((x) => String(x).trim())
  if (value instanceof Uint8Array) return parseCharsetValue(value)
  return parseCharsetValue(new TextEncoder().encode(String(value)))
}

/** The Specific Character Set the output dataset ends up with, given its edits and (for items) the parent's output set. */
function outputCharset(ds: DicomDataset, edits: Map<Tag, Edit>, inherited: readonly string[], inserted?: WriteValue): readonly string[] {
  if (inserted !== undefined) return charsetOfValue(inserted)
  const el = ds.elements.get(Tags.SpecificCharacterSet)
  if (!el) return inherited
  const e = edits.get(Tags.SpecificCharacterSet)
  if (!e || e.op === 'keep') return ds.charset
  if (e.op === 'remove') return inherited
  if (e.op === 'replace') return charsetOfValue(e.value)
  if (e.op === 'encapsulate') return ds.charset
  return parseCharsetValue(e.bytes)
}

function skipped(el: DicomElement, root: boolean): boolean {
  // Group lengths are retired and would be wrong after edits; the meta is written afresh.
  return (el.tag & 0xffff) === 0 || (root && el.tag >>> 16 === 0x0002)
}

function editsOf(ds: DicomDataset, path: readonly number[], plan: RewritePlan, root: boolean, replaced: ReadonlySet<Tag>): Map<Tag, Edit> {
  const edits = new Map<Tag, Edit>()
  const at = [...path, 0]
  const last = path.length
  for (const el of ds.elements.values()) {
    if (skipped(el, root) || replaced.has(el.tag)) continue
    at[last] = el.tag
    edits.set(el.tag, plan.edit(el, at, ds))
  }
  return edits
}

/**
 * Encoded inserts per insert list (a plan reuses one list for every object, e.g. the de-identification method
 * elements) and per VR rule and character set: the same bytes every time, so they are encoded once. The lists are
 * taken as immutable once handed to rewriteDicom.
 */
const ENCODED_INSERTS = new WeakMap<object, Map<string, Map<Tag, Uint8Array>>>()

function encodedInserts(list: object, inserts: ReadonlyArray<{ tag: Tag; vr: Vr; value: WriteValue }>, explicit: boolean, charsets: readonly string[]): Map<Tag, Uint8Array> {
  let byKey = ENCODED_INSERTS.get(list)
  if (!byKey) ENCODED_INSERTS.set(list, (byKey = new Map()))
  const key = `${explicit ? 'E' : 'I'}${charsets.join('\\')}`
  let m = byKey.get(key)
  if (!m) {
    if (byKey.size >= 64) byKey.clear()
    byKey.set(key, (m = encodeBatch(inserts, explicit, charsets)))
  }
  return m
}

/**
 * The object rewritten by `plan` as a Part 10 stream in the source's transfer syntax, with a fresh File Meta
 * (Media Storage SOP Class/Instance UID from the output dataset, Kura's implementation UID). `src` must be the
 * source `parsed` was read from, read whole. Text written by replace is encoded with the output Specific
 * Character Set (the replaced/inserted (0008,0005) when the plan changes it); kept text is left as it was.
 * Explicit VR Big Endian and Deflated objects (as source or as plan.transferSyntaxUID):
 * DICOM_REWRITE_UNSUPPORTED_TRANSFER_SYNTAX. Pixel data that does not fit the output transfer syntax (kept
 * fragments in a native one, kept native data in an encapsulated one, `encapsulate` into a native one):
 * DICOM_BAD_VALUE. An error thrown by `encapsulate`'s frames ends the stream with that error.
 */
export async function* rewriteDicom(parsed: ParsedDicom, src: ByteSource, plan: RewritePlan, opts: RewriteOptions = {}): AsyncGenerator<Uint8Array> {
  const ts = parsed.transferSyntaxUID
  if (parsed.stoppedAt !== undefined) throw DicomErrors.badValue('The object was read only in part (untilTag); read it whole before rewriting it')
  const info = transferSyntaxInfo(ts)
  if (!info.littleEndian || !parsed.dataset.littleEndian) throw unsupported(ts, 'big endian')
  if (info.deflated || parsed.deflated) throw unsupported(ts, 'deflated')
  const outTs = plan.transferSyntaxUID ?? ts
  const changed = outTs !== ts
  const outInfo = transferSyntaxInfo(outTs)
  if (changed) {
    if (!outInfo.known) throw unsupported(outTs, 'not a standard transfer syntax')
    if (!outInfo.littleEndian) throw unsupported(outTs, 'big endian')
    if (outInfo.deflated) throw unsupported(outTs, 'deflated')
  }
  // The VR rule of the data as found, unless the plan names another transfer syntax.
  const explicit = changed ? outInfo.explicitVr : parsed.explicitVr
  const chunk = Math.max(8, Math.floor(opts.chunkSize ?? 1024 * 1024))

  const inserts = [...(plan.insert ?? [])].map((i) => ({ ...i, tag: i.tag >>> 0 })).sort((a, b) => a.tag - b.tag)
  const insertTags = new Set(inserts.map((i) => i.tag))
  const ds = parsed.dataset
  // Root edits are decided up front: the meta needs the output SOP UIDs, and text needs the output charset.
  const edits = editsOf(ds, [], plan, true, insertTags)
  if (edits.get(Tags.PixelData)?.op === 'encapsulate') {
    for (const t of [EXTENDED_OFFSET_TABLE, EXTENDED_OFFSET_TABLE_LENGTHS]) if (edits.has(t)) edits.set(t, { op: 'remove' })
  }
  const charsets = outputCharset(ds, edits, [], inserts.find((i) => i.tag === Tags.SpecificCharacterSet)?.value)

  const uid = (tag: Tag): string | undefined => {
    const ins = inserts.find((i) => i.tag === tag)
    if (ins) return firstString(ins.value)
    const e = edits.get(tag)
    if (!e || e.op === 'remove') return undefined
    if (e.op === 'keep') return getString(ds, tag)
    if (e.op === 'replace') return firstString(e.value)
    if (e.op === 'encapsulate') return undefined
    return new TextDecoder('latin1').decode(e.bytes).replace(/[\0 ]+$/, '')
  }
  const ctx: Ctx = { src, plan, out: new Chunks(explicit, Math.min(src.size + 8192, FLUSH + 4096)), chunk, ts: { uid: outTs, encapsulated: outInfo.encapsulated, changed } }
  ctx.out.push(encodeFileMeta({
    MediaStorageSOPClassUID: uid(Tags.SOPClassUID) ?? getString(parsed.meta, Tags.MediaStorageSOPClassUID),
    MediaStorageSOPInstanceUID: uid(Tags.SOPInstanceUID) ?? getString(parsed.meta, Tags.MediaStorageSOPInstanceUID),
    TransferSyntaxUID: outTs,
  }))
  const encoded = encodeBatch(replacements(ds, edits), explicit, charsets)
  const insertEncoded = plan.insert ? encodedInserts(plan.insert, inserts, explicit, charsets) : encoded
  const insertBytes = (ins: { tag: Tag; vr: Vr; value: WriteValue }): Uint8Array =>
    insertEncoded.get(ins.tag) ?? encodeElement(ins.tag, ins.vr, ins.value, explicit, charsets)

  let next = 0
  for (const el of ds.elements.values()) {
    if (skipped(el, true)) continue
    while (next < inserts.length && inserts[next].tag <= el.tag) ctx.out.push(insertBytes(inserts[next++]))
    if (insertTags.has(el.tag)) continue
    ctx.encoded = encoded
    const e = edits.get(el.tag)!
    if (!writeNow(ctx, el, e, charsets)) yield* writeElement(ctx, el, e, [el.tag], ds, charsets)
    if (ctx.out.size >= FLUSH) yield ctx.out.take()
  }
  while (next < inserts.length) ctx.out.push(insertBytes(inserts[next++]))
  if (ctx.out.size > 0) yield ctx.out.take()
}

function firstString(v: WriteValue): string | undefined {
  if (typeof v === 'string') return v.replace(/[\0 ]+$/, '')
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0]
  return undefined
}

async function* writeDataset(ctx: Ctx, ds: DicomDataset, path: readonly number[], inherited: readonly string[]): AsyncGenerator<Uint8Array> {
  const edits = editsOf(ds, path, ctx.plan, false, new Set())
  const charsets = outputCharset(ds, edits, inherited)
  const encoded = encodeBatch(replacements(ds, edits), ctx.out.explicit, charsets)
  for (const el of ds.elements.values()) {
    if (skipped(el, false)) continue
    ctx.encoded = encoded
    const e = edits.get(el.tag)!
    if (!writeNow(ctx, el, e, charsets)) yield* writeElement(ctx, el, e, [...path, el.tag], ds, charsets)
    if (ctx.out.size >= FLUSH) yield ctx.out.take()
  }
}

/**
 * Writes `el` at once when nothing has to be awaited (removed, replaced, or kept with its value in memory), exactly
 * as writeElement would; false leaves it to writeElement. Most of a header goes this way, sparing a generator and
 * its promises per element (measured: that machinery was the rewrite's largest cost on small objects).
 */
function writeNow(ctx: Ctx, el: DicomElement, edit: Edit, charsets: readonly string[]): boolean {
  const out = ctx.out
  switch (edit.op) {
    case 'remove':
      return true
    case 'replace':
      out.push(ctx.encoded?.get(el.tag) ?? encodeElement(el.tag, edit.vr ?? el.vr, edit.value, out.explicit, charsets))
      return true
    case 'replaceBytes':
      out.header(el.tag, el.vr, edit.bytes.length)
      out.push(edit.bytes)
      return true
    case 'encapsulate':
      return false
  }
  // Sequences recurse; Pixel Data has its transfer syntax check; values left in the source are read.
  if ((el.vr === 'SQ' && el.items) || el.tag === Tags.PixelData || !el.bytes || el.bytes.length !== el.length) return false
  out.header(el.tag, el.vr, el.undefinedLength ? UNDEFINED : el.length)
  out.push(el.bytes)
  return true
}

async function* writeElement(ctx: Ctx, el: DicomElement, edit: Edit, path: readonly number[], ds: DicomDataset, charsets: readonly string[]): AsyncGenerator<Uint8Array> {
  const out = ctx.out
  switch (edit.op) {
    case 'remove':
      return
    case 'replace':
      out.push(ctx.encoded?.get(el.tag) ?? encodeElement(el.tag, edit.vr ?? el.vr, edit.value, out.explicit, charsets))
      return
    case 'replaceBytes':
      out.header(el.tag, el.vr, edit.bytes.length)
      out.push(edit.bytes)
      return
    case 'encapsulate':
      yield* writeEncapsulated(ctx, el, edit, path)
      return
  }
  if (ctx.ts.changed && path.length === 1 && el.tag === Tags.PixelData) {
    const isEncapsulated = el.fragments !== undefined || el.undefinedLength
    if (isEncapsulated !== ctx.ts.encapsulated) {
      throw DicomErrors.badValue(
        `Pixel Data is kept ${isEncapsulated ? 'encapsulated' : 'native'} but the output transfer syntax ${ctx.ts.uid} is ${ctx.ts.encapsulated ? 'encapsulated' : 'native'}; re-encode it (the encapsulate edit) or keep the source transfer syntax`,
      )
    }
  }
  if (el.vr === 'SQ' && el.items) {
    out.header(el.tag, 'SQ', UNDEFINED)
    for (let i = 0; i < el.items.length; i++) {
      out.marker(Tags.Item, UNDEFINED)
      yield* writeDataset(ctx, el.items[i], [...path, i], charsets)
      out.marker(Tags.ItemDelimitationItem, 0)
    }
    out.marker(Tags.SequenceDelimitationItem, 0)
    return
  }
  // Anything else is copied as found: header as in the source (undefined length for encapsulated pixel data and
  // UN sequences, whose recorded span includes the items and the closing delimiter), then the value bytes.
  out.header(el.tag, el.vr, el.undefinedLength ? UNDEFINED : el.length)
  if (el.bytes && el.bytes.length === el.length) {
    out.push(el.bytes)
    return
  }
  // Small values join the output buffer (same reads); large ones stream through.
  const small = el.length <= FLUSH
  if (!small && out.size > 0) yield out.take()
  for (let o = 0; o < el.length; o += ctx.chunk) {
    const n = Math.min(ctx.chunk, el.length - o)
    const b = await ctx.src.read(el.offset + o, n)
    if (b.length < n) throw DicomErrors.truncated(el.offset + o, n, el.offset + o + b.length)
    if (small) out.push(b)
    else yield b
  }
}

async function* writeEncapsulated(ctx: Ctx, el: DicomElement, edit: Extract<Edit, { op: 'encapsulate' }>, path: readonly number[]): AsyncGenerator<Uint8Array> {
  if (path.length !== 1 || el.tag !== Tags.PixelData) throw DicomErrors.badValue(`only the root Pixel Data can be encapsulated, not ${el.tag.toString(16).padStart(8, '0')}`)
  if (!ctx.ts.encapsulated) throw DicomErrors.badValue(`encapsulated Pixel Data cannot be written in transfer syntax ${ctx.ts.uid}; the plan must name an encapsulated one`)
  const out = ctx.out
  // Encapsulated Pixel Data is always OB with undefined length (PS3.5 A.4).
  out.header(el.tag, 'OB', UNDEFINED)
  for await (const b of encapsulatedValue(edit.frames, edit.offsetTable)) {
    // Item headers join the buffer; frames stream through as they come.
    if (b.length < FLUSH) out.push(b)
    else {
      if (out.size > 0) yield out.take()
      yield b
    }
  }
}
