/** @module Slide de-identification: label/macro removal and text scrub for TIFF-based slides, with an independent verification. */
export { deidentifySlide, type SlideDeidOptions, type SlideDeidReport, type RemovableImage } from './deidentify-slide.ts'
export { verifySlideOutput, type VerifySlideOptions, type VerifySlideResult } from './verify-slide.ts'
export { SlideDeidErrors } from './errors.ts'
export { scrubAperioDescription, isIdentifyingAperioKey, SCRUBBED_TAGS } from './scrub-text.ts'
