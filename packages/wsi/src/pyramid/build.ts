/**
 * @module Building the pyramid levels a slide lacks. A scanner (or a conversion) may write a slide as one huge
 * level: then every zoomed-out view would decode the whole slide. This writes the missing levels once, as a
 * tiled pyramidal TIFF starting at half the original's size (the original keeps serving full resolution, so its
 * tiles still pass through and nothing is stored twice).
 *
 * libvips does the work (through sharp): it streams the input tile by tile, shrinks in one pass and writes every
 * level at once, in bounded memory. That is the same engine `vips dzsave` uses, writing one file instead of
 * hundreds of thousands. libvips reads the TIFF-based formats (generic TIFF, Aperio SVS); an NDPI slide always
 * carries its own levels, and a DICOM WSI's smallest level is first copied to a TIFF (level-tiff.ts).
 */
import sharp from 'sharp'
import { KuraError } from '@kura/core'
import type { Level, SlideFormatName } from '../reader.ts'

/** A slide needs derived levels when its smallest level is longer than this on its long side (smaller ones render whole fast enough). */
export const PYRAMID_TOP_MAX_SIDE = 4096

export function needsPyramid(levels: readonly Level[]): boolean {
  const last = levels[levels.length - 1]
  return last !== undefined && Math.max(last.width, last.height) > PYRAMID_TOP_MAX_SIDE
}

const LIBVIPS_READS: ReadonlySet<SlideFormatName> = new Set(['generic-tiff', 'aperio-svs'])

export interface PyramidOptions {
  /** Tile edge of the derived levels (default 256). */
  tileSize?: number
  /** JPEG quality (default 90, as the synthetic slides and most scanners). */
  quality?: number
}

export interface PyramidResult {
  width: number
  height: number
  ms: number
}

/**
 * Writes `output`: a tiled, pyramidal JPEG TIFF of `input` (level 0 of a slide of `format`) at half its size.
 * Throws a KuraError with `details.retryable = false` for input libvips cannot read, so a job fails once.
 */
export async function buildPyramidTiff(input: string, output: string, format: SlideFormatName, width: number, height: number, opts: PyramidOptions = {}): Promise<PyramidResult> {
  if (!LIBVIPS_READS.has(format))
    throw new KuraError('PYRAMID_UNSUPPORTED', `Building pyramid levels for ${format} slides is not supported: convert the slide to a pyramidal TIFF (vips tiffsave --tile --pyramid) before storing it.`, { status: 422, details: { retryable: false } })
  const t0 = performance.now()
  const half = { width: Math.max(1, Math.ceil(width / 2)), height: Math.max(1, Math.ceil(height / 2)) }
  const tile = opts.tileSize ?? 256
  // page 0 is the full-resolution image in both formats; sequential access keeps memory to a few tile rows.
  await sharp(input, { limitInputPixels: false, sequentialRead: true, page: 0 })
    .resize({ ...half, fit: 'fill', kernel: 'linear' })
    .tiff({ tile: true, tileWidth: tile, tileHeight: tile, pyramid: true, compression: 'jpeg', quality: opts.quality ?? 90 })
    .toFile(output)
  return { ...half, ms: performance.now() - t0 }
}
