/**
 * @module Rendered and thumbnail media for WADO-RS (PS3.18 8.3.5, 9.5.1.2.4, 10.4.1.1.3): one frame to JPEG or PNG.
 *
 * The grayscale pipeline is the one PS3.3 C.11 defines for display: stored values (masked to Bits
 * Stored, sign-extended) -> Modality LUT (rescale slope/intercept, C.11.1) -> VOI LUT window
 * (C.11.2.1.2, C.11.2.1.3) -> 8-bit output, inverted for MONOCHROME1. It is evaluated through a
 * lookup table over the frame's value range, so a 16-bit frame costs one table lookup per pixel.
 * Color frames are converted to 8-bit RGB. Encoding, resizing and JPEG decoding are done by sharp.
 */
import sharp from 'sharp'
import type { OutputInfo } from 'sharp'
import { DicomwebHttpErrors } from './errors.ts'

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID'

export interface FrameInput {
  /** One frame: native pixel bytes, or the compressed bitstream of an encapsulated frame. */
  bytes: Uint8Array
  encapsulated: boolean
  transferSyntaxUID: string
}

export interface ImageAttrs {
  rows: number
  columns: number
  samplesPerPixel: number
  bitsAllocated: number
  bitsStored: number
  highBit?: number
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: number
  photometricInterpretation: string
  /** 0 interleaved (R1G1B1R2...), 1 planar (R plane, G plane, B plane). */
  planarConfiguration?: number
  rescaleSlope?: number
  rescaleIntercept?: number
  windowCenter?: number[]
  windowWidth?: number[]
  /** VOI LUT Function (0028,1056) of the stored window; LINEAR when absent. */
  voiLutFunction?: string
  /** Byte order of native pixel data (false only for the retired Explicit VR Big Endian). */
  littleEndian: boolean
}

export interface WindowParam {
  center: number
  width: number
  function?: VoiFunction
}

export interface Viewport {
  /** Size of the box the image is fitted into, aspect ratio kept (PS3.18 8.3.5.1.3). */
  width: number
  height: number
  /** Source region to render (sx, sy, sw, sh); a negative sw or sh flips that axis. */
  region?: { x: number; y: number; width: number; height: number }
}

export interface RenderOptions {
  format: 'jpeg' | 'png'
  /** JPEG quality 1..100 (PS3.18 8.3.5.1.2). Default 90. */
  quality?: number
  /** Overrides the stored window (PS3.18 8.3.5.1.4). */
  window?: WindowParam
  viewport?: Viewport
}

const TS = {
  rle: '1.2.840.10008.1.2.5',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
} as const

/** Names for the error message when a syntax cannot be rendered (PS3.6 Annex A). */
const TS_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (12-bit)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 Part 2 Lossless',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 Part 2',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.101': 'MPEG2 High Profile',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.1.98': 'Encapsulated Uncompressed Explicit VR Little Endian',
}

/** Largest output side we produce; a viewport is a display size, not a way to allocate gigapixels. */
const MAX_VIEWPORT = 8192

// ---------------------------------------------------------------------------------------------
// Query parameters

const VOI_NAMES: Record<string, VoiFunction> = { linear: 'LINEAR', 'linear-exact': 'LINEAR_EXACT', linear_exact: 'LINEAR_EXACT', sigmoid: 'SIGMOID' }

/**
 * Parses `window=<center>,<width>,<function>` (PS3.18 8.3.5.1.4); function is linear,
 * linear-exact or sigmoid, case-insensitive, LINEAR when left out. The width must be > 0, and
 * >= 1 for LINEAR (PS3.3 C.11.2.1.2.1).
 */
export function parseWindowParam(s: string): WindowParam {
  const parts = s.split(',').map((p) => p.trim())
  if (parts.length < 2 || parts.length > 3 || parts[0] === '' || parts[1] === '') throw DicomwebHttpErrors.badWindow(s)
  const center = Number(parts[0])
  const width = Number(parts[1])
  if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0) throw DicomwebHttpErrors.badWindow(s)
  let fn: VoiFunction = 'LINEAR'
  if (parts.length === 3 && parts[2] !== '') {
    const f = VOI_NAMES[parts[2]!.toLowerCase()]
    if (!f) throw DicomwebHttpErrors.badWindow(s)
    fn = f
  }
  if (fn === 'LINEAR' && width < 1) throw DicomwebHttpErrors.badWindow(s)
  return { center, width, function: fn }
}

/**
 * Parses `viewport=<vw>,<vh>[,<sx>,<sy>,<sw>,<sh>]` (PS3.18 8.3.5.1.3): the box the rendered
 * image must fit in, and optionally the source region to render.
 */
export function parseViewportParam(s: string): Viewport {
  const parts = s.split(',').map((p) => p.trim())
  if (parts.length !== 2 && parts.length !== 6) throw DicomwebHttpErrors.badViewport(s)
  const nums = parts.map((p) => (/^-?\d+$/.test(p) ? Number(p) : NaN))
  if (nums.some((n) => !Number.isSafeInteger(n))) throw DicomwebHttpErrors.badViewport(s)
  const [width, height, x, y, w, h] = nums as [number, number, number?, number?, number?, number?]
  if (width < 1 || height < 1 || width > MAX_VIEWPORT || height > MAX_VIEWPORT) throw DicomwebHttpErrors.badViewport(s)
  const vp: Viewport = { width, height }
  if (parts.length === 6) {
    if (x! < 0 || y! < 0 || w === 0 || h === 0) throw DicomwebHttpErrors.badViewport(s)
    vp.region = { x: x!, y: y!, width: w!, height: h! }
  }
  return vp
}

/** Parses `quality=<1..100>` (PS3.18 8.3.5.1.2). */
export function parseQualityParam(s: string): number {
  const t = s.trim()
  const q = /^\d+$/.test(t) ? Number(t) : NaN
  if (!(q >= 1 && q <= 100)) throw DicomwebHttpErrors.badQuality(s)
  return q
}

// ---------------------------------------------------------------------------------------------
// RLE (PS3.5 Annex G)

/**
 * Decodes one RLE Lossless frame (PS3.5 G.3, G.4) to native pixel data: little endian,
 * interleaved samples (Planar Configuration 0), as a native frame of the same attributes would be.
 * Segments hold one byte plane each, most significant byte first, sample by sample (G.2).
 */
export function decodeRle(bytes: Uint8Array, attrs: Pick<ImageAttrs, 'rows' | 'columns' | 'samplesPerPixel' | 'bitsAllocated'>): Buffer {
  const { rows, columns, samplesPerPixel: spp, bitsAllocated } = attrs
  if (bitsAllocated % 8 !== 0) throw DicomwebHttpErrors.renderUnsupported(`RLE with Bits Allocated ${bitsAllocated}`)
  const bps = bitsAllocated / 8
  const pixels = rows * columns
  if (bytes.length < 64) throw DicomwebHttpErrors.renderBadPixelData('the RLE header is shorter than 64 bytes')
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const nSeg = dv.getUint32(0, true)
  if (nSeg !== spp * bps || nSeg > 15) throw DicomwebHttpErrors.renderBadPixelData(`the RLE header has ${nSeg} segments where ${spp * bps} are expected`)
  const out = Buffer.alloc(pixels * spp * bps)
  for (let s = 0; s < nSeg; s++) {
    const start = dv.getUint32(4 + 4 * s, true)
    const end = s + 1 < nSeg ? dv.getUint32(8 + 4 * s, true) : bytes.length
    if (start < 64 || end > bytes.length || end < start) throw DicomwebHttpErrors.renderBadPixelData('an RLE segment offset is out of range')
    const sample = Math.floor(s / bps)
    const byteInSample = s % bps // 0 = most significant
    // Position of this byte plane in interleaved little-endian output.
    let o = sample * bps + (bps - 1 - byteInSample)
    const stride = spp * bps
    let produced = 0
    let i = start
    while (produced < pixels && i < end) {
      const n = bytes[i++]!
      if (n < 128) {
        // literal run of n + 1 bytes
        const len = Math.min(n + 1, pixels - produced, end - i)
        for (let k = 0; k < len; k++, o += stride) out[o] = bytes[i + k]!
        i += n + 1
        produced += len
      } else if (n > 128) {
        // replicate run: the next byte 257 - n times
        if (i >= end) break
        const v = bytes[i++]!
        const len = Math.min(257 - n, pixels - produced)
        for (let k = 0; k < len; k++, o += stride) out[o] = v
        produced += len
      }
      // n === 128 (-128): no operation
    }
    if (produced < pixels) throw DicomwebHttpErrors.renderBadPixelData(`RLE segment ${s + 1} decodes to ${produced} bytes where ${pixels} are expected`)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Grayscale

interface Stored {
  values: Int32Array | Float64Array
  min: number
  max: number
}

/** Stored pixel values of a native grayscale frame: masked to Bits Stored and sign-extended (PS3.5 8.1.1). */
function readStored(bytes: Uint8Array, a: ImageAttrs): Stored {
  const n = a.rows * a.columns
  const ba = a.bitsAllocated
  const bs = a.bitsStored
  const hb = a.highBit ?? bs - 1
  const shift = hb + 1 - bs
  const signed = a.pixelRepresentation === 1
  if (bs < 1 || bs > ba || shift < 0 || hb >= ba) throw DicomwebHttpErrors.renderBadPixelData(`Bits Stored ${bs} / High Bit ${hb} do not fit Bits Allocated ${ba}`)
  const need = ba === 1 ? Math.ceil(n / 8) : n * (ba / 8)
  if (bytes.length < need) throw DicomwebHttpErrors.renderBadPixelData(`the frame has ${bytes.length} bytes where ${need} are expected`)
  let min = Infinity
  let max = -Infinity
  if (ba === 32 && bs === 32) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const values = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const v = signed ? dv.getInt32(i * 4, a.littleEndian) : dv.getUint32(i * 4, a.littleEndian)
      values[i] = v
      if (v < min) min = v
      if (v > max) max = v
    }
    return { values, min, max }
  }
  const values = new Int32Array(n)
  const mask = (2 ** bs - 1) | 0 // bs <= 31 here (32-bit stored values took the branch above)
  const ext = 32 - bs // sign extension by shifting up and arithmetically back down
  const le = a.littleEndian
  for (let i = 0; i < n; i++) {
    let raw: number
    if (ba === 8) raw = bytes[i]!
    else if (ba === 16) raw = le ? bytes[2 * i]! | (bytes[2 * i + 1]! << 8) : (bytes[2 * i]! << 8) | bytes[2 * i + 1]!
    else if (ba === 32) {
      const j = 4 * i
      raw = le
        ? bytes[j]! | (bytes[j + 1]! << 8) | (bytes[j + 2]! << 16) | (bytes[j + 3]! << 24)
        : (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!
    } else if (ba === 1) raw = (bytes[i >> 3]! >> (i & 7)) & 1 // bits packed LSB first (PS3.5 8.1.1)
    else throw DicomwebHttpErrors.renderUnsupported(`Bits Allocated ${ba}`)
    let v = (raw >>> shift) & mask
    if (signed) v = (v << ext) >> ext
    values[i] = v
    if (v < min) min = v
    if (v > max) max = v
  }
  return { values, min, max }
}

type Voi = (x: number) => number

/** VOI LUT functions of PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT), C.11.2.1.3.1 (SIGMOID), output 0..255. */
function voiFunction(c: number, w: number, fn: VoiFunction): Voi {
  const ymax = 255
  if (fn === 'LINEAR_EXACT') {
    return (x) => (x <= c - w / 2 ? 0 : x > c + w / 2 ? ymax : ((x - c) / w + 0.5) * ymax)
  }
  if (fn === 'SIGMOID') {
    return (x) => ymax / (1 + Math.exp((-4 * (x - c)) / w))
  }
  const lo = c - 0.5 - (w - 1) / 2
  const hi = c - 0.5 + (w - 1) / 2
  return (x) => (x <= lo ? 0 : x > hi ? ymax : ((x - (c - 0.5)) / (w - 1) + 0.5) * ymax)
}

function normalizeVoiName(s: string | undefined): VoiFunction {
  const f = s ? VOI_NAMES[s.trim().toLowerCase()] : undefined
  return f ?? 'LINEAR'
}

/** The window to apply: requested, else the first stored one, else the frame's full range. */
function chooseWindow(a: ImageAttrs, requested: WindowParam | undefined, modMin: number, modMax: number): { c: number; w: number; fn: VoiFunction } {
  if (requested) return { c: requested.center, w: requested.width, fn: requested.function ?? 'LINEAR' }
  const c = a.windowCenter?.[0]
  const w = a.windowWidth?.[0]
  const fn = normalizeVoiName(a.voiLutFunction)
  if (c !== undefined && w !== undefined && Number.isFinite(c) && Number.isFinite(w) && (fn === 'LINEAR' ? w >= 1 : w > 0)) return { c, w, fn }
  // LINEAR maps [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] onto 0..255, so this puts min at 0 and max at 255.
  return { c: (modMin + modMax) / 2 + 0.5, w: modMax - modMin + 1, fn: 'LINEAR' }
}

/** Grayscale frame to 8-bit display values. */
function renderGray(bytes: Uint8Array, a: ImageAttrs, window: WindowParam | undefined, opts: { identityWithoutWindow?: boolean } = {}): Buffer {
  const { values, min, max } = readStored(bytes, a)
  const n = values.length
  const slope = a.rescaleSlope ?? 1
  const intercept = a.rescaleIntercept ?? 0
  const invert = a.photometricInterpretation.trim().toUpperCase() === 'MONOCHROME1'
  const out = Buffer.alloc(n)
  if (n === 0) return out
  let voi: Voi
  if (!window && opts.identityWithoutWindow) voi = (x) => x
  else {
    const m1 = min * slope + intercept
    const m2 = max * slope + intercept
    const win = chooseWindow(a, window, Math.min(m1, m2), Math.max(m1, m2))
    voi = voiFunction(win.c, win.w, win.fn)
  }
  const pixel = (v: number) => {
    let y = Math.round(voi(v * slope + intercept))
    y = y < 0 ? 0 : y > 255 ? 255 : y
    return invert ? 255 - y : y
  }
  const range = max - min
  if (values instanceof Int32Array && range <= 1 << 20) {
    // One evaluation per distinct stored value: cheap even for 16-bit data.
    const lut = new Uint8Array(range + 1)
    for (let v = 0; v <= range; v++) lut[v] = pixel(v + min)
    for (let i = 0; i < n; i++) out[i] = lut[values[i]! - min]!
  } else {
    for (let i = 0; i < n; i++) out[i] = pixel(values[i]!)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Color

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v)
}

/** Color frame (RGB, YBR_FULL, YBR_FULL_422; interleaved or planar) to 8-bit interleaved RGB. */
function renderColor(bytes: Uint8Array, a: ImageAttrs): Buffer {
  const n = a.rows * a.columns
  const pi = a.photometricInterpretation.trim().toUpperCase()
  if (a.samplesPerPixel !== 3) throw DicomwebHttpErrors.renderUnsupported(`${pi} with ${a.samplesPerPixel} samples per pixel`)
  const out = Buffer.alloc(n * 3)
  if (pi === 'YBR_FULL_422') {
    // Native YBR_FULL_422: each horizontal pair is stored as Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2).
    if (a.bitsAllocated !== 8) throw DicomwebHttpErrors.renderUnsupported(`YBR_FULL_422 with Bits Allocated ${a.bitsAllocated}`)
    if (a.columns % 2 !== 0) throw DicomwebHttpErrors.renderBadPixelData('YBR_FULL_422 needs an even number of columns')
    if (bytes.length < n * 2) throw DicomwebHttpErrors.renderBadPixelData(`the frame has ${bytes.length} bytes where ${n * 2} are expected`)
    for (let p = 0, i = 0; p < n; p += 2, i += 4) {
      const cb = bytes[i + 2]!
      const cr = bytes[i + 3]!
      ybrToRgb(bytes[i]!, cb, cr, out, p * 3)
      ybrToRgb(bytes[i + 1]!, cb, cr, out, p * 3 + 3)
    }
    return out
  }
  if (pi !== 'RGB' && pi !== 'YBR_FULL') throw DicomwebHttpErrors.renderUnsupported(`Photometric Interpretation ${pi}`)
  const ba = a.bitsAllocated
  if (ba !== 8 && ba !== 16) throw DicomwebHttpErrors.renderUnsupported(`color with Bits Allocated ${ba}`)
  const bps = ba / 8
  if (bytes.length < n * 3 * bps) throw DicomwebHttpErrors.renderBadPixelData(`the frame has ${bytes.length} bytes where ${n * 3 * bps} are expected`)
  const planar = a.planarConfiguration === 1
  const hb = a.highBit ?? a.bitsStored - 1
  const shift = hb + 1 - a.bitsStored
  const maxv = 2 ** a.bitsStored - 1
  const sample = (p: number, s: number): number => {
    const idx = planar ? s * n + p : p * 3 + s
    let raw: number
    if (bps === 1) raw = bytes[idx]!
    else raw = a.littleEndian ? bytes[2 * idx]! | (bytes[2 * idx + 1]! << 8) : (bytes[2 * idx]! << 8) | bytes[2 * idx + 1]!
    return (raw >>> shift) & maxv
  }
  const scale = maxv === 255 ? 1 : 255 / maxv
  for (let p = 0; p < n; p++) {
    const r = sample(p, 0)
    const g = sample(p, 1)
    const b = sample(p, 2)
    if (pi === 'YBR_FULL') {
      ybrToRgb(r * scale, g * scale, b * scale, out, p * 3)
    } else {
      out[p * 3] = clamp8(r * scale)
      out[p * 3 + 1] = clamp8(g * scale)
      out[p * 3 + 2] = clamp8(b * scale)
    }
  }
  return out
}

/** YCbCr (full range) to RGB, PS3.3 C.7.6.3.1.2 (the inverse of the matrix given there). */
function ybrToRgb(y: number, cb: number, cr: number, out: Buffer, o: number): void {
  out[o] = clamp8(y + 1.402 * (cr - 128))
  out[o + 1] = clamp8(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128))
  out[o + 2] = clamp8(y + 1.772 * (cb - 128))
}

// ---------------------------------------------------------------------------------------------
// Entry point

function isMonochrome(pi: string): boolean {
  const p = pi.trim().toUpperCase()
  return p === 'MONOCHROME1' || p === 'MONOCHROME2'
}

async function encode(raw: Buffer, width: number, height: number, channels: 1 | 3, opts: RenderOptions): Promise<Uint8Array> {
  let img = sharp(raw, { raw: { width, height, channels } })
  const region = opts.viewport?.region
  if (region) {
    const x0 = region.width < 0 ? region.x + region.width : region.x
    const y0 = region.height < 0 ? region.y + region.height : region.y
    const w = Math.abs(region.width)
    const h = Math.abs(region.height)
    if (x0 < 0 || y0 < 0 || x0 + w > width || y0 + h > height) {
      throw DicomwebHttpErrors.badViewport(`${opts.viewport!.width},${opts.viewport!.height},${region.x},${region.y},${region.width},${region.height}`)
    }
    img = img.extract({ left: x0, top: y0, width: w, height: h })
    if (region.width < 0) img = img.flop()
    if (region.height < 0) img = img.flip()
  }
  if (opts.viewport) img = img.resize({ width: opts.viewport.width, height: opts.viewport.height, fit: 'inside' })
  // sharp writes sRGB unless told otherwise; a grayscale image stays a one-channel PNG/JPEG (a third of the size).
  if (channels === 1) img = img.toColourspace('b-w')
  const buf = opts.format === 'png' ? await img.png().toBuffer() : await img.jpeg({ quality: opts.quality ?? 90 }).toBuffer()
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * Renders one frame as JPEG or PNG. Native and RLE frames go through the PS3.3 C.11 display
 * pipeline; JPEG Baseline frames are decoded by sharp (and sent unchanged when JPEG is asked
 * for with no window or viewport). Other compressed syntaxes throw DICOMWEB_RENDER_UNSUPPORTED
 * (406), so the caller can offer the bulk data instead.
 */
export async function renderFrame(frame: FrameInput, attrs: ImageAttrs, opts: RenderOptions): Promise<Uint8Array> {
  const { rows, columns } = attrs
  if (!(rows > 0 && columns > 0)) throw DicomwebHttpErrors.renderBadPixelData(`the image size ${columns}x${rows} is not valid`)
  const ts = frame.transferSyntaxUID.trim()
  const pi = attrs.photometricInterpretation.trim().toUpperCase()
  const mono = isMonochrome(pi)

  if (frame.encapsulated && (ts === TS.jpegBaseline || (ts === TS.jpegExtended && attrs.bitsStored <= 8))) {
    const invert = pi === 'MONOCHROME1'
    if (opts.format === 'jpeg' && !opts.viewport && !opts.window && !invert) return frame.bytes
    let decoded: { data: Buffer; info: OutputInfo }
    try {
      decoded = await sharp(frame.bytes).raw().toBuffer({ resolveWithObject: true })
    } catch (e) {
      const err = DicomwebHttpErrors.renderBadPixelData('the JPEG frame does not decode')
      ;(err as { cause?: unknown }).cause = e
      throw err
    }
    const { data, info } = decoded
    if (mono) {
      // Lossy 8-bit data is display-ready: only an explicit window (and MONOCHROME1 inversion) changes it.
      let gray = data
      if (info.channels !== 1) {
        gray = Buffer.alloc(info.width * info.height)
        for (let i = 0; i < gray.length; i++) gray[i] = data[i * info.channels]!
      }
      const a: ImageAttrs = { ...attrs, rows: info.height, columns: info.width, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, highBit: 7, pixelRepresentation: 0 }
      return encode(renderGray(gray, a, opts.window, { identityWithoutWindow: true }), info.width, info.height, 1, opts)
    }
    let rgb = data
    if (info.channels !== 3) {
      rgb = Buffer.alloc(info.width * info.height * 3)
      for (let p = 0; p < info.width * info.height; p++) {
        for (let s = 0; s < 3; s++) rgb[p * 3 + s] = data[p * info.channels + Math.min(s, info.channels - 1)]!
      }
    }
    return encode(rgb, info.width, info.height, 3, opts)
  }

  let native: Uint8Array
  let a = attrs
  if (frame.encapsulated) {
    if (ts !== TS.rle) throw DicomwebHttpErrors.renderUnsupported(`frames in ${TS_NAMES[ts] ?? 'transfer syntax'} ${ts} cannot be decoded here`)
    native = decodeRle(frame.bytes, attrs)
    a = { ...attrs, littleEndian: true, planarConfiguration: 0 }
  } else native = frame.bytes

  if (mono) {
    if (a.samplesPerPixel !== 1) throw DicomwebHttpErrors.renderBadPixelData(`${pi} with ${a.samplesPerPixel} samples per pixel`)
    return encode(renderGray(native, a, opts.window), columns, rows, 1, opts)
  }
  if (pi === 'PALETTE COLOR') throw DicomwebHttpErrors.renderUnsupported('PALETTE COLOR images')
  return encode(renderColor(native, a), columns, rows, 3, opts)
}
