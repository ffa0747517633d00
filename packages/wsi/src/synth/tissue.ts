/**
 * @module Deterministic "tissue-like" pixels for synthetic slides: pale background, pink/purple
 * tissue islands from low-frequency value noise, darker nuclei-like speckle. Any rectangle of
 * any level is generated on its own (level pixels sample level-0 coordinates), so writers
 * stream tile by tile and never hold a whole level.
 */

/** 32-bit integer hash of a lattice point and the seed, in [0, 1). */
function hash(x: number, y: number, seed: number): number {
  let h = (x * 374761393 + y * 668265263 + seed * 2147483647) | 0
  h = Math.imul(h ^ (h >>> 13), 1274126177)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296
}

/** Bilinear value noise at lattice spacing `cell`. */
function noise(x: number, y: number, cell: number, seed: number): number {
  const gx = x / cell
  const gy = y / cell
  const x0 = Math.floor(gx)
  const y0 = Math.floor(gy)
  const fx = gx - x0
  const fy = gy - y0
  const a = hash(x0, y0, seed)
  const b = hash(x0 + 1, y0, seed)
  const c = hash(x0, y0 + 1, seed)
  const d = hash(x0 + 1, y0 + 1, seed)
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy
}

/**
 * Fills `out` (w × h × 3 RGB) with the rectangle whose top-left is (x, y) in pixels of a level
 * `downsample` times smaller than level 0.
 */
export function tissueRgb(out: Uint8Array, x: number, y: number, w: number, h: number, downsample: number, seed: number): void {
  let p = 0
  // The island field varies over hundreds of pixels: sample it every STEP pixels and interpolate.
  const STEP = 16
  const nIsl = Math.ceil(w / STEP) + 1
  const isl = new Float64Array(nIsl)
  for (let j = 0; j < h; j++) {
    const Y = (y + j) * downsample
    for (let k = 0; k < nIsl; k++) {
      const X = (x + k * STEP) * downsample
      isl[k] = noise(X, Y, 2048, seed) * 0.7 + noise(X, Y, 512, seed + 1) * 0.3
    }
    for (let i = 0; i < w; i++) {
      const X = (x + i) * downsample
      const k = (i / STEP) | 0
      const f = (i - k * STEP) / STEP
      const island = isl[k] + (isl[k + 1] - isl[k]) * f
      const t = Math.min(1, Math.max(0, (island - 0.45) * 6))
      if (t === 0) {
        // Glass: skip the finer noise (most of a slide, and most of the writer's time).
        out[p++] = 242
        out[p++] = 240
        out[p++] = 244
        continue
      }
      const texture = noise(X, Y, 48, seed + 2)
      const nucleus = noise(X, Y, 9, seed + 3) > 0.78 ? 1 : 0
      const r = 242 - t * (40 + 30 * texture + 90 * nucleus)
      const g = 240 - t * (110 + 40 * texture + 70 * nucleus)
      const b = 244 - t * (50 + 20 * texture + 20 * nucleus)
      out[p++] = r
      out[p++] = g
      out[p++] = b
    }
  }
}
