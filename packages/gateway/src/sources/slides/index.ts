/** @module Slide scanner folders: settled slides taken once, de-identified and verified on site, uploaded resumably. */
export { SlideSource, type SlideSourceOptions } from './slide-source.ts'
export { findSlides, type FoundSlide } from './find-slides.ts'
