/**
 * @module Region composition, shared by every reader: decode only the tiles a rectangle touches
 * and copy their overlap into one RGBA buffer. Pixels outside the image, and tiles a reader
 * reports missing (null), stay transparent, as OpenSlide paints them.
 */
import { WsiErrors } from './errors.ts'
import type { RgbaPixels } from './reader.ts'

/** The largest region one call decodes (64 Mpx = 256 MiB of RGBA). */
export const MAX_REGION_PIXELS = 64 * 1024 * 1024

export interface TileGrid {
  width: number
  height: number
  tileWidth: number
  tileHeight: number
  /** The tile's RGBA pixels (edge tiles may be smaller), or null when it is missing. */
  pixels(col: number, row: number): Promise<RgbaPixels | null>
}

/** RGBA of the rectangle (x, y, w, h) in the grid's own pixels. */
export async function composeRegion(grid: TileGrid, x: number, y: number, w: number, h: number): Promise<RgbaPixels> {
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0) || w * h > MAX_REGION_PIXELS)
    throw WsiErrors.outOfRange(`A region of ${w}×${h} pixels is empty or larger than ${MAX_REGION_PIXELS} pixels`)
  const out = new Uint8Array(w * h * 4)
  const x0 = Math.max(0, x)
  const y0 = Math.max(0, y)
  const x1 = Math.min(grid.width, x + w)
  const y1 = Math.min(grid.height, y + h)
  if (x0 >= x1 || y0 >= y1) return { data: out, width: w, height: h }
  const tw = grid.tileWidth
  const th = grid.tileHeight
  const jobs: Promise<void>[] = []
  for (let row = Math.floor(y0 / th); row * th < y1; row++) {
    for (let col = Math.floor(x0 / tw); col * tw < x1; col++) {
      jobs.push(
        grid.pixels(col, row).then((t) => {
          if (!t) return
          // Copy the part of this tile inside both the image and the region.
          const sx0 = Math.max(x0, col * tw)
          const sx1 = Math.min(x1, col * tw + t.width)
          const sy1 = Math.min(y1, row * th + t.height)
          const n = (sx1 - sx0) * 4
          if (n <= 0) return
          for (let yy = Math.max(y0, row * th); yy < sy1; yy++) {
            const src = ((yy - row * th) * t.width + (sx0 - col * tw)) * 4
            out.set(t.data.subarray(src, src + n), ((yy - y) * w + (sx0 - x)) * 4)
          }
        }),
      )
    }
  }
  await Promise.all(jobs)
  return { data: out, width: w, height: h }
}
