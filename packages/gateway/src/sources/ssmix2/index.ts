/** @module SS-MIX2 standardized storage as a gateway source. */
export { Ssmix2Source, SSMIX2_RECORD_TYPES, HANDOFFS_IN_FLIGHT, type Ssmix2SourceOptions, type Ssmix2Counters } from './ssmix2-source.ts'
