/**
 * @module Hamamatsu NDPI (OpenSlide: openslide-vendor-hamamatsu.c). Each level is one JPEG
 * with restart markers; McuStarts (65426, high 32 bits in 65432) gives each restart interval's
 * offset in the level's strip. A tile is a column of restart intervals: we rebuild a standalone
 * JPEG from the level header (SOF size patched to the tile) and those intervals' entropy bytes,
 * renumbering RSTn, without decoding anything. SourceLens (65421) > 0 marks a level (focal
 * plane 0 only), −1 the macro.
 */
import sharp from 'sharp'
import type { ByteSource } from '@kura/core'
import { WsiErrors } from '../errors.ts'
import { composeRegion, MAX_REGION_PIXELS } from '../region.ts'
import { standardProperties, type AssociatedImage, type AssociatedName, type EncodedTile, type Level, type RgbaPixels, type Slide, type SlideFormat } from '../reader.ts'
import type { Ifd, TiffEntry, TiffFile } from '../tiff/parser.ts'
import { resolutionMpp, tiffProperties } from '../tiff/properties.ts'
import { Tag } from '../tiff/tags.ts'

const NDPI = { FormatFlag: 65420, SourceLens: 65421, XOffset: 65422, YOffset: 65423, FocalPlane: 65424, McuStarts: 65426, Reference: 65427, McuStartsHigh: 65432, PropertyMap: 65449 } as const
/** Enough for any real JPEG header (tables + SOF + DRI + SOS); larger means a corrupt file. */
const HEADER_WINDOW = 64 * 1024
/** Stacked restart-interval rows per tile, aiming at square tiles but never above this. */
const MAX_ROWS_PER_TILE = 64

interface JpegHeader {
  /** SOI up to and including SOS, with SOF's position so its size can be patched. */
  bytes: Uint8Array
  sofAt: number
  mcuWidth: number
  mcuHeight: number
  restartInterval: number
}

/** Parses SOI..SOS of a level JPEG: MCU size from the sampling factors, DRI's interval. */
export function parseJpegHeader(b: Uint8Array): JpegHeader {
  if (b[0] !== 0xff || b[1] !== 0xd8) throw WsiErrors.malformed('an NDPI level does not start with a JPEG SOI marker')
  let p = 2
  let sofAt = -1
  let mcuWidth = 0
  let mcuHeight = 0
  let ri = 0
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) throw WsiErrors.malformed(`NDPI JPEG header is corrupt at byte ${p}`)
    const m = b[p + 1]
    if (m === 0xff) {
      p++
      continue
    }
    const len = (b[p + 2] << 8) | b[p + 3]
    if (m === 0xc0 || m === 0xc1) {
      sofAt = p
      const n = b[p + 9]
      let hmax = 1
      let vmax = 1
      for (let i = 0; i < n; i++) {
        const s = b[p + 11 + i * 3]
        hmax = Math.max(hmax, s >> 4)
        vmax = Math.max(vmax, s & 15)
      }
      mcuWidth = 8 * hmax
      mcuHeight = 8 * vmax
    } else if (m === 0xc2 || m === 0xc3 || (m >= 0xc5 && m <= 0xcf && m !== 0xc8 && m !== 0xcc)) {
      throw WsiErrors.unsupportedLayout(`NDPI level JPEG uses SOF${m - 0xc0} (baseline or extended Huffman only)`)
    } else if (m === 0xdd) {
      ri = (b[p + 4] << 8) | b[p + 5]
    } else if (m === 0xda) {
      const end = p + 2 + len
      if (sofAt < 0) throw WsiErrors.malformed('NDPI level JPEG has no SOF before its scan')
      if (end > b.length) break
      return { bytes: b.slice(0, end), sofAt, mcuWidth, mcuHeight, restartInterval: ri }
    }
    p += 2 + len
  }
  throw WsiErrors.malformed(`NDPI level JPEG header is longer than ${HEADER_WINDOW} bytes or truncated`)
}

/** One pyramid level: a JPEG strip and the absolute file offset of each restart interval. */
class NdpiLevel implements Level {
  readonly tileWidth: number
  readonly tileHeight: number
  readonly across: number
  readonly down: number
  /** Intervals per MCU row, and MCU rows per tile. */
  private readonly perRow: number
  private readonly rowsPerTile: number
  private readonly intervals: number

  constructor(
    private readonly src: ByteSource,
    readonly width: number,
    readonly height: number,
    readonly downsample: number,
    private readonly header: JpegHeader,
    /**
     * McuStarts entries [from, to) as absolute offsets. Read by range per tile, never whole:
     * a 100k-pixel level's array is 25 MB and decoding it all cost 180 ms of a first tile.
     */
    private readonly loadStarts: (from: number, to: number) => Promise<Float64Array>,
    private readonly stripEnd: number,
    /** No restart markers: the whole level is one interval and one tile. */
    single = false,
  ) {
    const h = header
    const mcusPerRow = Math.ceil(width / h.mcuWidth)
    const mcuRows = Math.ceil(height / h.mcuHeight)
    if (mcusPerRow % h.restartInterval !== 0)
      throw WsiErrors.unsupportedLayout(`restart interval ${h.restartInterval} MCUs does not divide an MCU row of ${mcusPerRow}`)
    this.perRow = mcusPerRow / h.restartInterval
    this.intervals = single ? 1 : this.perRow * mcuRows
    this.tileWidth = h.restartInterval * h.mcuWidth
    this.rowsPerTile = single ? mcuRows : Math.max(1, Math.min(MAX_ROWS_PER_TILE, Math.round(this.tileWidth / h.mcuHeight)))
    this.tileHeight = this.rowsPerTile * h.mcuHeight
    this.across = this.perRow
    this.down = Math.ceil(height / this.tileHeight)
  }

  /** Byte range [from, to) of interval i's entropy data, its trailing RSTn/EOI excluded. */
  private range(starts: Float64Array, base: number, i: number): [number, number] {
    const from = starts[i - base]
    const to = i + 1 < this.intervals ? starts[i + 1 - base] : this.stripEnd
    if (!(to > from && from >= 0)) throw WsiErrors.malformed(`McuStarts are not increasing at interval ${i}`)
    return [from, to]
  }

  async tile(col: number, row: number): Promise<EncodedTile> {
    if (!(Number.isInteger(col) && Number.isInteger(row) && col >= 0 && row >= 0 && col < this.across && row < this.down))
      throw WsiErrors.outOfRange(`Tile ${col},${row} is outside the ${this.across}×${this.down} grid`)
    const h = this.header
    const firstRow = row * this.rowsPerTile
    const lastRow = Math.min(firstRow + this.rowsPerTile, Math.ceil(this.height / h.mcuHeight))
    const base = firstRow * this.perRow + col
    const starts = await this.loadStarts(base, Math.min(this.intervals, (lastRow - 1) * this.perRow + col + 2))
    const ranges: [number, number][] = []
    for (let r = firstRow; r < lastRow; r++) ranges.push(this.range(starts, base, r * this.perRow + col))
    const parts = await Promise.all(ranges.map(([a, b]) => this.src.read(a, b - a)))
    const width = Math.min(this.tileWidth, this.width - col * this.tileWidth)
    const height = Math.min(this.tileHeight, this.height - row * this.tileHeight)
    let n = h.bytes.length + 2
    const bodies = parts.map((p, k) => {
      if (p.length !== ranges[k][1] - ranges[k][0]) throw WsiErrors.truncated(ranges[k][0], ranges[k][1] - ranges[k][0], this.src.size)
      // Each interval but the last of the level ends with its RSTn marker (the last with EOI): drop it.
      const e = p.length >= 2 && p[p.length - 2] === 0xff && p[p.length - 1] >= 0xd0 && p[p.length - 1] <= 0xd9 ? p.length - 2 : p.length
      n += e + 2
      return p.subarray(0, e)
    })
    const out = new Uint8Array(n)
    out.set(h.bytes, 0)
    // SOF height at +5, width at +7: the tile's own size (the level's may be 0 or > 65,535).
    out[h.sofAt + 5] = height >> 8
    out[h.sofAt + 6] = height & 255
    out[h.sofAt + 7] = width >> 8
    out[h.sofAt + 8] = width & 255
    let o = h.bytes.length
    bodies.forEach((b, k) => {
      out.set(b, o)
      o += b.length
      if (k < bodies.length - 1) {
        out[o++] = 0xff
        out[o++] = 0xd0 + (k & 7)
      }
    })
    out[o++] = 0xff
    out[o++] = 0xd9
    return { bytes: out.subarray(0, o), mediaType: 'image/jpeg', encoding: 'jpeg', width, height }
  }

  async tilePixels(col: number, row: number): Promise<RgbaPixels> {
    const t = await this.tile(col, row)
    const { data, info } = await sharp(t.bytes).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true })
    if (info.width !== t.width || info.height !== t.height) throw WsiErrors.malformed(`NDPI tile ${col},${row} decodes to ${info.width}×${info.height}, expected ${t.width}×${t.height}`)
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: t.width, height: t.height }
  }
}

class NdpiSlide implements Slide {
  readonly format = 'hamamatsu-ndpi' as const
  constructor(
    readonly levels: readonly NdpiLevel[],
    readonly properties: Readonly<Record<string, string>>,
    readonly associated: ReadonlyMap<AssociatedName, AssociatedImage>,
    private readonly src: ByteSource,
    readonly mpp?: { x: number; y: number },
    readonly objectivePower?: number,
  ) {}

  private level(i: number): NdpiLevel {
    const l = this.levels[i]
    if (!l) throw WsiErrors.outOfRange(`Level ${i} does not exist (the slide has ${this.levels.length})`)
    return l
  }

  tile(level: number, col: number, row: number): Promise<EncodedTile> {
    return this.level(level).tile(col, row)
  }

  tilePixels(level: number, col: number, row: number): Promise<RgbaPixels> {
    return this.level(level).tilePixels(col, row)
  }

  readRegion(level: number, x: number, y: number, w: number, h: number): Promise<RgbaPixels> {
    const l = this.level(level)
    return composeRegion({ width: l.width, height: l.height, tileWidth: l.tileWidth, tileHeight: l.tileHeight, pixels: (col, row) => l.tilePixels(col, row) }, Math.floor(x / l.downsample), Math.floor(y / l.downsample), w, h)
  }

  close(): Promise<void> {
    return this.src.close()
  }
}

/**
 * NDPI stores 32-bit offsets; past 4 GB the true offset is the stored one plus the high bits that
 * put it just below the directory that names it (OpenSlide's fix_offset_ndpi heuristic: data
 * precedes its directory).
 */
function fixOffset(dirOffset: number, offset: number): number {
  const hi = Math.floor(dirOffset / 2 ** 32) * 2 ** 32
  let v = hi + offset
  if (v > dirOffset && v >= 2 ** 32) v -= 2 ** 32
  return v
}

/** A loader of McuStarts entries [from, to) (plus their high 32 bits from 65432) as absolute offsets. */
function mcuStartsLoader(ifd: Ifd, stripStart: number, intervals: number): (from: number, to: number) => Promise<Float64Array> {
  const lo = ifd.entries.get(NDPI.McuStarts)!
  const hi = ifd.entries.get(NDPI.McuStartsHigh)
  if (lo.count !== intervals) throw WsiErrors.malformed(`McuStarts has ${lo.count} entries for ${intervals} restart intervals`)
  if (hi && hi.count !== lo.count) throw WsiErrors.malformed(`McuStartsHighBytes has ${hi.count} entries, McuStarts ${lo.count}`)
  const src = ifd.file.source
  const le = ifd.file.littleEndian
  const read = async (e: TiffEntry, from: number, to: number): Promise<Float64Array> => {
    const size = e.byteLength / e.count
    if (size !== 4 && size !== 8) throw WsiErrors.malformed(`McuStarts has field type ${e.type}`)
    let b: Uint8Array
    if (e.inline) b = e.inline.subarray(from * size, to * size)
    else {
      const at = fixOffset(ifd.offset, e.valueOffset) + from * size
      b = await src.read(at, (to - from) * size)
      if (b.length !== (to - from) * size) throw WsiErrors.truncated(at, (to - from) * size, src.size)
    }
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    const out = new Float64Array(to - from)
    for (let i = 0; i < out.length; i++) out[i] = size === 4 ? dv.getUint32(i * 4, le) : Number(dv.getBigUint64(i * 8, le))
    return out
  }
  return async (from, to) => {
    const [l, h] = await Promise.all([read(lo, from, to), hi ? read(hi, from, to) : null])
    for (let i = 0; i < l.length; i++) l[i] = stripStart + l[i] + (h ? h[i] * 2 ** 32 : 0)
    return l
  }
}

/** "key=value\r\n" records of 65449 as `hamamatsu.key`, as OpenSlide names them. */
function propertyMap(text: string | undefined): Record<string, string> {
  const p: Record<string, string> = {}
  for (const rec of (text ?? '').split('\r\n')) {
    const eq = rec.indexOf('=')
    if (eq > 0 && eq < rec.length - 1) p[`hamamatsu.${rec.slice(0, eq)}`] = rec.slice(eq + 1)
  }
  return p
}

export const hamamatsuNdpi: SlideFormat = {
  name: 'hamamatsu-ndpi',
  async detect(_src, tiff) {
    if (!tiff) return { ok: false, reason: 'not a TIFF' }
    return tiff.ifds[0].has(NDPI.FormatFlag) ? { ok: true } : { ok: false, reason: 'no NDPI tag 65420' }
  },

  async open(src: ByteSource, tiff: TiffFile | null): Promise<Slide> {
    const t = tiff!
    const levels: NdpiLevel[] = []
    const associated = new Map<AssociatedName, AssociatedImage>()
    let w0 = 0
    let h0 = 0
    for (const ifd of t.ifds) {
      const width = (await ifd.number(Tag.ImageWidth)) ?? 0
      const height = (await ifd.number(Tag.ImageLength)) ?? 0
      const lens = await ifd.number(NDPI.SourceLens)
      const stripOffset = await ifd.number(Tag.StripOffsets)
      const stripBytes = await ifd.number(Tag.StripByteCounts)
      if (lens === undefined || stripOffset === undefined || stripBytes === undefined) throw WsiErrors.malformed('an NDPI directory lacks SourceLens or its strip')
      if (!(width > 0 && height > 0 && width < 2 ** 31 && height < 2 ** 31)) throw WsiErrors.malformed(`NDPI image dimensions ${width}×${height} are absurd`)
      const start = fixOffset(ifd.offset, stripOffset)
      if (start + stripBytes > src.size) throw WsiErrors.truncated(start, stripBytes, src.size)
      if (lens > 0) {
        if (((await ifd.number(NDPI.FocalPlane)) ?? 0) !== 0) continue
        if (levels.length > 0 && width >= levels[levels.length - 1].width) throw WsiErrors.malformed('NDPI levels are not in decreasing size order')
        const header = parseJpegHeader(await src.read(start, Math.min(HEADER_WINDOW, stripBytes)))
        if (levels.length === 0) {
          w0 = width
          h0 = height
        }
        const ds = (w0 / width + h0 / height) / 2
        const single = header.restartInterval === 0
        if (single) {
          // A level without restart markers is one tile (OpenSlide: "non-tiled image"); refused when huge.
          if (width * height > MAX_REGION_PIXELS) throw WsiErrors.unsupportedLayout(`an NDPI level of ${width}×${height} has no restart markers`)
          header.restartInterval = Math.ceil(width / header.mcuWidth)
        }
        if (!single && !ifd.has(NDPI.McuStarts))
          throw WsiErrors.unsupportedLayout('an NDPI level has no McuStarts (65426); scanning for restart markers is not implemented')
        const intervals = (Math.ceil(width / header.mcuWidth) / header.restartInterval) * Math.ceil(height / header.mcuHeight)
        const load = single ? async () => Float64Array.of(start + header.bytes.length) : mcuStartsLoader(ifd, start, intervals)
        levels.push(new NdpiLevel(src, width, height, ds, header, load, start + stripBytes, single))
      } else if (lens === -1 && !associated.has('macro')) {
        associated.set('macro', {
          width,
          height,
          read: async () => ({ bytes: await src.read(start, stripBytes), mediaType: 'image/jpeg' as const }),
        })
      }
    }
    if (levels.length === 0) throw WsiErrors.malformed('the NDPI file has no pyramid level (SourceLens > 0)')
    const first = t.ifds[0]
    const lens0 = await first.number(NDPI.SourceLens)
    const mpp = await resolutionMpp(first)
    const props: Record<string, string> = { ...(await tiffProperties(first)), ...propertyMap(await first.string(NDPI.PropertyMap)) }
    const ref = await first.string(NDPI.Reference)
    if (ref !== undefined) props['hamamatsu.Reference'] = ref
    if (lens0 !== undefined) props['hamamatsu.SourceLens'] = String(lens0)
    for (const [tag, key] of [[NDPI.XOffset, 'hamamatsu.XOffsetFromSlideCentre'], [NDPI.YOffset, 'hamamatsu.YOffsetFromSlideCentre']] as const) {
      const v = await first.number(tag)
      if (v !== undefined) props[key] = String(v)
    }
    props['openslide.vendor'] = 'hamamatsu'
    const power = lens0 !== undefined && lens0 > 0 ? lens0 : undefined
    Object.assign(props, standardProperties(levels, mpp, power))
    return new NdpiSlide(levels, props, associated, src, mpp, power)
  },
}
