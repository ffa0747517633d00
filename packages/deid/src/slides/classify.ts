/**
 * @module Which directories of a TIFF-based slide are pyramid levels and which are associated
 * images (thumbnail, label, macro), by the same vendor rules the readers use (OpenSlide:
 * openslide-vendor-aperio.c, openslide-vendor-hamamatsu.c).
 */
import { SlideDeidErrors } from './errors.ts'
import type { LayoutIfd, TiffLayout } from './tiff-layout.ts'

export type SlideVendor = 'aperio' | 'hamamatsu' | 'generic'
export type DirectoryRole = 'level' | 'thumbnail' | 'label' | 'macro'

const NDPI_FORMAT_FLAG = 65420
const NDPI_SOURCE_LENS = 65421
const IMAGE_DESCRIPTION = 270
const PAGE_NAME = 285
const TILE_WIDTH = 322

export async function slideVendor(t: TiffLayout): Promise<SlideVendor> {
  if (t.ifds[0].entries.has(NDPI_FORMAT_FLAG)) return 'hamamatsu'
  if ((await t.string(t.ifds[0], IMAGE_DESCRIPTION))?.startsWith('Aperio')) return 'aperio'
  return 'generic'
}

/** The role of main-chain directory `dir`; throws for an image it cannot place (it may be a label). */
export async function directoryRole(t: TiffLayout, vendor: SlideVendor, dir: number): Promise<DirectoryRole> {
  const ifd = t.ifds[dir]
  const tiled = ifd.entries.has(TILE_WIDTH)
  if (vendor === 'hamamatsu') {
    // SourceLens > 0: a level (any focal plane); −1 is the macro, −2 the map (an overview of the
    // glass): neither belongs to the pyramid, both can show the label, both go as "macro".
    const lens = (await t.numbers(ifd, NDPI_SOURCE_LENS))?.[0]
    if (lens === undefined) throw SlideDeidErrors.unknownImage(dir, 'an NDPI directory without SourceLens')
    return lens > 0 ? 'level' : 'macro'
  }
  const named = await associatedName(t, ifd)
  if (vendor === 'aperio') {
    // Aperio: tiled directories are levels, the second directory is the thumbnail, the others
    // name themselves on their description's second line ("label 387x463", "macro 1280x431").
    if (dir === 0 || tiled) return 'level'
    if (dir === 1) return 'thumbnail'
    if (named) return named
    throw SlideDeidErrors.unknownImage(dir, 'an untiled Aperio image whose description names no label or macro')
  }
  // Generic TIFF: OpenSlide shows no associated images, but Philips-, Ventana- and vips-made files
  // name theirs ("Label", "Macro", "Label Image", "overview") in ImageDescription or PageName.
  if (dir > 0 && named) return named
  if (tiled) return 'level'
  throw SlideDeidErrors.unknownImage(dir, 'an untiled image in a generic TIFF with no label, macro or thumbnail name')
}

async function associatedName(t: TiffLayout, ifd: LayoutIfd): Promise<DirectoryRole | undefined> {
  const words: string[] = []
  for (const tag of [IMAGE_DESCRIPTION, PAGE_NAME]) {
    const s = await t.string(ifd, tag)
    if (!s) continue
    for (const line of s.split(/\r?\n/).slice(0, 2)) words.push(line.trim().split(/[\s_]/)[0].toLowerCase())
  }
  if (words.includes('label')) return 'label'
  if (words.includes('macro') || words.includes('overview')) return 'macro'
  if (words.includes('thumbnail')) return 'thumbnail'
  return undefined
}
