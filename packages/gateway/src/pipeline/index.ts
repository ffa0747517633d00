/** @module The pipeline: spooled object → de-identified, verified → queued (or quarantined). */
export { Pipeline, type PipelineOptions, type PipelineCounters } from './pipeline.ts'
export { deidentifyObject, type DeidSettings, type ObjectOutcome } from './deidentify-object.ts'
