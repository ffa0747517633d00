/**
 * @module Where a tile or region comes from: the stored tile (pass-through) when the request is
 * exactly one stored tile at a stored scale, otherwise a region of the best stored level to
 * decode and resize. Pure arithmetic, shared by Deep Zoom and IIIF.
 */
import type { Level } from '@kura/wsi'

/** Read `w`×`h` pixels of `level` whose top-left is (x, y) in level-0 pixels, then scale to out. */
export interface RegionRead {
  level: number
  x: number
  y: number
  w: number
  h: number
  outW: number
  outH: number
}

export type TileSource = { kind: 'stored'; level: number; col: number; row: number } | { kind: 'render'; read: RegionRead }

/**
 * OpenSlide's get_best_level_for_downsample: the last level whose downsample is not above the
 * wanted one (so we only ever scale down, never up).
 */
export function bestLevel(levels: readonly Level[], downsample: number): number {
  let best = 0
  for (let i = 1; i < levels.length; i++) if (levels[i]!.downsample <= downsample) best = i
  return best
}

/** The stored level whose downsample is this power-of-two scale factor (within 1 %, as scanners floor level sizes). */
export function levelAtScale(levels: readonly Level[], scale: number): number {
  return levels.findIndex((l) => Math.abs(l.downsample - scale) / scale < 0.01)
}

/** A stored tile that covers exactly the level-pixel square (col·tw, row·th, tw, th), if there is one. */
function storedTile(levels: readonly Level[], scale: number, px: number, py: number, w: number, h: number): TileSource | null {
  const i = levelAtScale(levels, scale)
  if (i < 0) return null
  const l = levels[i]!
  if (w !== l.tileWidth || h !== l.tileHeight || px % l.tileWidth !== 0 || py % l.tileHeight !== 0) return null
  const col = px / l.tileWidth
  const row = py / l.tileHeight
  // Stored edge tiles carry padding past the image: those are cropped, so rendered.
  if ((col + 1) * l.tileWidth > l.width || (row + 1) * l.tileHeight > l.height) return null
  return { kind: 'stored', level: i, col, row }
}

export interface DziLayout {
  width: number
  height: number
  tileSize: number
  overlap: 0
  /** The full-resolution level: ceil(log2(max(width, height))). */
  maxLevel: number
}

/**
 * The Deep Zoom layout. The tile size is the stored one when level 0 has square tiles, with no
 * overlap, so that full-resolution (and every power-of-two stored level's) inner tiles pass
 * through untouched; 256 otherwise.
 */
export function dziLayout(levels: readonly Level[]): DziLayout {
  const l0 = levels[0]!
  const square = l0.tileWidth === l0.tileHeight && l0.tileWidth >= 64 && l0.tileWidth <= 4096
  const maxLevel = Math.ceil(Math.log2(Math.max(l0.width, l0.height, 1)))
  return { width: l0.width, height: l0.height, tileSize: square ? l0.tileWidth : 256, overlap: 0, maxLevel }
}

export function dziLevelSize(d: DziLayout, level: number): { width: number; height: number } {
  const scale = 2 ** (d.maxLevel - level)
  return { width: Math.ceil(d.width / scale), height: Math.ceil(d.height / scale) }
}

/**
 * The source of Deep Zoom tile (col, row) of `level`, or null when it is outside the slide.
 * Rendering follows OpenSlide's DeepZoomGenerator (limit_bounds off) step for step, so rendered
 * tiles match what OpenSlide users see.
 */
export function dziTile(levels: readonly Level[], d: DziLayout, level: number, col: number, row: number): TileSource | null {
  if (level < 0 || level > d.maxLevel) return null
  const { width, height } = dziLevelSize(d, level)
  const T = d.tileSize
  if (col < 0 || row < 0 || col * T >= width || row * T >= height) return null
  const zx = col * T
  const zy = row * T
  const zw = Math.min(T, width - zx)
  const zh = Math.min(T, height - zy)
  const scale = 2 ** (d.maxLevel - level)
  if (zw === T && zh === T) {
    const stored = storedTile(levels, scale, zx, zy, zw, zh)
    if (stored) return stored
  }
  const li = bestLevel(levels, scale)
  const l = levels[li]!
  const lz = scale / l.downsample
  const lx = lz * zx
  const ly = lz * zy
  return {
    kind: 'render',
    read: {
      level: li,
      x: Math.trunc(l.downsample * lx),
      y: Math.trunc(l.downsample * ly),
      w: Math.trunc(Math.min(Math.ceil(lz * zw), l.width - Math.ceil(lx))),
      h: Math.trunc(Math.min(Math.ceil(lz * zh), l.height - Math.ceil(ly))),
      outW: zw,
      outH: zh,
    },
  }
}

/** The source of a region (level-0 pixels) scaled to outW×outH. */
export function regionSource(levels: readonly Level[], x: number, y: number, w: number, h: number, outW: number, outH: number): TileSource {
  const wanted = Math.min(w / outW, h / outH)
  // A power-of-two scale that lands exactly on a stored tile: what tiled IIIF clients ask for.
  const scale = 2 ** Math.round(Math.log2(wanted))
  if (Math.abs(scale - w / outW) < 1e-9 && Math.abs(scale - h / outH) < 1e-9 && x % scale === 0 && y % scale === 0) {
    const stored = storedTile(levels, scale, x / scale, y / scale, outW, outH)
    if (stored) return stored
  }
  const li = bestLevel(levels, wanted)
  const l = levels[li]!
  const lx = Math.floor(x / l.downsample)
  const ly = Math.floor(y / l.downsample)
  return {
    kind: 'render',
    read: {
      level: li,
      x,
      y,
      w: Math.max(1, Math.min(Math.ceil(w / l.downsample), l.width - lx)),
      h: Math.max(1, Math.min(Math.ceil(h / l.downsample), l.height - ly)),
      outW,
      outH,
    },
  }
}
