/**
 * @module Aperio SVS: a TIFF whose first ImageDescription starts "Aperio". Quirks only
 * (OpenSlide: openslide-vendor-aperio.c): `|key = value` properties, the thumbnail as the
 * second directory, label/macro named by their description's second line, JPEG 2000 variants.
 */
import type { ByteSource } from '@kura/core'
import type { AssociatedImage, AssociatedName, Slide, SlideFormat } from '../reader.ts'
import { TiffImage } from '../tiff/image.ts'
import type { TiffFile } from '../tiff/parser.ts'
import { tiffProperties } from '../tiff/properties.ts'
import { Tag } from '../tiff/tags.ts'
import { associatedFromImage, TiffSlide } from '../tiff/tiff-slide.ts'

/** Splits "Aperio Image Library v10 ...|AppMag = 20|MPP = 0.499" into its header and `aperio.*` properties; later duplicates win, as in OpenSlide. */
export function parseAperioDescription(desc: string): Record<string, string> {
  const props: Record<string, string> = {}
  const parts = desc.split('|')
  for (const part of parts.slice(1)) {
    const eq = part.indexOf(' = ')
    if (eq < 0) continue
    props[`aperio.${part.slice(0, eq).trim()}`] = part.slice(eq + 3).trim()
  }
  return props
}

export const aperioSvs: SlideFormat = {
  name: 'aperio-svs',

  async detect(_src, tiff) {
    if (!tiff) return { ok: false, reason: 'not a TIFF' }
    const desc = await tiff.ifds[0].string(Tag.ImageDescription)
    if (!desc?.startsWith('Aperio')) return { ok: false, reason: 'first ImageDescription does not start with "Aperio"' }
    if (!tiff.ifds[0].has(Tag.TileWidth)) return { ok: false, reason: 'first directory is not tiled' }
    return { ok: true }
  },

  async open(src: ByteSource, tiff: TiffFile | null): Promise<Slide> {
    const t = tiff!
    const levels: TiffImage[] = []
    const associated = new Map<AssociatedName, AssociatedImage>()
    for (let dir = 0; dir < t.ifds.length; dir++) {
      const ifd = t.ifds[dir]
      const im = await TiffImage.from(ifd)
      if (im.tiled) {
        levels.push(im)
        continue
      }
      // Stripped directories are associated images: the second directory is the thumbnail, the
      // others name themselves on their description's second line ("label 387x463", "macro 1280x431").
      let name: string | undefined
      if (dir === 1) name = 'thumbnail'
      else name = (await ifd.string(Tag.ImageDescription))?.split(/\r?\n/)[1]?.split(' ')[0]
      if ((name === 'thumbnail' || name === 'label' || name === 'macro') && !associated.has(name)) associated.set(name, associatedFromImage(im))
    }
    const desc = (await t.ifds[0].string(Tag.ImageDescription))!
    const aperio = parseAperioDescription(desc)
    const properties = { ...(await tiffProperties(t.ifds[0])), ...aperio, 'openslide.comment': desc }
    const mpp = Number(aperio['aperio.MPP'])
    const mag = Number(aperio['aperio.AppMag'])
    return new TiffSlide({
      format: 'aperio-svs',
      images: levels,
      properties,
      associated,
      mpp: mpp > 0 ? { x: mpp, y: mpp } : undefined,
      objectivePower: mag > 0 ? mag : undefined,
      close: () => src.close(),
    })
  },
}
