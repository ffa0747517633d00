/**
 * @module One level of any slide our readers open, written as a tiled JPEG BigTIFF, so libvips (which cannot read
 * DICOM WSI) can build the levels that slide lacks (build.ts). Tile by tile, so memory holds a few tiles, never
 * the level.
 *
 * When the stored tiles are baseline YCbCr JPEGs of full tile size that all share one sampling layout (what DICOM
 * WSI scanners write), they go into the TIFF as they are: no decoding, no second loss, the TIFF's
 * YCbCrSubsampling taken from their frame headers (libtiff refuses tiles that disagree with it). Anything else
 * (RGB-coded JPEG, other codecs, cropped edge tiles, mixed layouts) is decoded through the reader and encoded
 * again (JPEG 4:4:4, quality 95, as vips and our synthetic writer lay it out).
 */
import { rm } from 'node:fs/promises'
import sharp from 'sharp'
import { Tag } from '../tiff/tags.ts'
import type { Slide } from '../reader.ts'
import { ascii, long, offsets, short, TiffWriter, type TagValue } from '../synth/tiff-writer.ts'

/** Tiles decoded and encoded at once (sharp runs them on its own threads). */
const IN_FLIGHT = 4

export interface LevelTiffResult {
  width: number
  height: number
  tiles: number
  ms: number
}

/** What must agree between a JPEG tile and the TIFF directory holding it. */
interface JpegLayout {
  width: number
  height: number
  /** Luma sampling factors (chroma 1×1). */
  h: number
  v: number
}

/**
 * The layout of a baseline/extended-Huffman 3-component YCbCr JPEG with 1×1 chroma, or null for anything else
 * (progressive, RGB-coded per an Adobe marker or R/G/B component ids, other component counts).
 */
export function jpegLayout(b: Uint8Array): JpegLayout | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null
  let rgb = false
  for (let p = 2; p + 4 <= b.length; ) {
    if (b[p] !== 0xff) return null
    const m = b[p + 1]!
    if (m === 0xff) { p++; continue }
    const len = (b[p + 2]! << 8) | b[p + 3]!
    if (m === 0xee && len >= 12 && String.fromCharCode(...b.subarray(p + 4, p + 9)) === 'Adobe') rgb = b[p + 15] === 0
    if (m === 0xc0 || m === 0xc1) {
      const height = (b[p + 5]! << 8) | b[p + 6]!
      const width = (b[p + 7]! << 8) | b[p + 8]!
      const n = b[p + 9]!
      if (n !== 3 || rgb) return null
      const comp = (i: number) => ({ id: b[p + 10 + i * 3]!, h: b[p + 11 + i * 3]! >> 4, v: b[p + 11 + i * 3]! & 15 })
      const [y, cb, cr] = [comp(0), comp(1), comp(2)]
      if (y.id === 0x52 && cb.id === 0x47 && cr.id === 0x42) return null // 'R', 'G', 'B': no colour transform
      if (cb.h !== 1 || cb.v !== 1 || cr.h !== 1 || cr.v !== 1 || ![1, 2, 4].includes(y.h) || ![1, 2, 4].includes(y.v)) return null
      return { width, height, h: y.h, v: y.v }
    }
    if (m === 0xda || (m >= 0xc2 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)) return null // scan before a frame, or not baseline
    p += 2 + len
  }
  return null
}

export async function writeLevelTiff(slide: Slide, level: number, output: string, quality = 95): Promise<LevelTiffResult & { passedThrough: boolean }> {
  const l = slide.levels[level]
  if (!l) throw new RangeError(`the slide has no level ${level}`)
  // Pass-through when every tile is a full-size YCbCr JPEG of one layout; the first odd tile ends the attempt.
  const first = await slide.tile(level, 0, 0).catch(() => null)
  const layout = first?.encoding === 'jpeg' ? jpegLayout(first.bytes) : null
  if (layout && layout.width === l.tileWidth && layout.height === l.tileHeight) {
    const r = await writeLevel(slide, level, output, quality, layout)
    if (r) return { ...r, passedThrough: true }
  }
  return { ...(await writeLevel(slide, level, output, quality, null))!, passedThrough: false }
}

/** With `same`: copies tiles of that layout, returning null (file removed) at the first that is not. */
async function writeLevel(slide: Slide, level: number, output: string, quality: number, same: JpegLayout | null): Promise<LevelTiffResult | null> {
  const l = slide.levels[level]
  if (!l) throw new RangeError(`the slide has no level ${level}`)
  const t0 = performance.now()
  const across = Math.ceil(l.width / l.tileWidth)
  const down = Math.ceil(l.height / l.tileHeight)
  const n = across * down
  const offs = new Float64Array(n)
  const counts = new Float64Array(n)
  const w = await TiffWriter.create(output, 'bigtiff')
  try {
    const encode = async (i: number): Promise<Uint8Array | null> => {
      const col = i % across
      const row = Math.floor(i / across)
      if (same) {
        const t = await slide.tile(level, col, row).catch(() => null)
        const got = t?.encoding === 'jpeg' ? jpegLayout(t.bytes) : null
        if (!t || !got || got.width !== same.width || got.height !== same.height || got.h !== same.h || got.v !== same.v) return null
        return t.bytes
      }
      let px
      try {
        px = await slide.tilePixels(level, col, row)
      } catch (e) {
        // A tile the scanner left out (TILED_SPARSE over empty glass) is glass: white.
        if ((e as { code?: string }).code !== 'WSI_TILE_MISSING') throw e
        px = null
      }
      const full = { width: l.tileWidth, height: l.tileHeight, channels: 4 as const, background: '#ffffff' }
      // A missing tile, or an edge tile stored cropped, on a white tile of full size (TIFF tiles are all full).
      const img = px && px.width === l.tileWidth && px.height === l.tileHeight
        ? sharp(px.data, { raw: { width: px.width, height: px.height, channels: 4 } })
        : sharp({ create: full }).composite(px ? [{ input: Buffer.from(px.data.buffer, px.data.byteOffset, px.data.byteLength), raw: { width: px.width, height: px.height, channels: 4 }, left: 0, top: 0 }] : [])
      const jpg = await img.flatten({ background: '#ffffff' }).jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer()
      return new Uint8Array(jpg.buffer, jpg.byteOffset, jpg.byteLength)
    }
    // Encoded a few at a time, appended in order.
    const pending: Promise<Uint8Array | null>[] = []
    let next = 0
    for (let i = 0; i < n; i++) {
      while (next < n && pending.length < IN_FLIGHT) pending.push(encode(next++))
      const bytes = await pending.shift()!
      if (!bytes) {
        await Promise.allSettled(pending)
        await w.abort()
        await rm(output, { force: true })
        return null
      }
      offs[i] = await w.append(bytes)
      counts[i] = bytes.length
    }
    const tags = new Map<number, TagValue>([
      [Tag.NewSubfileType, long(0)],
      [Tag.ImageWidth, long(l.width)],
      [Tag.ImageLength, long(l.height)],
      [Tag.BitsPerSample, short(8, 8, 8)],
      [Tag.Compression, short(7)],
      [Tag.Photometric, short(6)],
      [Tag.SamplesPerPixel, short(3)],
      [Tag.PlanarConfiguration, short(1)],
      [Tag.YCbCrSubsampling, same ? short(same.h, same.v) : short(1, 1)],
      [Tag.Software, ascii('Kura level copy')],
      [Tag.TileWidth, long(l.tileWidth)],
      [Tag.TileLength, long(l.tileHeight)],
      [Tag.TileOffsets, offsets(offs)],
      [Tag.TileByteCounts, offsets(counts)],
    ])
    w.addIfd(tags)
    await w.finish()
  } catch (e) {
    await w.abort()
    throw e
  }
  return { width: l.width, height: l.height, tiles: n, ms: performance.now() - t0 }
}
