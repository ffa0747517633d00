/**
 * @module Byte ranges of each pixel data frame, native (PS3.5 8.1) or encapsulated (PS3.5 A.4), so a
 * frame can be served by reading only its bytes from the source.
 */
import { Tags } from './dictionary.ts'
import { DicomErrors } from './errors.ts'
import type { DicomElement, Fragment, ParsedDicom } from './types.ts'
import { getNumber, getString } from './values.ts'

export interface ByteRange {
  offset: number
  length: number
}

/** The pixel data element (Pixel Data, Float Pixel Data or Double Float Pixel Data), if any. */
export function pixelDataElement(parsed: ParsedDicom): DicomElement | undefined {
  const e = parsed.dataset.elements
  return e.get(Tags.PixelData) ?? e.get(Tags.FloatPixelData) ?? e.get(Tags.DoubleFloatPixelData)
}

/** Number of Frames (IS), 1 when absent or not a positive integer (single-frame IODs omit it). */
export function numberOfFrames(parsed: ParsedDicom): number {
  const n = getNumber(parsed.dataset, Tags.NumberOfFrames)
  return n !== undefined && Number.isInteger(n) && n > 0 ? n : 1
}

/**
 * For each frame, the byte ranges holding it: one range for native pixel data, the frame's fragments
 * for encapsulated pixel data. Offsets are in the source (for a deflated object: in `parsed.inflated`).
 * With Bits Allocated 1 frames may start mid-byte; the range then covers the bytes that hold the frame's bits.
 * Returns [] when there is no pixel data.
 */
export function frameRanges(parsed: ParsedDicom): ByteRange[][] {
  const px = pixelDataElement(parsed)
  if (!px) return []
  return px.fragments ? encapsulatedFrames(parsed, px.fragments) : nativeFrames(parsed, px)
}

function nativeFrames(parsed: ParsedDicom, px: DicomElement): ByteRange[][] {
  const ds = parsed.dataset
  const rows = getNumber(ds, Tags.Rows) ?? 0
  const cols = getNumber(ds, Tags.Columns) ?? 0
  const spp = getNumber(ds, Tags.SamplesPerPixel) ?? 1
  const defaultBits = px.tag === Tags.FloatPixelData ? 32 : px.tag === Tags.DoubleFloatPixelData ? 64 : 8
  const bits = getNumber(ds, Tags.BitsAllocated) ?? defaultBits
  const frames = numberOfFrames(parsed)
  if (rows <= 0 || cols <= 0) throw DicomErrors.malformed(px.offset, 'Rows and Columns are needed to locate frames of native pixel data')
  // YBR_FULL_422 stores two luminance and one pair of chrominance samples per two pixels (PS3.3 C.7.6.3.1.2).
  const ybr422 = getString(ds, Tags.PhotometricInterpretation) === 'YBR_FULL_422'
  const samples = ybr422 ? rows * cols * 2 : rows * cols * spp
  const frameBits = samples * bits
  if (frames * frameBits > px.length * 8) {
    throw DicomErrors.malformed(px.offset, `Pixel Data holds ${px.length} bytes, fewer than ${frames} frames of ${rows}×${cols}×${spp}×${bits} bits`)
  }
  const out: ByteRange[][] = []
  for (let i = 0; i < frames; i++) {
    const startBit = i * frameBits
    const start = Math.floor(startBit / 8)
    const end = Math.ceil((startBit + frameBits) / 8)
    out.push([{ offset: px.offset + start, length: end - start }])
  }
  return out
}

function readUint64s(b: Uint8Array | undefined): number[] | undefined {
  if (!b || b.length < 8) return undefined
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out: number[] = []
  for (let o = 0; o + 8 <= b.length; o += 8) out.push(Number(dv.getBigUint64(o, true)))
  return out
}

function readUint32s(b: Uint8Array | undefined): number[] | undefined {
  if (!b || b.length < 4) return undefined
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out: number[] = []
  for (let o = 0; o + 4 <= b.length; o += 4) out.push(dv.getUint32(o, true))
  return out
}

/** Groups fragments into frames by offsets measured from the first fragment's item tag (PS3.5 A.4). */
function byOffsets(frags: Fragment[], offsets: number[], where: number): ByteRange[][] {
  const first = frags[0].offset - 8
  const out: ByteRange[][] = offsets.map(() => [])
  let f = 0
  for (const frag of frags) {
    const rel = frag.offset - 8 - first
    while (f + 1 < offsets.length && rel >= offsets[f + 1]) f++
    if (rel < offsets[f]) throw DicomErrors.malformed(where, 'the pixel data offset table does not match the fragments')
    out[f].push({ offset: frag.offset, length: frag.length })
  }
  const starts = new Set(frags.map((fr) => fr.offset - 8 - first))
  if (out.some((frame) => frame.length === 0) || offsets.some((o) => !starts.has(o))) {
    throw DicomErrors.malformed(where, 'the pixel data offset table points between fragments')
  }
  return out
}

function encapsulatedFrames(parsed: ParsedDicom, fragments: Fragment[]): ByteRange[][] {
  const frags = fragments.slice(1)
  const where = fragments[0]?.offset ?? 0
  if (frags.length === 0) return []
  const n = numberOfFrames(parsed)
  // Extended Offset Table (PS3.3 C.7.6.3.1.8) wins over the Basic Offset Table, which is then empty.
  const eot = readUint64s(parsed.dataset.elements.get(Tags.ExtendedOffsetTable)?.bytes)
  if (eot && eot.length > 0) return byOffsets(frags, eot, where)
  const px = pixelDataElement(parsed)!
  const bot = readUint32s(px.basicOffsetTable)
  if (bot && bot.length > 0) return byOffsets(frags, bot, where)
  const each = (list: Fragment[]) => list.map((f) => ({ offset: f.offset, length: f.length }))
  if (frags.length === n) return frags.map((f) => [{ offset: f.offset, length: f.length }])
  if (n === 1) return [each(frags)]
  // No table and more fragments than frames: a frame starts at each fragment beginning with a JPEG SOI
  // or JPEG 2000 SOC marker (how pydicom and DCMTK tell them apart).
  const out: ByteRange[][] = []
  for (const f of frags) {
    if (out.length === 0 || f.marker === 0xffd8 || f.marker === 0xff4f) out.push([])
    out[out.length - 1].push({ offset: f.offset, length: f.length })
  }
  if (out.length !== n) throw DicomErrors.malformed(where, `cannot tell which of ${frags.length} fragments belong to which of ${n} frames (no offset table)`)
  return out
}
