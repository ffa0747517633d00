/** @module Human units in the configuration: byte sizes ("2MB", "1 GiB"), rates ("2MB/s") and time windows ("22:00-06:00 full"). */

const UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
}

/** A byte count from a number or a string like "2MB", "512 KiB", "2MB/s". Returns null when it is not one. */
export function parseBytes(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.floor(v) : null
  if (typeof v !== 'string') return null
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*(\/\s*s)?\s*$/i.exec(v)
  if (!m) return null
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!)
}

/** A bandwidth rule for part of the day: minutes since local midnight, `to` exclusive; from > to wraps past midnight. */
export interface TimeWindow {
  from: number
  to: number
  /** Bytes per second; 0 means no cap ("full"). */
  bytesPerSec: number
  /** The text it came from, for status output. */
  text: string
}

function minutes(hhmm: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm)
  if (!m) return null
  const h = Number(m[1])
  const min = Number(m[2])
  return h < 24 && min < 60 ? h * 60 + min : null
}

/** Parses "22:00-06:00 full" or "08:00-18:00 1MB/s". Returns an error message instead when it is not one. */
export function parseWindow(text: string): TimeWindow | string {
  const m = /^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s+(.+?)\s*$/.exec(text)
  if (!m) return `"${text}" is not a window; write "HH:MM-HH:MM full" or "HH:MM-HH:MM 2MB/s"`
  const from = minutes(m[1]!)
  const to = minutes(m[2]!)
  if (from === null || to === null) return `"${text}" has a time that is not HH:MM (00:00 to 23:59)`
  if (from === to) return `"${text}" starts and ends at the same time`
  const rate = m[3]!.toLowerCase() === 'full' ? 0 : parseBytes(m[3])
  if (rate === null) return `"${text}": "${m[3]}" is not "full" or a rate such as 2MB/s`
  return { from, to, bytesPerSec: rate, text: text.trim() }
}

/** The bandwidth cap in force at `now` (local time): the first window that contains it, else the default. 0 = no cap. */
export function rateAt(now: Date, windows: readonly TimeWindow[], dflt: number): number {
  const t = now.getHours() * 60 + now.getMinutes()
  for (const w of windows) {
    const inside = w.from < w.to ? t >= w.from && t < w.to : t >= w.from || t < w.to
    if (inside) return w.bytesPerSec
  }
  return dflt
}
