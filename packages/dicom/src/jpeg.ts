/**
 * @module 8-bit lossy JPEG frames (ISO 10918-1) for pixel masking: reads the frame header, decodes to raw samples
 * and re-encodes as Baseline (SOF0) with sharp (libjpeg-turbo).
 *
 * sharp writes YCbCr (component ids 1, 2, 3, no JFIF/Adobe marker), so decoders convert it back to RGB; it can
 * subsample chroma 4:2:0 or not at all (4:4:4), so a 4:2:2 source is written 4:4:4 rather than lose more.
 */
import sharp from 'sharp'
import { DicomErrors } from './errors.ts'

export interface JpegFrameInfo {
  /** The SOF marker's low byte: 0xC0 baseline, 0xC1 extended sequential, 0xC2 progressive, 0xC3 lossless, ... */
  sof: number
  precision: number
  width: number
  height: number
  /** Horizontal and vertical sampling factors per component, in frame order. */
  sampling: Array<[number, number]>
  /** Adobe APP14 transform flag (0: components are not YCbCr), when present. */
  adobeTransform?: number
}

/** Chroma subsampling of a 3-component frame as sharp names it, or 'other' for layouts it cannot write. */
export type Subsampling = '4:4:4' | '4:2:2' | '4:2:0' | 'other'

/** Reads markers up to the first SOF; throws DICOM_MALFORMED when there is none (not a JPEG frame). */
export function readJpegInfo(b: Uint8Array): JpegFrameInfo {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw DicomErrors.malformed(0, 'the frame does not start with a JPEG SOI marker')
  let o = 2
  let adobeTransform: number | undefined
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) throw DicomErrors.malformed(o, 'the JPEG frame has bytes between markers')
    const m = b[o + 1]!
    if (m === 0xff) { o++; continue } // fill bytes
    const len = (b[o + 2]! << 8) | b[o + 3]!
    // Adobe APP14: "Adobe" + version(2) + flags0(2) + flags1(2) + transform(1).
    if (m === 0xee && len >= 12 && String.fromCharCode(...b.subarray(o + 4, o + 9)) === 'Adobe') adobeTransform = b[o + 15]
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc
    if (isSof) {
      if (o + 10 > b.length) break
      const n = b[o + 9]!
      const sampling: Array<[number, number]> = []
      for (let c = 0; c < n && o + 12 + 3 * c <= b.length; c++) {
        const hv = b[o + 11 + 3 * c]!
        sampling.push([hv >> 4, hv & 15])
      }
      return {
        sof: m,
        precision: b[o + 4]!,
        height: (b[o + 5]! << 8) | b[o + 6]!,
        width: (b[o + 7]! << 8) | b[o + 8]!,
        sampling,
        ...(adobeTransform !== undefined ? { adobeTransform } : {}),
      }
    }
    if (m === 0xda || m === 0xd9) break
    o += 2 + len
  }
  throw DicomErrors.malformed(0, 'the JPEG frame has no frame header (SOF) before its scan')
}

export function subsamplingOf(info: JpegFrameInfo): Subsampling {
  if (info.sampling.length !== 3) return '4:4:4'
  const [[h0, v0], [h1, v1], [h2, v2]] = info.sampling as [[number, number], [number, number], [number, number]]
  if (h1 !== h2 || v1 !== v2) return 'other'
  if (h0 === h1 && v0 === v1) return '4:4:4'
  if (h0 === 2 * h1 && v0 === v1) return '4:2:2'
  if (h0 === 2 * h1 && v0 === 2 * v1) return '4:2:0'
  return 'other'
}

export interface RawImage {
  /** Samples interleaved per pixel (1 or 3 channels), 8 bits each. */
  data: Uint8Array
  width: number
  height: number
  channels: 1 | 3
}

/** Decodes an 8-bit JPEG frame to interleaved samples: RGB for colour (YCbCr converted), one channel for grey. */
export async function decodeJpegFrame(frame: Uint8Array, channels: 1 | 3): Promise<RawImage> {
  try {
    const { data, info } = await sharp(frame, { failOn: 'error' })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true })
    if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels, expected ${channels}`)
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels }
  } catch (e) {
    throw Object.assign(DicomErrors.malformed(0, `the JPEG frame cannot be decoded (${(e as Error).message})`), { cause: e })
  }
}

export interface JpegEncodeOptions {
  /** 1-100; 95 by default. */
  quality?: number
  /** Chroma subsampling for 3 channels: '4:2:0' or '4:4:4' (sharp writes no other). */
  subsampling?: '4:2:0' | '4:4:4'
}

/** Encodes raw 8-bit samples as a Baseline (SOF0, Huffman, sequential) JPEG frame: YCbCr for 3 channels, grey for 1. */
export async function encodeJpegFrame(img: RawImage, opts: JpegEncodeOptions = {}): Promise<Uint8Array> {
  let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
  // Without this sharp widens one channel to three.
  if (img.channels === 1) s = s.toColourspace('b-w')
  const buf = await s
    .jpeg({
      quality: opts.quality ?? 95,
      chromaSubsampling: opts.subsampling ?? '4:4:4',
      // Plain libjpeg-turbo baseline: mozjpeg's defaults switch to progressive scans.
      mozjpeg: false,
      progressive: false,
      optimiseScans: false,
      trellisQuantisation: false,
      overshootDeringing: false,
    })
    .toBuffer()
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}
