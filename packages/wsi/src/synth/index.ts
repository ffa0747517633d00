/**
 * @module Synthetic slide writers (deterministic from a seed, streamed tile by tile): Aperio-like
 * SVS, generic pyramidal BigTIFF and Hamamatsu NDPI, all with fake identifiers on label/macro.
 * DICOM WSI (one instance per level) from ./dicom.ts.
 */
export { writeNdpiSlide } from './ndpi.ts'
export { writeSvsSlide, writeTiffSlide } from './tiled.ts'
export type { SynthSlideSpec, SynthSlideResult } from './spec.ts'
export { DEFAULT_LABEL_TEXT } from './label.ts'
export { writeDicomSlide } from './dicom.ts'
