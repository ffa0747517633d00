/** @module The pipeline: spooled object → de-identified, verified → queued (or quarantined). */
export { Pipeline, type PipelineOptions, type PipelineCounters } from './pipeline.ts'
export { deidentifyObject, type DeidSettings, type ObjectOutcome } from './deidentify-object.ts'
export { stageInput, summarize, type RecordEngine } from './record-stage.ts'
export { recordEngine } from './record-engine.ts'
export { canonicalJson, recordKey } from './canonical-json.ts'
export { pooledRecordEngine, type PooledRecordEngine } from './record-pool.ts'
