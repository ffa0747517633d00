/**
 * @module Parsing an IIIF Image API 3.0 request (`{region}/{size}/{rotation}/{quality}.{format}`)
 * against a slide's size. Level 1 plus percent regions, percent and confined sizes, and PNG.
 * Upscaling (`^`), rotation and mirroring are refused with 400, as the spec allows for what
 * info.json does not offer.
 */
import { SlideErrors } from './errors.ts'
import type { ImageFormat } from './render.ts'

export interface IiifRequest {
  x: number
  y: number
  w: number
  h: number
  outW: number
  outH: number
  format: ImageFormat
}

/** The most pixels one response holds (info.json says so as maxArea). */
export const MAX_AREA = 4096 * 4096

const INT = /^\d{1,9}$/
const NUM = /^\d{1,9}(\.\d{1,9})?$/

function ints(s: string, n: number, what: string): number[] {
  const parts = s.split(',')
  if (parts.length !== n || !parts.every((p) => INT.test(p))) throw SlideErrors.iiif(`Bad ${what} "${s.slice(0, 60)}".`)
  return parts.map(Number)
}

export function parseIiif(width: number, height: number, region: string, size: string, rotation: string, file: string): IiifRequest {
  let x: number, y: number, w: number, h: number
  if (region === 'full') [x, y, w, h] = [0, 0, width, height]
  else if (region === 'square') {
    const s = Math.min(width, height)
    ;[x, y, w, h] = [Math.floor((width - s) / 2), Math.floor((height - s) / 2), s, s]
  } else if (region.startsWith('pct:')) {
    const p = region.slice(4).split(',')
    if (p.length !== 4 || !p.every((v) => NUM.test(v))) throw SlideErrors.iiif(`Bad region "${region.slice(0, 60)}": use pct:x,y,w,h with percentages.`)
    const [px, py, pw, ph] = p.map(Number) as [number, number, number, number]
    ;[x, y, w, h] = [Math.round((px * width) / 100), Math.round((py * height) / 100), Math.round((pw * width) / 100), Math.round((ph * height) / 100)]
  } else [x, y, w, h] = ints(region, 4, 'region (use full, square, x,y,w,h or pct:x,y,w,h)') as [number, number, number, number]
  if (w <= 0 || h <= 0) throw SlideErrors.iiif(`Region "${region.slice(0, 60)}" is empty.`)
  if (x >= width || y >= height) throw SlideErrors.iiif(`Region "${region.slice(0, 60)}" lies outside the image (${width}×${height}).`)
  w = Math.min(w, width - x)
  h = Math.min(h, height - y)

  if (size.startsWith('^')) throw SlideErrors.iiif('Upscaling (^) is not offered: ask for a size no larger than the region.')
  let outW: number, outH: number
  if (size === 'max') {
    const s = Math.min(1, Math.sqrt(MAX_AREA / (w * h)))
    ;[outW, outH] = [Math.max(1, Math.floor(w * s)), Math.max(1, Math.floor(h * s))]
  } else if (size.startsWith('pct:')) {
    const p = size.slice(4)
    if (!NUM.test(p)) throw SlideErrors.iiif(`Bad size "${size.slice(0, 60)}": use pct:n.`)
    ;[outW, outH] = [Math.round((w * Number(p)) / 100), Math.round((h * Number(p)) / 100)]
  } else if (size.startsWith('!')) {
    const [bw, bh] = ints(size.slice(1), 2, 'size (use !w,h)') as [number, number]
    const s = Math.min(bw / w, bh / h)
    ;[outW, outH] = [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))]
  } else if (/^\d+,$/.test(size)) {
    outW = Number(size.slice(0, -1))
    outH = Math.max(1, Math.round((h * outW) / w))
  } else if (/^,\d+$/.test(size)) {
    outH = Number(size.slice(1))
    outW = Math.max(1, Math.round((w * outH) / h))
  } else [outW, outH] = ints(size, 2, 'size (use max, w,, ,h, w,h, !w,h or pct:n)') as [number, number]
  if (outW <= 0 || outH <= 0) throw SlideErrors.iiif(`Size "${size.slice(0, 60)}" is empty.`)
  if (outW > w || outH > h) throw SlideErrors.iiif(`Size ${outW}×${outH} is larger than the region (${w}×${h}); upscaling is not offered.`)
  if (outW * outH > MAX_AREA) throw SlideErrors.iiif(`Size ${outW}×${outH} is over the ${MAX_AREA}-pixel limit (maxArea in info.json); ask for a smaller size.`)

  if (rotation !== '0') throw SlideErrors.iiif(`Rotation "${rotation.slice(0, 20)}" is not offered: this service (IIIF level 1) serves rotation 0 only.`)
  const m = /^(default|color)\.(jpg|png)$/.exec(file)
  if (!m) throw SlideErrors.iiif(`"${file.slice(0, 40)}" is not offered: ask for default.jpg, default.png, color.jpg or color.png.`)
  return { x, y, w, h, outW, outH, format: m[2] === 'png' ? 'png' : 'jpeg' }
}
