/**
 * @module DICOM WSI: detected by the Part 10 preamble ("DICM" at byte 128) so the user hears
 * "not supported yet"; the reader (one instance per level, TILED_FULL/SPARSE) comes later (issue 5).
 */
import type { SlideFormat } from '../reader.ts'
import { WsiErrors } from '../errors.ts'

export const dicomWsi: SlideFormat = {
  name: 'dicom-wsi',
  async detect(src, tiff) {
    if (tiff) return { ok: false, reason: 'a TIFF, not DICOM' }
    if (src.size < 132) return { ok: false, reason: 'too short for a DICOM preamble' }
    const b = await src.read(128, 4)
    return String.fromCharCode(...b) === 'DICM' ? { ok: true } : { ok: false, reason: 'no "DICM" at byte 128' }
  },
  async open() {
    throw WsiErrors.formatNotSupportedYet('DICOM WSI')
  },
}
