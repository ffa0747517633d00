/**
 * @module Hamamatsu NDPI: detected (private tag 65420 in the first directory) so the user
 * hears "not supported yet" instead of a generic-TIFF misread; the reader comes later (issue 5).
 */
import type { SlideFormat } from '../reader.ts'
import { WsiErrors } from '../errors.ts'
import { Tag } from '../tiff/tags.ts'

export const hamamatsuNdpi: SlideFormat = {
  name: 'hamamatsu-ndpi',
  async detect(_src, tiff) {
    if (!tiff) return { ok: false, reason: 'not a TIFF' }
    return tiff.ifds[0].has(Tag.NdpiFormatFlag) ? { ok: true } : { ok: false, reason: 'no NDPI tag 65420' }
  },
  async open() {
    throw WsiErrors.formatNotSupportedYet('Hamamatsu NDPI')
  },
}
