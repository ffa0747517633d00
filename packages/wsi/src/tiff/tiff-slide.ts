/**
 * @module A slide whose levels are tiled TIFF images: the pixel half shared by SVS and generic
 * TIFF (OpenSlide's openslide-decode-tiff + openslide-grid). Formats supply only the levels,
 * properties and associated images they find.
 */
import sharp from 'sharp'
import { WsiErrors } from '../errors.ts'
import { standardProperties, type AssociatedImage, type AssociatedName, type Level, type Slide, type SlideFormatName } from '../reader.ts'
import type { EncodedTile, RgbaPixels, TiffImage } from './image.ts'
import { Compression } from './tags.ts'
import { composeRegion } from '../region.ts'

/** Largest region readRegion composes in one call (256 MB of RGBA). */

export interface TiffSlideParts {
  format: SlideFormatName
  images: readonly TiffImage[]
  properties: Record<string, string>
  associated: ReadonlyMap<AssociatedName, AssociatedImage>
  mpp?: { x: number; y: number }
  objectivePower?: number
  close(): Promise<void>
}

export class TiffSlide implements Slide {
  readonly format: SlideFormatName
  readonly levels: readonly Level[]
  readonly mpp?: { x: number; y: number }
  readonly objectivePower?: number
  readonly properties: Readonly<Record<string, string>>
  readonly associated: ReadonlyMap<AssociatedName, AssociatedImage>
  private readonly images: readonly TiffImage[]
  private readonly closer: () => Promise<void>

  constructor(p: TiffSlideParts) {
    if (p.images.length === 0) throw WsiErrors.malformed('the slide has no tiled pyramid level')
    this.format = p.format
    this.images = p.images
    const w0 = p.images[0].width
    const h0 = p.images[0].height
    this.levels = p.images.map((im) => ({
      width: im.width,
      height: im.height,
      tileWidth: im.chunkWidth,
      tileHeight: im.chunkHeight,
      downsample: (w0 / im.width + h0 / im.height) / 2,
    }))
    for (let i = 1; i < this.levels.length; i++)
      if (!(this.levels[i].downsample > this.levels[i - 1].downsample))
        throw WsiErrors.malformed(`pyramid level ${i} is not smaller than level ${i - 1}`)
    this.mpp = p.mpp
    this.objectivePower = p.objectivePower
    this.associated = p.associated
    this.closer = p.close
    const props: Record<string, string> = { ...p.properties, 'openslide.vendor': vendorOf(p.format), ...standardProperties(this.levels, p.mpp, p.objectivePower) }
    this.properties = props
  }

  private image(level: number): TiffImage {
    const im = this.images[level]
    if (!im) throw WsiErrors.outOfRange(`Level ${level} does not exist (the slide has ${this.images.length})`)
    return im
  }

  async tile(level: number, col: number, row: number): Promise<EncodedTile> {
    const t = await this.image(level).encodedChunk(col, row)
    if (!t) throw WsiErrors.missingTile(level, col, row)
    return t
  }

  tilePixels(level: number, col: number, row: number): Promise<RgbaPixels> {
    return this.image(level).decodeChunk(col, row)
  }

  readRegion(level: number, x: number, y: number, width: number, height: number): Promise<RgbaPixels> {
    const ds = this.levels[level]?.downsample
    if (ds === undefined) throw WsiErrors.outOfRange(`Level ${level} does not exist (the slide has ${this.images.length})`)
    return composeImageRegion(this.image(level), Math.floor(x / ds), Math.floor(y / ds), width, height)
  }

  close(): Promise<void> {
    return this.closer()
  }
}

/** RGBA of the rectangle (x, y, w, h) in the image's own pixels, decoding only the chunks it touches. */
export function composeImageRegion(im: TiffImage, x: number, y: number, w: number, h: number): Promise<RgbaPixels> {
  return composeRegion({ width: im.width, height: im.height, tileWidth: im.chunkWidth, tileHeight: im.chunkHeight, pixels: (col, row) => im.decodeChunk(col, row) }, x, y, w, h)
}

/** An associated image stored as one TIFF image: a single JPEG chunk passes through, anything else becomes PNG. */
export function associatedFromImage(im: TiffImage): AssociatedImage {
  return {
    width: im.width,
    height: im.height,
    async read() {
      if (im.compression === Compression.JPEG && im.across === 1 && im.down === 1 && im.chunkHeight === im.height) {
        const t = await im.encodedChunk(0, 0)
        if (t) return { bytes: t.bytes, mediaType: 'image/jpeg' as const }
      }
      const px = await composeImageRegion(im, 0, 0, im.width, im.height)
      const png = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 4 } }).png().toBuffer()
      return { bytes: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), mediaType: 'image/png' as const }
    },
  }
}

function vendorOf(f: SlideFormatName): string {
  return f === 'aperio-svs' ? 'aperio' : f === 'hamamatsu-ndpi' ? 'hamamatsu' : f === 'dicom-wsi' ? 'dicom' : 'generic-tiff'
}
