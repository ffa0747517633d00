/**
 * @module A kept macro with its label area blacked out: the macro is decoded (through @kura/wsi), the label
 * rectangle painted black, re-encoded as one baseline JPEG strip (YCbCr 4:4:4, quality 90), and written with a new
 * directory appended after the copy's last byte. The new directory replaces the old one in the IFD chain, so the
 * old directory's size and strip count never constrain it (classic TIFF and BigTIFF alike).
 *
 * The new ImageDescription carries a marker naming the blacked-out rectangle in pixels and the policy, which the
 * verification and the hub read back and check against the pixels (they never take it on trust).
 */
import type { ByteSource } from '@kura/core'
import { openSlide, type Slide } from '@kura/wsi'
import sharp from 'sharp'
import { SlideDeidErrors } from './errors.ts'
import type { LayoutIfd, TiffLayout } from './tiff-layout.ts'

/** [x, y, width, height] as fractions (0-1) of the macro's width and height. */
export type FractionRect = readonly [number, number, number, number]
/** [x, y, width, height] in pixels. */
export type PixelRect = readonly [number, number, number, number]

/** JPEG blocks are 8×8 at 4:4:4: the black area grows outward to whole blocks, so no block mixes label and black. */
const BLOCK = 8
/** Largest sample value counted as black in a decoded kept macro (a uniform black JPEG block decodes to 0-2). */
export const BLACK_MAX = 8

/** The label rectangle in pixels, rounded outward (never smaller than the fractions say), clamped to the image. */
export function labelRectPx(area: FractionRect, width: number, height: number): PixelRect {
  const x0 = Math.max(0, Math.floor(area[0] * width))
  const y0 = Math.max(0, Math.floor(area[1] * height))
  const x1 = Math.min(width, Math.ceil((area[0] + area[2]) * width))
  const y1 = Math.min(height, Math.ceil((area[1] + area[3]) * height))
  return [x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)]
}

/** The marker written into the kept macro's ImageDescription, e.g. "label area 0,0,600,500 blacked out by KURA site-slides 2". */
export function macroMarker(rect: PixelRect, method: string): string {
  return `label area ${rect.join(',')} blacked out by ${method}`
}
const MARKER_RE = /label area (\d+),(\d+),(\d+),(\d+) blacked out by (KURA [^\r\n\0]+)/

/** The rectangle and policy a kept macro's description claims, or undefined when it carries no marker. */
export function parseMacroMarker(description: string | undefined): { rect: PixelRect; method: string } | undefined {
  const m = description ? MARKER_RE.exec(description) : null
  if (!m) return undefined
  return { rect: [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])], method: m[5]!.trim() }
}

/** The slide's macro decoded to RGB, through @kura/wsi (the same reader the hub and viewer use). */
export async function macroRgb(slide: Slide): Promise<{ data: Uint8Array; width: number; height: number } | undefined> {
  const m = slide.associated.get('macro')
  if (!m) return undefined
  const file = await m.read()
  const { data, info } = await sharp(file.bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true })
  if (info.channels !== 3) throw SlideDeidErrors.malformed(`the macro decodes to ${info.channels} channels`)
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height }
}

/** The largest sample value inside `rect` of an RGB image (0 when all black). */
export function maxIn(rgb: { data: Uint8Array; width: number }, rect: PixelRect): number {
  let max = 0
  const [x, y, w, h] = rect
  for (let r = y; r < y + h; r++) {
    const row = rgb.data.subarray((r * rgb.width + x) * 3, (r * rgb.width + x + w) * 3)
    for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!
  }
  return max
}

/** Problems with a slide's macro that claims a blacked-out label area (empty when the claim holds), or undefined when it claims none. */
export async function checkBlackedOutMacro(slide: Slide, description: string | undefined): Promise<string[] | undefined> {
  const claim = parseMacroMarker(description)
  if (!claim) return undefined
  const rgb = await macroRgb(slide)
  if (!rgb) return ['the macro claimed to be blacked out is missing']
  const [x, y, w, h] = claim.rect
  if (w === 0 || h === 0 || x + w > rgb.width || y + h > rgb.height) return [`the macro's blacked-out area ${claim.rect.join(',')} lies outside its ${rgb.width}×${rgb.height} pixels`]
  const max = maxIn(rgb, claim.rect)
  return max > BLACK_MAX ? [`the macro's label area ${claim.rect.join(',')} is not black (a sample of ${max}); the label may be readable`] : []
}

const TAGS_REPLACED = new Set([
  256, 257, 258, 259, 262, 270, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325, 338, 339, 347, 530, 531, 532,
])
const ASCII = 2

export interface KeptMacro {
  /** The bytes to append after the copy's last byte: the JPEG, the new directory and its values. */
  readonly append: Uint8Array
  /** File offset of the new directory. */
  readonly ifdOffset: number
  /** Offset inside `append` of the new directory's next-IFD pointer, to link it to the next kept directory. */
  readonly nextPtrAt: number
  /** The black rectangle in pixels (block-aligned, covering at least the policy's area). */
  readonly rect: PixelRect
  readonly jpegBytes: number
}

/**
 * Decodes the macro of `src` (directory `ifd` of `t`), blacks out `area`, and builds the appended bytes that hold the
 * new JPEG and a directory copying the old one's non-text entries (NewSubfileType, resolution, NDPI's SourceLens...).
 * `base` is where the appended bytes will start (the source's size).
 */
export async function buildKeptMacro(
  src: ByteSource,
  t: TiffLayout,
  ifd: LayoutIfd,
  area: FractionRect,
  description: (rect: PixelRect, width: number, height: number) => string,
): Promise<KeptMacro> {
  const width = (await t.numbers(ifd, 256))?.[0]
  const height = (await t.numbers(ifd, 257))?.[0]
  if (!width || !height) throw SlideDeidErrors.malformed(`the macro directory at ${ifd.offset} has no size`)
  const slide = await openSlide({ size: src.size, read: (o, l) => src.read(o, l), close: async () => {} })
  let rgb: Awaited<ReturnType<typeof macroRgb>>
  try {
    rgb = await macroRgb(slide)
  } finally {
    await slide.close()
  }
  if (!rgb || rgb.width !== width || rgb.height !== height)
    throw SlideDeidErrors.unknownImage(t.ifds.indexOf(ifd), `the macro read by @kura/wsi is not this ${width}×${height} directory, so it cannot be blacked out safely`)
  const r = labelRectPx(area, width, height)
  // Grow to whole 8×8 blocks so the JPEG holds no block half label, half black.
  const x0 = Math.floor(r[0] / BLOCK) * BLOCK
  const y0 = Math.floor(r[1] / BLOCK) * BLOCK
  const x1 = Math.min(width, Math.ceil((r[0] + r[2]) / BLOCK) * BLOCK)
  const y1 = Math.min(height, Math.ceil((r[1] + r[3]) / BLOCK) * BLOCK)
  const rect: PixelRect = [x0, y0, x1 - x0, y1 - y0]
  for (let y = y0; y < y1; y++) rgb.data.fill(0, (y * width + x0) * 3, (y * width + x1) * 3)
  const jpeg = new Uint8Array(
    await sharp(rgb.data, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90, chromaSubsampling: '4:4:4', mozjpeg: false, progressive: false })
      .toBuffer(),
  )

  // Layout of the appended bytes: [pad to 8][JPEG][pad][out-of-line values][directory].
  const le = t.littleEndian
  const big = t.bigTiff
  const ps = t.pointerSize
  const base = src.size
  const parts: Uint8Array[] = []
  let pos = base
  const put = (b: Uint8Array, align: number): number => {
    const pad = (align - (pos % align)) % align
    if (pad) parts.push(new Uint8Array(pad))
    pos += pad
    const at = pos
    parts.push(b)
    pos += b.length
    return at
  }
  const jpegAt = put(jpeg, 8)
  const offType = big ? 16 : 4

  type Raw = { tag: number; raw: Uint8Array } // a whole entry (12 or 20 bytes), value inline or pointer set
  const entries: Raw[] = []
  const es = big ? 20 : 12
  const cs = big ? 8 : 2
  const entry = (tag: number, type: number, count: number, value: Uint8Array): Raw => {
    const raw = new Uint8Array(es)
    const dv = new DataView(raw.buffer)
    dv.setUint16(0, tag, le)
    dv.setUint16(2, type, le)
    if (big) dv.setBigUint64(4, BigInt(count), le)
    else dv.setUint32(4, count, le)
    const vp = big ? 12 : 8
    if (value.length <= ps) raw.set(value, vp)
    else {
      const at = put(value, 2)
      if (big) dv.setBigUint64(vp, BigInt(at), le)
      else dv.setUint32(vp, at, le)
    }
    return { tag, raw }
  }
  const nums = (size: 2 | 4 | 8, values: number[]): Uint8Array => {
    const b = new Uint8Array(size * values.length)
    const dv = new DataView(b.buffer)
    values.forEach((v, i) => (size === 2 ? dv.setUint16(i * 2, v, le) : size === 4 ? dv.setUint32(i * 4, v, le) : dv.setBigUint64(i * 8, BigInt(v), le)))
    return b
  }
  const desc = new Uint8Array(Buffer.from(description(rect, width, height) + '\0', 'latin1'))
  entries.push(
    entry(256, 4, 1, nums(4, [width])),
    entry(257, 4, 1, nums(4, [height])),
    entry(258, 3, 3, nums(2, [8, 8, 8])),
    entry(259, 3, 1, nums(2, [7])),
    entry(262, 3, 1, nums(2, [6])),
    entry(270, ASCII, desc.length, desc),
    entry(273, offType, 1, nums(big ? 8 : 4, [jpegAt])),
    entry(277, 3, 1, nums(2, [3])),
    entry(278, 4, 1, nums(4, [height])),
    entry(279, offType, 1, nums(big ? 8 : 4, [jpeg.length])),
    entry(284, 3, 1, nums(2, [1])),
    entry(530, 3, 2, nums(2, [1, 1])),
  )
  // The old directory's other non-text entries, byte for byte: their out-of-line values stay where they are
  // (only the old image data and text are zeroed).
  // Copies (Uint8Array.from): a source may hand out a Buffer view into a larger pool.
  const head = Uint8Array.from(await src.read(ifd.offset, cs))
  const oldCount = big ? Number(new DataView(head.buffer).getBigUint64(0, le)) : new DataView(head.buffer).getUint16(0, le)
  const old = Uint8Array.from(await src.read(ifd.offset + cs, oldCount * es))
  const odv = new DataView(old.buffer)
  for (let i = 0; i < oldCount; i++) {
    const tag = odv.getUint16(i * es, le)
    const type = odv.getUint16(i * es + 2, le)
    if (TAGS_REPLACED.has(tag) || type === ASCII || tag === 700 /* XMP */ || !ifd.entries.has(tag)) continue
    entries.push({ tag, raw: old.subarray(i * es, (i + 1) * es) })
  }
  entries.sort((a, b) => a.tag - b.tag)
  // Classic TIFF: 4 zero bytes after the next-IFD pointer, because NDPI readers (OpenSlide) take it as 64 bits.
  const dir = new Uint8Array(cs + entries.length * es + ps + (big ? 0 : 4))
  const ddv = new DataView(dir.buffer)
  if (big) ddv.setBigUint64(0, BigInt(entries.length), le)
  else ddv.setUint16(0, entries.length, le)
  entries.forEach((e, i) => dir.set(e.raw, cs + i * es))
  const ifdOffset = put(dir, 8)
  if (!big && pos > 0xffffffff) throw SlideDeidErrors.malformed('the kept macro would end past 4 GiB in a classic TIFF')
  const append = new Uint8Array(pos - base)
  let p = 0
  for (const b of parts) {
    append.set(b, p)
    p += b.length
  }
  return { append, ifdOffset, nextPtrAt: ifdOffset - base + cs + entries.length * es, rect, jpegBytes: jpeg.length }
}
