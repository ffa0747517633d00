/**
 * @module openSlide: parse the TIFF directory once (if it is a TIFF), walk the ordered format
 * registry (generic TIFF last, as OpenSlide's formats[]), log each decline, and check the result.
 */
import { isKuraError, silentLogger, type ByteSource, type Logger } from '@kura/core'
import { WsiErrors } from './errors.ts'
import { aperioSvs } from './formats/svs.ts'
import { dicomWsi } from './formats/dicom-wsi.ts'

// A DICOM WSI is a set of instances (one per level, plus label/overview): open them together with openDicomSlide;
// openSlide on one instance opens that instance alone.
export { openDicomSlide } from './formats/dicom-wsi.ts'
import { genericTiff } from './formats/generic-tiff.ts'
import { hamamatsuNdpi } from './formats/hamamatsu-ndpi.ts'
import type { Slide, SlideFormat } from './reader.ts'
import { TiffFile } from './tiff/parser.ts'

// NDPI first: its private tag is a stronger signal than any description text.
export const FORMATS: readonly SlideFormat[] = [hamamatsuNdpi, aperioSvs, dicomWsi, genericTiff]

/** Opens a slide over any ByteSource; the source is closed by `slide.close()`, or here if opening fails. */
export async function openSlide(src: ByteSource, opts: { log?: Logger } = {}): Promise<Slide> {
  const log = opts.log ?? silentLogger
  try {
    let tiff: TiffFile | null = null
    try {
      tiff = await TiffFile.open(src)
    } catch (e) {
      if (!(isKuraError(e) && e.code === 'WSI_NOT_TIFF')) throw e
    }
    const reasons: string[] = []
    for (const f of FORMATS) {
      const d = await f.detect(src, tiff)
      if (d.ok) {
        const slide = await f.open(src, tiff)
        if (slide.levels.length === 0) throw WsiErrors.malformed(`the ${f.name} reader found no levels`)
        return slide
      }
      log.debug({ format: f.name, reason: d.reason }, 'slide format declined')
      reasons.push(`${f.name}: ${d.reason}`)
    }
    throw WsiErrors.unknownFormat(reasons.join('; '))
  } catch (e) {
    await src.close().catch(() => {})
    throw e
  }
}
