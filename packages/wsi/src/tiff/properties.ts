/**
 * @module OpenSlide's `tiff.*` properties from a directory, and resolution-derived MPP.
 */
import type { Ifd } from './parser.ts'
import { Tag } from './tags.ts'

const STRING_TAGS: ReadonlyArray<[number, string]> = [
  [Tag.ImageDescription, 'ImageDescription'],
  [Tag.Make, 'Make'],
  [Tag.Model, 'Model'],
  [Tag.Software, 'Software'],
  [Tag.DateTime, 'DateTime'],
  [Tag.Artist, 'Artist'],
  [Tag.HostComputer, 'HostComputer'],
  [33432, 'Copyright'],
  [Tag.DocumentName, 'DocumentName'],
]

/** The same keys OpenSlide's _openslide_tiff_add_properties writes. */
export async function tiffProperties(ifd: Ifd): Promise<Record<string, string>> {
  const p: Record<string, string> = {}
  for (const [tag, name] of STRING_TAGS) {
    const v = await ifd.string(tag)
    if (v !== undefined) p[`tiff.${name}`] = v
  }
  const xr = await ifd.number(Tag.XResolution)
  const yr = await ifd.number(Tag.YResolution)
  if (xr !== undefined) p['tiff.XResolution'] = String(xr)
  if (yr !== undefined) p['tiff.YResolution'] = String(yr)
  const unit = await ifd.number(Tag.ResolutionUnit)
  if (unit !== undefined) p['tiff.ResolutionUnit'] = unit === 1 ? 'none' : unit === 2 ? 'inch' : unit === 3 ? 'centimeter' : 'unknown'
  return p
}

/** MPP from X/YResolution in pixels per centimetre; OpenSlide trusts no other unit, nor do we. */
export async function resolutionMpp(ifd: Ifd): Promise<{ x: number; y: number } | undefined> {
  if ((await ifd.number(Tag.ResolutionUnit)) !== 3) return undefined
  const xr = await ifd.number(Tag.XResolution)
  const yr = await ifd.number(Tag.YResolution)
  if (!(xr && yr && xr > 0 && yr > 0 && Number.isFinite(xr) && Number.isFinite(yr))) return undefined
  return { x: 10000 / xr, y: 10000 / yr }
}
