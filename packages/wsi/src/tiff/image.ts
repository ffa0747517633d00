/**
 * @module One TIFF image (an IFD) as a grid of stored chunks: tiles, or strips treated as
 * full-width tiles. Gives the stored bytes of a chunk, the chunk as a standalone file where
 * that needs no decoding, and the chunk decoded to RGBA.
 */
import { inflate } from 'node:zlib'
import { promisify } from 'node:util'
import sharp from 'sharp'
import { WsiErrors } from '../errors.ts'
import { isJpeg, spliceJpeg } from '../codecs/jpeg.ts'
import { decodeLzw } from '../codecs/lzw.ts'
import type { Ifd } from './parser.ts'
import { Compression, compressionName, Photometric, Tag } from './tags.ts'

const inflateAsync = promisify(inflate)

/** Limits one chunk's decoded size so a corrupt header cannot make us allocate gigabytes. */
const MAX_CHUNK_PIXELS = 64 * 1024 * 1024
/** OpenSlide refuses larger dimensions too; 2^31 keeps all index arithmetic exact. */
const MAX_DIMENSION = 2 ** 31 - 1

export type TileEncoding = 'jpeg' | 'deflate' | 'lzw' | 'raw'

/** A stored tile as bytes; JPEG tiles are standalone files, others are the stored (compressed) samples. */
export interface EncodedTile {
  readonly bytes: Uint8Array
  readonly mediaType: 'image/jpeg' | 'application/octet-stream'
  readonly encoding: TileEncoding
  /** Pixel size of the stored chunk (TIFF tiles are full size even at the right and bottom edges). */
  readonly width: number
  readonly height: number
}

/** Decoded pixels, 4 bytes (R, G, B, A) per pixel, rows top to bottom. */
export interface RgbaPixels {
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
}

export class TiffImage {
  private constructor(
    readonly ifd: Ifd,
    readonly width: number,
    readonly height: number,
    readonly tiled: boolean,
    /** Tile size, or for strips the image width × RowsPerStrip. */
    readonly chunkWidth: number,
    readonly chunkHeight: number,
    readonly compression: number,
    readonly photometric: number,
    readonly samplesPerPixel: number,
    readonly bitsPerSample: number,
    readonly planar: number,
    readonly predictor: number,
  ) {}

  static async from(ifd: Ifd): Promise<TiffImage> {
    const width = (await ifd.number(Tag.ImageWidth)) ?? 0
    const height = (await ifd.number(Tag.ImageLength)) ?? 0
    if (!(width > 0 && height > 0 && width <= MAX_DIMENSION && height <= MAX_DIMENSION))
      throw WsiErrors.malformed(`image dimensions ${width}×${height} are absurd`, { ifd: ifd.offset })
    const tiled = ifd.has(Tag.TileWidth) && ifd.has(Tag.TileOffsets)
    const chunkWidth = tiled ? ((await ifd.number(Tag.TileWidth)) ?? 0) : width
    const chunkHeight = tiled ? ((await ifd.number(Tag.TileLength)) ?? 0) : Math.min(height, (await ifd.number(Tag.RowsPerStrip)) ?? height)
    if (!(chunkWidth > 0 && chunkHeight > 0) || chunkWidth * chunkHeight > MAX_CHUNK_PIXELS)
      throw WsiErrors.malformed(`tile or strip size ${chunkWidth}×${chunkHeight} is absurd`, { ifd: ifd.offset })
    const spp = (await ifd.number(Tag.SamplesPerPixel)) ?? 1
    const bps = (await ifd.number(Tag.BitsPerSample)) ?? 1
    const img = new TiffImage(
      ifd,
      width,
      height,
      tiled,
      chunkWidth,
      chunkHeight,
      (await ifd.number(Tag.Compression)) ?? Compression.None,
      (await ifd.number(Tag.Photometric)) ?? (spp >= 3 ? Photometric.RGB : Photometric.MinIsBlack),
      spp,
      bps,
      (await ifd.number(Tag.PlanarConfiguration)) ?? 1,
      (await ifd.number(Tag.Predictor)) ?? 1,
    )
    const need = img.across * img.down
    const offTag = tiled ? Tag.TileOffsets : Tag.StripOffsets
    const countTag = tiled ? Tag.TileByteCounts : Tag.StripByteCounts
    const oe = ifd.entries.get(offTag)
    const ce = ifd.entries.get(countTag)
    if (!oe || !ce) throw WsiErrors.malformed(`an image has no ${tiled ? 'TileOffsets/TileByteCounts' : 'StripOffsets/StripByteCounts'}`)
    const perPlane = img.planar === 2 ? img.samplesPerPixel : 1
    if (oe.count < need * perPlane || ce.count < need * perPlane)
      throw WsiErrors.malformed(`${oe.count} chunk offsets for a grid of ${need * perPlane} chunks`, { ifd: ifd.offset })
    return img
  }

  get across(): number {
    return Math.ceil(this.width / this.chunkWidth)
  }
  get down(): number {
    return Math.ceil(this.height / this.chunkHeight)
  }
  get encoding(): TileEncoding | null {
    switch (this.compression) {
      case Compression.JPEG: return 'jpeg'
      case Compression.AdobeDeflate:
      case Compression.Deflate: return 'deflate'
      case Compression.LZW: return 'lzw'
      case Compression.None: return 'raw'
      default: return null
    }
  }

  /** Stored bytes of chunk (col,row), or null when it has zero length (a tile the scanner skipped). */
  async storedChunk(col: number, row: number): Promise<Uint8Array | null> {
    if (!(col >= 0 && row >= 0 && col < this.across && row < this.down && Number.isInteger(col) && Number.isInteger(row)))
      throw WsiErrors.outOfRange(`Tile ${col},${row} is outside the ${this.across}×${this.down} grid`)
    const i = row * this.across + col
    // Both arrays at once: over S3 that is one round trip, not two, for a level's first tile.
    const [offs, counts] = (await Promise.all([
      this.ifd.numbers(this.tiled ? Tag.TileOffsets : Tag.StripOffsets),
      this.ifd.numbers(this.tiled ? Tag.TileByteCounts : Tag.StripByteCounts),
    ])) as [ArrayLike<number>, ArrayLike<number>]
    if (counts[i] === 0) return null
    return this.ifd.file.readExact(offs[i], counts[i])
  }

  /** Rows actually held by chunk row `row` (strips at the bottom are short; tiles never are). */
  chunkRows(row: number): number {
    return this.tiled ? this.chunkHeight : Math.min(this.chunkHeight, this.height - row * this.chunkHeight)
  }

  private checkDecodable(): TileEncoding {
    const enc = this.encoding
    if (!enc) throw WsiErrors.unsupportedCompression(compressionName(this.compression), this.compression)
    if (enc !== 'jpeg') {
      if (this.bitsPerSample !== 8) throw WsiErrors.unsupportedLayout(`${this.bitsPerSample} bits per sample (8 is supported)`)
      if (this.planar !== 1 && this.samplesPerPixel > 1) throw WsiErrors.unsupportedLayout('separate colour planes (PlanarConfiguration 2)')
      if (this.photometric === Photometric.YCbCr || this.photometric === Photometric.Palette)
        throw WsiErrors.unsupportedLayout(`photometric interpretation ${this.photometric} without JPEG`)
      if (this.predictor !== 1 && this.predictor !== 2) throw WsiErrors.unsupportedLayout(`predictor ${this.predictor}`)
    }
    return enc
  }

  /** The stored chunk as a file: JPEG with its tables spliced in, otherwise the stored bytes as they are. */
  async encodedChunk(col: number, row: number): Promise<EncodedTile | null> {
    const enc = this.checkDecodable()
    const stored = await this.storedChunk(col, row)
    if (!stored) return null
    const height = this.chunkRows(row)
    if (enc !== 'jpeg') return { bytes: stored, mediaType: 'application/octet-stream', encoding: enc, width: this.chunkWidth, height }
    if (!isJpeg(stored)) throw WsiErrors.malformed(`JPEG tile ${col},${row} does not start with a JPEG marker`)
    const tables = await this.ifd.bytes(Tag.JPEGTables)
    const bytes = spliceJpeg(stored, tables, this.photometric === Photometric.RGB)
    return { bytes, mediaType: 'image/jpeg', encoding: 'jpeg', width: this.chunkWidth, height }
  }

  /** Chunk (col,row) decoded to RGBA at its stored size; a missing chunk is transparent. */
  async decodeChunk(col: number, row: number): Promise<RgbaPixels> {
    const w = this.chunkWidth
    const h = this.chunkRows(row)
    const tile = await this.encodedChunk(col, row)
    if (!tile) return { data: new Uint8Array(w * h * 4), width: w, height: h }
    if (tile.encoding === 'jpeg') {
      const { data, info } = await sharp(tile.bytes).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true })
      // A strip's JPEG may declare more rows than the strip holds; fewer, or another width, is corrupt.
      if (info.width !== w || info.height < h || info.channels !== 4)
        throw WsiErrors.malformed(`JPEG tile ${col},${row} decodes to ${info.width}×${info.height}×${info.channels}, expected ${w}×${h}×4`)
      return { data: new Uint8Array(data.buffer, data.byteOffset, w * h * 4), width: w, height: h }
    }
    const spp = this.samplesPerPixel
    const size = w * h * spp
    let samples: Uint8Array
    if (tile.encoding === 'deflate') samples = new Uint8Array(await inflateAsync(tile.bytes))
    else if (tile.encoding === 'lzw') samples = decodeLzw(tile.bytes, size)
    else samples = tile.bytes
    if (samples.length < size) throw WsiErrors.malformed(`tile ${col},${row} holds ${samples.length} bytes, expected ${size}`)
    if (this.predictor === 2) undoHorizontalDifferencing(samples, w, h, spp)
    return { data: toRgba(samples, w * h, spp, this.photometric), width: w, height: h }
  }
}

/** TIFF predictor 2 for 8-bit samples: each sample was stored as the difference from its left neighbour. */
function undoHorizontalDifferencing(s: Uint8Array, w: number, h: number, spp: number): void {
  const row = w * spp
  for (let y = 0; y < h; y++) {
    const base = y * row
    for (let i = spp; i < row; i++) s[base + i] = (s[base + i] + s[base + i - spp]) & 0xff
  }
}

function toRgba(s: Uint8Array, n: number, spp: number, photometric: number): Uint8Array {
  const out = new Uint8Array(n * 4)
  if (spp >= 3) {
    for (let i = 0, j = 0; i < n; i++, j += spp) {
      out[i * 4] = s[j]
      out[i * 4 + 1] = s[j + 1]
      out[i * 4 + 2] = s[j + 2]
      out[i * 4 + 3] = spp >= 4 ? s[j + 3] : 255
    }
  } else {
    const invert = photometric === Photometric.MinIsWhite
    for (let i = 0; i < n; i++) {
      const v = invert ? 255 - s[i * spp] : s[i * spp]
      out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = v
      out[i * 4 + 3] = spp === 2 ? s[i * spp + 1] : 255
    }
  }
  return out
}
