/**
 * @module Numbers for whole-slide images: the scale bar's length and label, the magnification a
 * zoom level stands for, and file sizes. Pure functions, so the test can check them without a browser.
 */

/** Micrometres per pixel at 10× on the common scanners (0.25 µm/px at 40×): objective ≈ 10 / mpp. */
const UM_AT_1X = 10

export interface ScaleBar {
  /** Bar length in screen pixels. */
  px: number
  /** The length it stands for: "500 µm", "2 mm". */
  label: string
}

/**
 * The longest round length (1, 2 or 5 × 10ⁿ µm) whose bar fits in `maxPx` screen pixels, when one
 * screen pixel covers `umPerPx` micrometres of tissue.
 */
export function scaleBar(umPerPx: number, maxPx = 160): ScaleBar | null {
  if (!(umPerPx > 0) || !Number.isFinite(umPerPx)) return null
  const maxUm = umPerPx * maxPx
  const pow = 10 ** Math.floor(Math.log10(maxUm))
  const um = [5, 2, 1].map((m) => m * pow).find((v) => v <= maxUm) ?? pow
  return { px: um / umPerPx, label: formatLength(um) }
}

export function formatLength(um: number): string {
  if (um >= 1000) return `${trim(um / 1000)} mm`
  if (um >= 1) return `${trim(um)} µm`
  return `${trim(um * 1000)} nm`
}

const trim = (n: number) => String(Number(n.toPrecision(3)))

/** The objective the slide was scanned with: the file's own value, else derived from its MPP. */
export function scanObjective(objectivePower: number | null, mpp: { x: number; y: number } | null): number | null {
  if (objectivePower && objectivePower > 0) return objectivePower
  if (mpp && mpp.x > 0) return Math.round(UM_AT_1X / mpp.x)
  return null
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}
