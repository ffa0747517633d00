/** @module What every synthetic slide writer takes, and what it reports. */

export interface SynthSlideSpec {
  width: number
  height: number
  /** Tile edge in pixels (NDPI: restart-interval width); a multiple of 8. Default 256. */
  tile?: number
  /** JPEG quality 1–100. Default 90. */
  quality?: number
  seed?: number
  /** Fake identifiers drawn on the label and macro. */
  labelText?: string
  /** Microns per pixel at level 0. Default 0.5 (a 20× scan). */
  mpp?: number
  /** Encoder threads; default: the machine's cores (up to 16). */
  threads?: number
  /** At most this many pyramid levels (1: a single-level slide, as some converters write); default all. */
  maxLevels?: number
}

export interface SynthSlideResult {
  path: string
  levels: { width: number; height: number }[]
  bytes: number
  ms: number
}

export const SYNTH_DATETIME = '2026:01:15 09:30:00'

/** Level sizes halving until the smaller side would drop under one tile (at least one level). */
export function pyramidSizes(width: number, height: number, tile: number): { width: number; height: number }[] {
  const out = [{ width, height }]
  for (let d = 2; Math.floor(Math.min(width, height) / d) >= tile; d *= 2) out.push({ width: Math.floor(width / d), height: Math.floor(height / d) })
  return out
}

export function checkSpec(s: SynthSlideSpec): Required<SynthSlideSpec> {
  const tile = s.tile ?? 256
  if (!(Number.isInteger(tile) && tile >= 16 && tile % 8 === 0 && tile <= 4096)) throw new Error(`tile ${tile} must be a multiple of 8 between 16 and 4096`)
  if (!(Number.isInteger(s.width) && Number.isInteger(s.height) && s.width >= tile && s.height >= tile && s.width <= 1_000_000 && s.height <= 1_000_000))
    throw new Error(`slide size ${s.width}×${s.height} must be whole pixels between the tile size and 1,000,000`)
  const quality = s.quality ?? 90
  if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100)) throw new Error(`quality ${quality} must be 1–100`)
  const maxLevels = s.maxLevels ?? 0
  if (!(Number.isInteger(maxLevels) && maxLevels >= 0)) throw new Error(`maxLevels ${maxLevels} must be a whole number (0: all levels)`)
  return { maxLevels, threads: s.threads ?? 0, width: s.width, height: s.height, tile, quality, seed: s.seed ?? 1, labelText: s.labelText ?? '山田 太郎 ID 12345678', mpp: s.mpp ?? 0.5 }
}
