/**
 * @module A slide whose missing pyramid levels come from a second file: the scanner's own levels first (their
 * tiles still pass through untouched), then the derived file's smaller levels. Viewers and tile APIs see one
 * slide with a full pyramid; nothing of the original is rewritten.
 *
 * The derived file covers the same area at a smaller size (its level 0 is the original at ~1/2), so its level-0
 * coordinates are the original's divided by `scale`.
 */
import { standardProperties, type Level, type Slide } from '../reader.ts'

/** Derived levels closer than this factor to the scanner's smallest level add nothing and are left out. */
const MIN_STEP = 1.5

/** How the levels of a base slide and its derived file combine: the levels, and which derived level each appended one is. */
export interface CombinedLevels {
  levels: Level[]
  /** `from[i]` is the derived level behind combined level `base.length + i`. */
  from: number[]
  /** Base level-0 pixels per derived level-0 pixel (about 2). */
  scale: number
}

export function combineLevels(base: readonly Level[], derived: readonly Level[]): CombinedLevels {
  const b0 = base[0]!
  const d0 = derived[0]!
  const scale = (b0.width / d0.width + b0.height / d0.height) / 2
  const smallest = base[base.length - 1]!.downsample
  const from: number[] = []
  const extra: Level[] = []
  derived.forEach((l, i) => {
    const downsample = (b0.width / l.width + b0.height / l.height) / 2
    if (downsample < smallest * MIN_STEP) return
    from.push(i)
    extra.push({ width: l.width, height: l.height, tileWidth: l.tileWidth, tileHeight: l.tileHeight, downsample })
  })
  return { levels: [...base, ...extra], from, scale }
}

export function withDerivedLevels(base: Slide, derived: Slide): Slide {
  const { levels, from, scale } = combineLevels(base.levels, derived.levels)
  const n = base.levels.length
  const pick = (level: number): { slide: Slide; level: number } => (level < n ? { slide: base, level } : { slide: derived, level: from[level - n] ?? -1 })
  return {
    format: base.format,
    levels,
    mpp: base.mpp,
    objectivePower: base.objectivePower,
    properties: { ...base.properties, ...standardProperties(levels, base.mpp, base.objectivePower), 'kura.derived-levels': String(levels.length - n) },
    associated: base.associated,
    tile: (level, col, row) => {
      const p = pick(level)
      return p.slide.tile(p.level, col, row)
    },
    tilePixels: (level, col, row) => {
      const p = pick(level)
      return p.slide.tilePixels(p.level, col, row)
    },
    readRegion: (level, x, y, width, height) => {
      if (level < n) return base.readRegion(level, x, y, width, height)
      return derived.readRegion(from[level - n] ?? -1, Math.floor(x / scale), Math.floor(y / scale), width, height)
    },
    close: async () => {
      await Promise.all([base.close(), derived.close()])
    },
  }
}
