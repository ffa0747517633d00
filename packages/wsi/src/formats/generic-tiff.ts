/**
 * @module Generic tiled pyramidal TIFF/BigTIFF (vips tiffsave --tile --pyramid, OME-TIFF
 * SubIFD pyramids, Philips TIFF): every tiled directory of the first image's size family is a
 * level. Tried last, as in OpenSlide.
 */
import type { ByteSource } from '@kura/core'
import type { AssociatedImage, AssociatedName, Slide, SlideFormat } from '../reader.ts'
import { TiffImage } from '../tiff/image.ts'
import type { Ifd, TiffFile } from '../tiff/parser.ts'
import { resolutionMpp, tiffProperties } from '../tiff/properties.ts'
import { Tag } from '../tiff/tags.ts'
import { TiffSlide } from '../tiff/tiff-slide.ts'

/** NewSubfileType bit 2: a transparency mask, never a pyramid level. */
const SUBFILE_MASK = 4

export const genericTiff: SlideFormat = {
  name: 'generic-tiff',

  async detect(_src, tiff) {
    if (!tiff) return { ok: false, reason: 'not a TIFF' }
    if (!tiff.ifds[0].has(Tag.TileWidth)) return { ok: false, reason: 'first directory is not tiled (a plain image, not a pyramid)' }
    return { ok: true }
  },

  async open(src: ByteSource, tiff: TiffFile | null): Promise<Slide> {
    const t = tiff!
    const base = await TiffImage.from(t.ifds[0])
    const candidates: Ifd[] = [...t.ifds.slice(1), ...(await t.ifds[0].subIfds())]
    const images: TiffImage[] = [base]
    for (const ifd of candidates) {
      if (!ifd.has(Tag.TileWidth)) continue
      if (((await ifd.number(Tag.NewSubfileType)) ?? 0) & SUBFILE_MASK) continue
      const im = await TiffImage.from(ifd)
      if (im.samplesPerPixel !== base.samplesPerPixel || im.width > base.width || im.height > base.height) continue
      images.push(im)
    }
    images.sort((a, b) => b.width - a.width || b.height - a.height)
    const levels = images.filter((im, i) => i === 0 || im.width < images[i - 1].width)
    return new TiffSlide({
      format: 'generic-tiff',
      images: levels,
      properties: await tiffProperties(t.ifds[0]),
      associated: new Map<AssociatedName, AssociatedImage>(),
      mpp: await resolutionMpp(t.ifds[0]),
      close: () => src.close(),
    })
  },
}
