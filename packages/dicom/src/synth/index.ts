/** @module @kura/dicom/synth: deterministic synthetic DICOM corpora (Japanese patients; CT, MR, endoscopy) for tests and benchmarks. */
export { synthStudies, synthStudiesAsync, writeCorpus, type SynthInstance, type WriteCorpusResult } from './corpus.ts'
export {
  planCorpus, planStudy, planPatient, planInstance, normalizeOptions, DEFAULT_SIZES, SOP_CLASS, TRANSFER_SYNTAX, SPECIFIC_CHARACTER_SET,
  type SynthOptions, type SynthModality, type SynthCharset, type SynthElement, type SynthPlanned, type SynthStudy, type SynthPatient, type ImageSize,
} from './datasets.ts'
export { Prng, synthUid } from './prng.ts'
export { toHalfWidthKatakana, japaneseName } from './names.ts'
export { ctSlice, mrSlice, esFrame, encodeBaselineJpeg } from './pixels.ts'
