/**
 * @module RLE Lossless (PS3.5 Annex G): decodes and encodes one frame as its byte planes (segments), so a mask can be
 * painted without caring about bit depth, and converts planes to and from native pixel data.
 *
 * A frame is a 64-byte header (segment count, then 15 segment offsets from the start of the header) followed by
 * PackBits-compressed segments: one per byte of each sample, most significant byte first, sample by sample
 * (PS3.5 G.2). Each segment decodes to Rows × Columns bytes.
 */
import { DicomErrors } from './errors.ts'

export interface RleLayout {
  rows: number
  columns: number
  samples: number
  bitsAllocated: number
}

const HEADER = 64
const MAX_SEGMENTS = 15

function segmentCount(l: RleLayout): number {
  if (!(l.rows > 0 && l.columns > 0)) throw DicomErrors.badValue('RLE needs Rows and Columns')
  if (l.bitsAllocated % 8 !== 0 || l.bitsAllocated === 0) throw DicomErrors.badValue(`RLE with Bits Allocated ${l.bitsAllocated} is not handled (only multiples of 8)`)
  const n = l.samples * (l.bitsAllocated / 8)
  if (n < 1 || n > MAX_SEGMENTS) throw DicomErrors.badValue(`RLE holds at most 15 segments; Samples per Pixel ${l.samples} × ${l.bitsAllocated / 8} bytes needs ${n}`)
  return n
}

/** PackBits-decodes `src[start, end)` into `out` (exactly out.length bytes); returns false when the segment is too short. */
function unpack(src: Uint8Array, start: number, end: number, out: Uint8Array): boolean {
  let i = start
  let o = 0
  const n = out.length
  while (i < end && o < n) {
    const h = src[i++]!
    if (h < 128) {
      const len = Math.min(h + 1, end - i, n - o)
      out.set(src.subarray(i, i + len), o)
      i += h + 1
      o += len
    } else if (h > 128) {
      if (i >= end) break
      const len = Math.min(257 - h, n - o)
      out.fill(src[i++]!, o, o + len)
      o += len
    }
    // 128 (-128) is a no-op (PS3.5 G.3.2).
  }
  return o === n
}

/**
 * The frame's segments, each Rows × Columns bytes. Throws DICOM_MALFORMED when the header does not match the layout
 * or a segment decodes short; bytes past a full segment (encoder padding) are ignored, as pydicom and DCMTK do.
 */
export function decodeRleFrame(frame: Uint8Array, l: RleLayout): Uint8Array[] {
  const want = segmentCount(l)
  if (frame.length < HEADER) throw DicomErrors.malformed(0, `RLE frame is ${frame.length} bytes, shorter than its 64-byte header`)
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  const count = dv.getUint32(0, true)
  if (count !== want) {
    throw DicomErrors.malformed(0, `RLE frame has ${count} segments; Samples per Pixel ${l.samples} and Bits Allocated ${l.bitsAllocated} need ${want}`)
  }
  const offsets: number[] = []
  for (let s = 0; s < count; s++) offsets.push(dv.getUint32(4 + 4 * s, true))
  const plane = l.rows * l.columns
  return offsets.map((start, s) => {
    const end = s + 1 < count ? offsets[s + 1]! : frame.length
    if (start < HEADER || end > frame.length || end < start) throw DicomErrors.malformed(start, `RLE segment ${s + 1} lies outside its frame (offset ${start}, frame ${frame.length} bytes)`)
    const out = new Uint8Array(plane)
    if (!unpack(frame, start, end, out)) throw DicomErrors.malformed(start, `RLE segment ${s + 1} decodes to fewer than Rows × Columns (${plane}) bytes`)
    return out
  })
}

/** PackBits-encodes one row (runs never cross rows, PS3.5 G.3.1) into `out` at `o`; returns the new end. */
function packRow(row: Uint8Array, out: Uint8Array, o: number): number {
  const n = row.length
  let i = 0
  while (i < n) {
    const v = row[i]!
    let j = i + 1
    while (j < n && j - i < 128 && row[j] === v) j++
    if (j - i >= 2) {
      out[o++] = 257 - (j - i) // -(run - 1) as a signed byte
      out[o++] = v
      i = j
      continue
    }
    // Literal run, until a run of three equal bytes starts (a run of two costs as much as its literal bytes).
    const start = i
    i++
    while (i < n && i - start < 128 && !(i + 2 < n && row[i] === row[i + 1] && row[i] === row[i + 2])) i++
    out[o++] = i - start - 1
    out.set(row.subarray(start, i), o)
    o += i - start
  }
  return o
}

/** An RLE frame from its segments (each Rows × Columns bytes, in PS3.5 G.2 order); every segment is padded to even length. */
export function encodeRleFrame(segments: readonly Uint8Array[], l: RleLayout): Uint8Array {
  const want = segmentCount(l)
  if (segments.length !== want) throw DicomErrors.badValue(`RLE needs ${want} segments for this layout, got ${segments.length}`)
  const plane = l.rows * l.columns
  // Worst case: one header byte per 128 literal bytes, per row, plus a pad byte per segment.
  const worst = l.rows * (l.columns + Math.ceil(l.columns / 128)) + 1
  const out = new Uint8Array(HEADER + want * worst)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, want, true)
  let o = HEADER
  segments.forEach((seg, s) => {
    if (seg.length !== plane) throw DicomErrors.badValue(`RLE segment ${s + 1} is ${seg.length} bytes, not Rows × Columns (${plane})`)
    dv.setUint32(4 + 4 * s, o, true)
    for (let r = 0; r < l.rows; r++) o = packRow(seg.subarray(r * l.columns, (r + 1) * l.columns), out, o)
    if (o & 1) out[o++] = 0 // segments are even, padded at the end with zero (PS3.5 G.5)
  })
  return out.subarray(0, o)
}

/** Native pixel data layout of one frame: samples interleaved (Planar Configuration 0) or by plane (1), little endian. */
export interface NativeFrameLayout extends RleLayout {
  planar: number
}

/** Segment index of byte `b` (0 = least significant) of sample `s`: most significant byte first (PS3.5 G.2). */
const segmentOf = (s: number, b: number, bps: number): number => s * bps + (bps - 1 - b)

/** The RLE segments of one native little-endian frame. */
export function nativeToSegments(frame: Uint8Array, l: NativeFrameLayout): Uint8Array[] {
  const n = segmentCount(l)
  const bps = l.bitsAllocated / 8
  const plane = l.rows * l.columns
  if (frame.length < plane * l.samples * bps) throw DicomErrors.badValue(`native frame is ${frame.length} bytes, fewer than ${plane * l.samples * bps}`)
  const segs = Array.from({ length: n }, () => new Uint8Array(plane))
  for (let s = 0; s < l.samples; s++) {
    for (let b = 0; b < bps; b++) {
      const seg = segs[segmentOf(s, b, bps)]!
      // Planar 1: sample s is one contiguous plane; planar 0: samples interleave per pixel.
      const base = l.planar === 1 ? s * plane * bps + b : s * bps + b
      const step = l.planar === 1 ? bps : l.samples * bps
      for (let p = 0, i = base; p < plane; p++, i += step) seg[p] = frame[i]!
    }
  }
  return segs
}

/** One native little-endian frame (in the given Planar Configuration) from its RLE segments. */
export function segmentsToNative(segs: readonly Uint8Array[], l: NativeFrameLayout): Uint8Array {
  segmentCount(l)
  const bps = l.bitsAllocated / 8
  const plane = l.rows * l.columns
  const out = new Uint8Array(plane * l.samples * bps)
  for (let s = 0; s < l.samples; s++) {
    for (let b = 0; b < bps; b++) {
      const seg = segs[segmentOf(s, b, bps)]!
      const base = l.planar === 1 ? s * plane * bps + b : s * bps + b
      const step = l.planar === 1 ? bps : l.samples * bps
      for (let p = 0, i = base; p < plane; p++, i += step) out[i] = seg[p]!
    }
  }
  return out
}
