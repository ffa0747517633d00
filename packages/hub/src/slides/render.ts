/**
 * @module Tiles and regions as image files: stored JPEG tiles as they are (no decode), anything
 * else read with the slide reader and resized/encoded by sharp. Transparent areas (outside the
 * slide) are composited on white, as OpenSlide's DeepZoomGenerator does.
 */
import sharp from 'sharp'
import type { Slide } from '@kura/wsi'
import type { RegionRead, TileSource } from './geometry.ts'
import { SlideErrors } from './errors.ts'

export type ImageFormat = 'jpeg' | 'png'

export interface RenderedImage {
  bytes: Uint8Array
  mediaType: 'image/jpeg' | 'image/png'
  /** The stored tile's bytes, untouched. */
  passThrough: boolean
}

/** Source pixels one request may decode (160 MB of RGBA): a slide without small levels cannot be rendered whole. */
export const MAX_SOURCE_PIXELS = 40_000_000

export async function renderSource(slide: Slide, src: TileSource, format: ImageFormat): Promise<RenderedImage> {
  if (src.kind === 'stored' && format === 'jpeg') {
    const tile = await slide.tile(src.level, src.col, src.row)
    if (tile.encoding === 'jpeg') return { bytes: tile.bytes, mediaType: 'image/jpeg', passThrough: true }
  }
  const read: RegionRead =
    src.kind === 'render'
      ? src.read
      : (() => {
          const l = slide.levels[src.level]!
          const w = l.tileWidth
          const h = l.tileHeight
          return { level: src.level, x: Math.round(src.col * w * l.downsample), y: Math.round(src.row * h * l.downsample), w, h, outW: w, outH: h }
        })()
  return { ...(await renderRegion(slide, read, format)), passThrough: false }
}

export async function renderRegion(slide: Slide, r: RegionRead, format: ImageFormat, quality = 90): Promise<Omit<RenderedImage, 'passThrough'>> {
  if (r.w * r.h > MAX_SOURCE_PIXELS) throw SlideErrors.tooLarge(r.w * r.h, MAX_SOURCE_PIXELS)
  const px = await slide.readRegion(r.level, r.x, r.y, r.w, r.h)
  let img = sharp(px.data, { raw: { width: px.width, height: px.height, channels: 4 } }).flatten({ background: '#ffffff' })
  if (px.width !== r.outW || px.height !== r.outH) img = img.resize(r.outW, r.outH, { fit: 'fill', kernel: 'lanczos3' })
  const bytes = format === 'png' ? await img.png().toBuffer() : await img.jpeg({ quality }).toBuffer()
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), mediaType: format === 'png' ? 'image/png' : 'image/jpeg' }
}
