/**
 * @module Masks encapsulated (compressed) pixel data frame by frame: decode, paint the mask, re-encode in the same
 * transfer syntax. JPEG Baseline and 8-bit JPEG Extended go through sharp and come back as Baseline JPEG; RLE
 * Lossless is decoded and re-encoded losslessly. Every other compressed syntax is refused: no decoder here.
 *
 * Everything that can be checked without decoding (transfer syntax, layout, each frame's JPEG frame header or RLE
 * segment count) is checked up front, so a refusal comes before any output; frames are then decoded one at a time
 * as the rewriter writes them, so a multi-frame object is never held whole.
 */
import type { ByteSource } from '@kura/core'
import {
  Tags, TransferSyntax, decodeJpegFrame, decodeRleFrame, encodeJpegFrame, encodeRleFrame, frameRanges, getNumber, getString,
  numberOfFrames, readJpegInfo, subsamplingOf,
  type ByteRange, type JpegFrameInfo, type ParsedDicom, type Tag, type Vr, type WriteValue,
} from '@kura/dicom'
import type { PixelMask } from '../policy/schema.ts'
import { PixelErrors } from './errors.ts'
import { maskNative, maskPlanes } from './paint.ts'

/** Largest decoded frame (bytes) masking holds in memory at once. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024
/** JPEG quality of re-encoded frames: high, as the source already lost detail once. */
export const JPEG_QUALITY = 95

const LOSSY_IMAGE_COMPRESSION: Tag = 0x00282110

/** Names and what to do, for the syntaxes this module refuses (PS3.5 Table A-1 / PS3.6 Annex A). */
const REFUSED: Readonly<Record<string, string>> = {
  [TransferSyntax.JPEGLossless]: 'JPEG Lossless, Non-Hierarchical (Process 14)',
  [TransferSyntax.JPEGLosslessSV1]: 'JPEG Lossless, First-Order Prediction (Process 14 SV1)',
  [TransferSyntax.JPEGLSLossless]: 'JPEG-LS Lossless',
  [TransferSyntax.JPEGLSNearLossless]: 'JPEG-LS Near-Lossless',
  [TransferSyntax.JPEG2000Lossless]: 'JPEG 2000 Lossless',
  [TransferSyntax.JPEG2000]: 'JPEG 2000',
  [TransferSyntax.HTJ2KLossless]: 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  [TransferSyntax.HTJ2K]: 'HTJ2K',
  '1.2.840.10008.1.2.4.100': 'MPEG-2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265',
  [TransferSyntax.DeflatedExplicitVRLittleEndian]: 'Deflated Explicit VR Little Endian',
}

const NO_DECODER_TODO =
  'Export the images uncompressed (or as JPEG Baseline or RLE) from the modality or PACS, or convert them with e.g. `dcmdjpeg`/`gdcmconv --raw`, ' +
  'or add a decoder for this transfer syntax to Kura'

type Codec = 'jpeg' | 'rle'

export interface EncapsulatedPixelPlan {
  kind: 'encapsulated'
  mask: PixelMask
  transferSyntaxUID: string
  /** The masked frames, re-encoded; decoded one at a time as they are iterated (each iteration starts over). */
  frames: AsyncIterable<Uint8Array>
  /** Root elements the re-encoding changes (Photometric Interpretation, Lossy Image Compression, ...). */
  insert: Array<{ tag: Tag; vr: Vr; value: WriteValue }>
}

const trim = (s: string | undefined): string => (s ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

function codecOf(uid: string): Codec {
  if (uid === TransferSyntax.JPEGBaseline8Bit || uid === TransferSyntax.JPEGExtended12Bit) return 'jpeg'
  if (uid === TransferSyntax.RLELossless) return 'rle'
  const name = REFUSED[uid] ?? 'a compressed transfer syntax'
  throw PixelErrors.unsupportedSyntax(uid, `${name}: no decoder for it here`, NO_DECODER_TODO)
}

async function readFrame(src: ByteSource, ranges: readonly ByteRange[]): Promise<Uint8Array> {
  if (ranges.length === 1) return readExactly(src, ranges[0]!)
  const total = ranges.reduce((n, r) => n + r.length, 0)
  const out = new Uint8Array(total)
  let o = 0
  for (const r of ranges) {
    out.set(await readExactly(src, r), o)
    o += r.length
  }
  return out
}

async function readExactly(src: ByteSource, r: ByteRange): Promise<Uint8Array> {
  const b = await src.read(r.offset, r.length)
  if (b.length < r.length) throw PixelErrors.unsupportedLayout(`Pixel Data is truncated: a fragment needs ${r.length} bytes at ${r.offset}, ${b.length} are there`)
  return b
}

interface Layout {
  rows: number
  columns: number
  samples: 1 | 3
  bitsAllocated: number
  bitsStored: number
  photometric: string
  frames: number
}

function layoutOf(parsed: ParsedDicom): Layout {
  const ds = parsed.dataset
  const rows = getNumber(ds, Tags.Rows) ?? 0
  const columns = getNumber(ds, Tags.Columns) ?? 0
  const samples = getNumber(ds, Tags.SamplesPerPixel) ?? 1
  const bitsAllocated = getNumber(ds, Tags.BitsAllocated) ?? 8
  if (!(rows > 0 && columns > 0)) throw PixelErrors.unsupportedLayout('Rows and Columns are missing')
  if (samples !== 1 && samples !== 3) throw PixelErrors.unsupportedLayout(`Samples per Pixel ${samples}; only 1 and 3 are handled`)
  const frameBytes = rows * columns * samples * Math.ceil(bitsAllocated / 8)
  if (frameBytes > MAX_FRAME_BYTES) throw PixelErrors.tooLarge(frameBytes, MAX_FRAME_BYTES)
  return {
    rows, columns, samples, bitsAllocated,
    bitsStored: getNumber(ds, 0x00280101) ?? bitsAllocated,
    photometric: trim(getString(ds, Tags.PhotometricInterpretation)),
    frames: numberOfFrames(parsed),
  }
}

/** The frames' byte ranges; throws DEID_PIXELS_UNSUPPORTED_LAYOUT when they do not match Number of Frames. */
function rangesOf(parsed: ParsedDicom, l: Layout): ByteRange[][] {
  let ranges: ByteRange[][]
  try {
    ranges = frameRanges(parsed)
  } catch (e) {
    throw PixelErrors.unsupportedLayout(`its fragments cannot be told apart as frames (${(e as Error).message})`)
  }
  if (ranges.length !== l.frames) throw PixelErrors.unsupportedLayout(`Pixel Data holds ${ranges.length} frames, Number of Frames says ${l.frames}`)
  return ranges
}

/**
 * Plans masking of encapsulated pixel data: checks everything checkable without decoding, then returns frames
 * that are decoded, masked and re-encoded one at a time when iterated. Throws DEID_PIXELS_UNSUPPORTED_SYNTAX for
 * syntaxes without a decoder here (and 12-bit JPEG), DEID_PIXELS_UNSUPPORTED_LAYOUT when the frames do not match
 * the image attributes. A frame failing later, while iterated, throws DEID_PIXELS_CODEC_FAILED.
 */
export async function planEncapsulated(parsed: ParsedDicom, src: ByteSource, mask: PixelMask): Promise<EncapsulatedPixelPlan> {
  const uid = parsed.transferSyntaxUID
  const codec = codecOf(uid)
  const l = layoutOf(parsed)
  const ranges = rangesOf(parsed, l)
  return codec === 'jpeg' ? planJpeg(uid, l, ranges, src, mask) : planRle(uid, l, ranges, src, mask)
}

/** Bytes read to find a JPEG frame header; APP segments (EXIF, ICC) can push it past the first few hundred. */
const JPEG_HEAD = 64 * 1024
const JPEG_PHOTOMETRIC = new Set(['MONOCHROME1', 'MONOCHROME2', 'RGB', 'YBR_FULL', 'YBR_FULL_422'])

async function planJpeg(uid: string, l: Layout, ranges: ByteRange[][], src: ByteSource, mask: PixelMask): Promise<EncapsulatedPixelPlan> {
  if (l.bitsAllocated !== 8 || l.bitsStored !== 8) {
    throw PixelErrors.unsupportedSyntax(uid, `${l.bitsStored}-bit JPEG: only 8-bit JPEG is decoded here`, NO_DECODER_TODO)
  }
  if (!JPEG_PHOTOMETRIC.has(l.photometric)) throw PixelErrors.unsupportedLayout(`Photometric Interpretation "${l.photometric}" in a JPEG`)
  if ((l.samples === 1) !== l.photometric.startsWith('MONOCHROME')) {
    throw PixelErrors.unsupportedLayout(`Samples per Pixel ${l.samples} with Photometric Interpretation ${l.photometric}`)
  }
  // Every frame's header up front: a 12-bit, progressive, lossless or mis-sized frame refuses the whole object.
  let subsampling: ReturnType<typeof subsamplingOf> | undefined
  for (let f = 0; f < ranges.length; f++) {
    const first = ranges[f]![0]!
    let info: JpegFrameInfo
    try {
      info = readJpegInfo(await readExactly(src, { offset: first.offset, length: Math.min(first.length, JPEG_HEAD) }))
    } catch {
      try {
        info = readJpegInfo(await readFrame(src, ranges[f]!)) // the header may lie past JPEG_HEAD
      } catch (e) {
        throw PixelErrors.unsupportedLayout(`frame ${f + 1} is not a readable JPEG (${(e as Error).message})`)
      }
    }
    checkJpegFrame(uid, info, l, f + 1)
    const s = subsamplingOf(info)
    if (subsampling !== undefined && s !== subsampling) throw PixelErrors.unsupportedLayout(`frame ${f + 1} is subsampled ${s}, frame 1 ${subsampling}`)
    subsampling = s
  }
  // sharp writes 4:2:0 or 4:4:4; never subsample more than the source did.
  const out = subsampling === '4:2:0' ? '4:2:0' : '4:4:4'
  const insert: EncapsulatedPixelPlan['insert'] = [
    // It was lossy already, and re-encoding is lossy again (PS3.3 C.7.6.1.1.5).
    { tag: LOSSY_IMAGE_COMPRESSION, vr: 'CS', value: '01' },
  ]
  if (l.samples === 3) {
    // What sharp writes is YCbCr (PS3.5 8.2.1: YBR_FULL_422 when chroma is subsampled, YBR_FULL when not), interleaved.
    insert.push({ tag: Tags.PhotometricInterpretation, vr: 'CS', value: out === '4:2:0' ? 'YBR_FULL_422' : 'YBR_FULL' })
    insert.push({ tag: Tags.PlanarConfiguration, vr: 'US', value: 0 })
  }
  const channels = l.samples
  async function* frames(): AsyncGenerator<Uint8Array> {
    for (let f = 0; f < ranges.length; f++) {
      try {
        const img = await decodeJpegFrame(await readFrame(src, ranges[f]!), channels)
        if (img.width !== l.columns || img.height !== l.rows) throw new Error(`decoded ${img.width}×${img.height}, not ${l.columns}×${l.rows}`)
        maskNative(img.data, { rows: l.rows, columns: l.columns, samples: channels, bitsAllocated: 8, planar: 0, frames: 1, photometric: 'RGB' }, mask)
        yield await encodeJpegFrame(img, { quality: JPEG_QUALITY, subsampling: out })
      } catch (e) {
        throw PixelErrors.codecFailed(uid, f + 1, e)
      }
    }
  }
  return { kind: 'encapsulated', mask, transferSyntaxUID: uid, frames: { [Symbol.asyncIterator]: frames }, insert }
}

function checkJpegFrame(uid: string, info: JpegFrameInfo, l: Layout, frame: number): void {
  // SOF0 baseline and SOF1 extended sequential Huffman are what libjpeg-turbo decodes at 8 bits and 4.50/4.51 hold.
  if (info.sof !== 0xc0 && info.sof !== 0xc1) {
    throw PixelErrors.unsupportedSyntax(uid, `frame ${frame} is a JPEG of process SOF${info.sof - 0xc0}, not baseline or extended sequential`, NO_DECODER_TODO)
  }
  if (info.precision !== 8) throw PixelErrors.unsupportedSyntax(uid, `frame ${frame} is ${info.precision}-bit JPEG: only 8-bit JPEG is decoded here`, NO_DECODER_TODO)
  if (info.width !== l.columns || info.height !== l.rows) {
    throw PixelErrors.unsupportedLayout(`JPEG frame ${frame} is ${info.width}×${info.height}, but Columns × Rows is ${l.columns}×${l.rows}`)
  }
  if (info.sampling.length !== l.samples) throw PixelErrors.unsupportedLayout(`JPEG frame ${frame} has ${info.sampling.length} components, Samples per Pixel is ${l.samples}`)
  if (l.samples === 3 && subsamplingOf(info) === 'other') throw PixelErrors.unsupportedLayout(`JPEG frame ${frame} has an unusual chroma subsampling`)
}

const RLE_HEADER = 64

async function planRle(uid: string, l: Layout, ranges: ByteRange[][], src: ByteSource, mask: PixelMask): Promise<EncapsulatedPixelPlan> {
  if (l.bitsAllocated % 8 !== 0 || l.bitsAllocated > 32) throw PixelErrors.unsupportedLayout(`Bits Allocated ${l.bitsAllocated} in RLE; 8, 16, 24 and 32 are handled`)
  const layout = { rows: l.rows, columns: l.columns, samples: l.samples, bitsAllocated: l.bitsAllocated }
  const segments = l.samples * (l.bitsAllocated / 8)
  for (let f = 0; f < ranges.length; f++) {
    const first = ranges[f]![0]!
    if (first.length < RLE_HEADER) throw PixelErrors.unsupportedLayout(`RLE frame ${f + 1} is shorter than its 64-byte header`)
    const head = await readExactly(src, { offset: first.offset, length: RLE_HEADER })
    const n = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0, true)
    if (n !== segments) throw PixelErrors.unsupportedLayout(`RLE frame ${f + 1} has ${n} segments; Samples per Pixel and Bits Allocated need ${segments}`)
  }
  // YBR chroma planes are painted at their midpoint so the rectangle is black, not green; elsewhere 0.
  const bps = l.bitsAllocated / 8
  const fill: number[] = new Array<number>(segments).fill(0)
  if (l.samples === 3 && l.photometric.startsWith('YBR') && bps === 1) fill[1] = fill[2] = 128
  async function* frames(): AsyncGenerator<Uint8Array> {
    for (let f = 0; f < ranges.length; f++) {
      try {
        const planes = decodeRleFrame(await readFrame(src, ranges[f]!), layout)
        maskPlanes(planes, l.rows, l.columns, mask, fill)
        yield encodeRleFrame(planes, layout)
      } catch (e) {
        throw PixelErrors.codecFailed(uid, f + 1, e)
      }
    }
  }
  return { kind: 'encapsulated', mask, transferSyntaxUID: uid, frames: { [Symbol.asyncIterator]: frames }, insert: [] }
}
