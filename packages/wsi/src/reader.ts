/**
 * @module The one small interface every slide format implements (OpenSlide's model: levels,
 * properties, associated images, tiles) plus the descriptor a format registers with `openSlide`.
 */
import type { ByteSource } from '@kura/core'
import type { EncodedTile, RgbaPixels } from './tiff/image.ts'
import type { TiffFile } from './tiff/parser.ts'

export type { EncodedTile, RgbaPixels, TileEncoding } from './tiff/image.ts'

export interface Level {
  readonly width: number
  readonly height: number
  readonly tileWidth: number
  readonly tileHeight: number
  /** Level-0 pixels per pixel of this level, OpenSlide's formula (mean of the two axis ratios). */
  readonly downsample: number
}

export interface AssociatedImage {
  readonly width: number
  readonly height: number
  /** The image as a file: JPEG passed through when stored as one JPEG, otherwise decoded and written as PNG. */
  read(): Promise<{ bytes: Uint8Array; mediaType: 'image/jpeg' | 'image/png' }>
}

export type AssociatedName = 'label' | 'macro' | 'thumbnail'

export interface Slide {
  /** Which reader opened it. */
  readonly format: SlideFormatName
  /** [0] is full resolution; each later level is smaller. */
  readonly levels: readonly Level[]
  /** Microns per pixel at level 0, when the file says. */
  readonly mpp?: { readonly x: number; readonly y: number }
  readonly objectivePower?: number
  /** OpenSlide's property names (`openslide.mpp-x`, `aperio.AppMag`, `tiff.ImageDescription`, ...), so results compare. */
  readonly properties: Readonly<Record<string, string>>
  readonly associated: ReadonlyMap<AssociatedName, AssociatedImage>
  /** The stored tile, not decoded: JPEG as a standalone file (tables spliced in); deflate/LZW/raw as stored samples. */
  tile(level: number, col: number, row: number): Promise<EncodedTile>
  /** The stored tile decoded to RGBA at its stored size (edge tiles include the padding the file stores). */
  tilePixels(level: number, col: number, row: number): Promise<RgbaPixels>
  /**
   * RGBA pixels of a region, as OpenSlide's read_region: (x, y) is the top-left in level-0
   * coordinates, (width, height) is the size at `level`. Outside the image is transparent black.
   */
  readRegion(level: number, x: number, y: number, width: number, height: number): Promise<RgbaPixels>
  close(): Promise<void>
}

export type SlideFormatName = 'aperio-svs' | 'generic-tiff' | 'hamamatsu-ndpi' | 'dicom-wsi'

/** A format's descriptor (OpenSlide's `struct _openslide_format`): detect cheaply, then open. */
export interface SlideFormat {
  readonly name: SlideFormatName
  /** `tiff` is the already-parsed directory when the file is a TIFF, null otherwise. */
  detect(src: ByteSource, tiff: TiffFile | null): Promise<{ ok: true } | { ok: false; reason: string }>
  open(src: ByteSource, tiff: TiffFile | null): Promise<Slide>
}

/** OpenSlide's standard properties for a slide's levels, MPP and objective power (the names viewers and tools expect). */
export function standardProperties(levels: readonly Level[], mpp?: { x: number; y: number }, objectivePower?: number): Record<string, string> {
  const props: Record<string, string> = { 'openslide.level-count': String(levels.length) }
  levels.forEach((l, i) => {
    props[`openslide.level[${i}].width`] = String(l.width)
    props[`openslide.level[${i}].height`] = String(l.height)
    props[`openslide.level[${i}].tile-width`] = String(l.tileWidth)
    props[`openslide.level[${i}].tile-height`] = String(l.tileHeight)
    props[`openslide.level[${i}].downsample`] = String(l.downsample)
  })
  if (mpp) {
    props['openslide.mpp-x'] = String(mpp.x)
    props['openslide.mpp-y'] = String(mpp.y)
  }
  if (objectivePower !== undefined) props['openslide.objective-power'] = String(objectivePower)
  return props
}
