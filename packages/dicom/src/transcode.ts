/**
 * @module Rewrites a native (uncompressed) object as Explicit VR Little Endian Part 10, the default transfer
 * syntax every DICOMweb client must accept (PS3.18 8.7.3), streaming bulk values from the source.
 *
 * Handles Implicit VR LE, Explicit VR BE (values byte-swapped per VR, PS3.5 7.3) and Deflated sources.
 * Sequences and items are written with undefined length so nothing has to be measured in advance.
 */
import { BufferSource, type ByteSource } from '@kura/core'
import { Tags } from './dictionary.ts'
import { DicomErrors } from './errors.ts'
import { TransferSyntax } from './transfer-syntax.ts'
import type { DicomDataset, DicomElement, ParsedDicom, Vr } from './types.ts'
import { getNumber, getString } from './values.ts'
import { LONG_LENGTH_VRS } from './vr.ts'
import { encodeFileMeta } from './writer.ts'

/** Byte width of the units to swap when leaving big endian; AT swaps its two 16-bit halves. */
const SWAP: Partial<Record<Vr, number>> = { US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8 }
const CHUNK = 1024 * 1024
const FLUSH = 64 * 1024

function swapInPlace(b: Uint8Array, w: number): void {
  for (let i = 0; i + w <= b.length; i += w) {
    for (let j = 0; j < w / 2; j++) {
      const t = b[i + j]
      b[i + j] = b[i + w - 1 - j]
      b[i + w - 1 - j] = t
    }
  }
}

class Chunks {
  parts: Uint8Array[] = []
  size = 0
  push(b: Uint8Array): void {
    this.parts.push(b)
    this.size += b.length
  }
  header(tag: number, vr: Vr, length: number): void {
    const long = LONG_LENGTH_VRS.has(vr)
    const b = new Uint8Array(long ? 12 : 8)
    const dv = new DataView(b.buffer)
    dv.setUint16(0, tag >>> 16, true)
    dv.setUint16(2, tag & 0xffff, true)
    b[4] = vr.charCodeAt(0)
    b[5] = vr.charCodeAt(1)
    if (long) dv.setUint32(8, length >>> 0, true)
    else dv.setUint16(6, length, true)
    this.push(b)
  }
  marker(tag: number, length: number): void {
    const b = new Uint8Array(8)
    const dv = new DataView(b.buffer)
    dv.setUint16(0, tag >>> 16, true)
    dv.setUint16(2, tag & 0xffff, true)
    dv.setUint32(4, length >>> 0, true)
    this.push(b)
  }
  take(): Uint8Array {
    const out = new Uint8Array(this.size)
    let o = 0
    for (const p of this.parts) {
      out.set(p, o)
      o += p.length
    }
    this.parts = []
    this.size = 0
    return out
  }
}

/**
 * The object as an Explicit VR Little Endian Part 10 stream. `src` must be the source `parsed` was read
 * from (with readDicom or readDicomBuffer, not stopped early). Encapsulated (compressed) objects cannot be
 * rewritten without decoding their pixels: DICOM_UNSUPPORTED_TRANSFER_SYNTAX.
 */
export async function* toExplicitVrLittleEndian(parsed: ParsedDicom, src: ByteSource): AsyncGenerator<Uint8Array> {
  if (parsed.stoppedAt !== undefined) throw DicomErrors.badValue('The object was read only in part (untilTag); read it whole before rewriting it')
  const px = parsed.dataset.elements.get(Tags.PixelData)
  if (px?.fragments) throw DicomErrors.unsupportedTransferSyntax(parsed.transferSyntaxUID)
  const values: ByteSource = parsed.deflated && parsed.inflated ? new BufferSource(parsed.inflated) : src
  const meta = parsed.meta
  yield encodeFileMeta({
    MediaStorageSOPClassUID: getString(meta, Tags.MediaStorageSOPClassUID) || getString(parsed.dataset, Tags.SOPClassUID),
    MediaStorageSOPInstanceUID: getString(meta, Tags.MediaStorageSOPInstanceUID) || getString(parsed.dataset, Tags.SOPInstanceUID),
    SourceApplicationEntityTitle: getString(meta, Tags.SourceApplicationEntityTitle) || undefined,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
  })
  const out = new Chunks()
  yield* writeDataset(parsed.dataset, values, out, true)
  if (out.size > 0) yield out.take()
}

async function* writeDataset(ds: DicomDataset, values: ByteSource, out: Chunks, top: boolean): AsyncGenerator<Uint8Array> {
  for (const el of ds.elements.values()) {
    // Group lengths would be wrong after the rewrite (and are optional); meta is written separately.
    if ((el.tag & 0xffff) === 0 || (top && el.tag >>> 16 === 0x0002)) continue
    if (el.items) {
      out.header(el.tag, 'SQ', 0xffffffff)
      for (const item of el.items) {
        out.marker(Tags.Item, 0xffffffff)
        yield* writeDataset(item, values, out, false)
        out.marker(Tags.ItemDelimitationItem, 0)
      }
      out.marker(Tags.SequenceDelimitationItem, 0)
    } else {
      yield* writeValue(el, ds, values, out)
    }
    if (out.size >= FLUSH) yield out.take()
  }
}

async function* writeValue(el: DicomElement, ds: DicomDataset, values: ByteSource, out: Chunks): AsyncGenerator<Uint8Array> {
  let vr = el.vr
  const len = el.length
  // A value too long for a 2-byte length field can still be carried as UN (PS3.5 6.2.2).
  if (!LONG_LENGTH_VRS.has(vr) && len > 0xffff) vr = 'UN'
  let swap = ds.littleEndian ? 0 : SWAP[el.vr] ?? 0
  if (swap && el.tag === Tags.PixelData && el.vr === 'OW') {
    // 32/64-bit pixels in big endian OW are stored as whole big-endian samples by the writers that exist
    // (pydicom reads them so); swapping 16-bit words, as DCMTK does, would scramble their values.
    const bits = getNumber(ds, Tags.BitsAllocated) ?? 16
    if (bits === 32 || bits === 64) swap = bits / 8
  }
  out.header(el.tag, vr, len)
  if (el.bytes) {
    if (swap) {
      const copy = new Uint8Array(el.bytes) // a copy: Buffer#slice would be a view
      swapInPlace(copy, swap)
      out.push(copy)
    } else {
      out.push(el.bytes)
    }
    return
  }
  // Bulk value: stream it from the source in chunks (a multiple of 8 bytes keeps swap units whole).
  if (out.size > 0) yield out.take()
  for (let o = 0; o < len; o += CHUNK) {
    const n = Math.min(CHUNK, len - o)
    const b = await values.read(el.offset + o, n)
    if (b.length < n) throw DicomErrors.truncated(el.offset + o, n, el.offset + o + b.length)
    if (swap) {
      const copy = new Uint8Array(b)
      swapInPlace(copy, swap)
      yield copy
    } else {
      yield b
    }
  }
}
