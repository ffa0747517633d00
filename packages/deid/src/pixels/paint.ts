/**
 * @module Paints policy mask rectangles over decoded pixels: native frames (any number, 8 or 16 bit, 1 or 3 samples,
 * either Planar Configuration) and the 8-bit byte planes of an RLE frame (PS3.5 G.2), clipped to the image.
 */
import type { PixelMask, Rect } from '../policy/schema.ts'
import { PixelErrors } from './errors.ts'

/** [x0, y0, x1, y1) of a mask rectangle clipped to the image, or undefined when nothing of it is inside. */
function clip([x, y, w, h]: Rect, columns: number, rows: number): [number, number, number, number] | undefined {
  const x0 = Math.max(0, Math.floor(x))
  const y0 = Math.max(0, Math.floor(y))
  const x1 = Math.min(columns, Math.floor(x + w))
  const y1 = Math.min(rows, Math.floor(y + h))
  return x1 > x0 && y1 > y0 ? [x0, y0, x1, y1] : undefined
}

export interface NativeLayout {
  rows: number
  columns: number
  samples: number
  bitsAllocated: number
  planar: number
  frames: number
  photometric: string
}

/** Zeroes every mask rectangle (clipped to the image) in every frame of native pixel data, in place. */
export function maskNative(bytes: Uint8Array, l: NativeLayout, mask: PixelMask): void {
  const { rows, columns, samples, bitsAllocated, frames } = l
  if (!(rows > 0 && columns > 0)) throw PixelErrors.unsupportedLayout('Rows and Columns are missing')
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw PixelErrors.unsupportedLayout(`Bits Allocated ${bitsAllocated}; only 8 and 16 are handled`)
  if (samples !== 1 && samples !== 3) throw PixelErrors.unsupportedLayout(`Samples per Pixel ${samples}; only 1 and 3 are handled`)
  if (l.photometric.endsWith('_422') || l.photometric.endsWith('_420')) throw PixelErrors.unsupportedLayout(`Photometric Interpretation ${l.photometric} (subsampled)`)
  const bps = bitsAllocated / 8
  const planar = samples === 3 && l.planar === 1
  const pixelBytes = rows * columns * samples * bps
  if (frames * pixelBytes > bytes.length) {
    throw PixelErrors.unsupportedLayout(`Pixel Data holds ${bytes.length} bytes, fewer than ${frames} frames of ${rows}×${columns}×${samples}×${bitsAllocated} bits`)
  }
  for (const rect of mask.rects) {
    const c = clip(rect, columns, rows)
    if (!c) continue
    const [x0, y0, x1, y1] = c
    for (let f = 0; f < frames; f++) {
      const base = f * pixelBytes
      if (planar) {
        const plane = rows * columns * bps
        for (let s = 0; s < 3; s++) {
          for (let r = y0; r < y1; r++) {
            const o = base + s * plane + (r * columns + x0) * bps
            bytes.fill(0, o, o + (x1 - x0) * bps)
          }
        }
      } else {
        const stride = samples * bps
        for (let r = y0; r < y1; r++) {
          const o = base + (r * columns + x0) * stride
          bytes.fill(0, o, o + (x1 - x0) * stride)
        }
      }
    }
  }
}

/**
 * Fills every mask rectangle in byte planes of Rows × Columns bytes each (an RLE frame's segments), in place.
 * `fill[i]` is plane i's value (0 unless given), so a YBR image can be painted black (Y 0, Cb and Cr 128).
 */
export function maskPlanes(planes: readonly Uint8Array[], rows: number, columns: number, mask: PixelMask, fill: readonly number[] = []): void {
  for (const rect of mask.rects) {
    const c = clip(rect, columns, rows)
    if (!c) continue
    const [x0, y0, x1, y1] = c
    planes.forEach((plane, i) => {
      for (let r = y0; r < y1; r++) plane.fill(fill[i] ?? 0, r * columns + x0, r * columns + x1)
    })
  }
}
