/** @module @kura/records/synth: generators of SS-MIX2 trees and vendor exports for tests and benchmarks. */
export {}
export { generateVendorExport, type VendorExportOptions, type GeneratedVendorExport, type GeneratedExam, type MalformedExam, type VendorLayout } from './vendor.ts'
export { encodeText, encodeIso2022jp } from './vendor-encode.ts'
export type { SynthPatient } from './vendor-people.ts'
export { synthSsmix2Files, writeSsmix2Tree, type Ssmix2SynthOptions, type Ssmix2SynthFile, type Ssmix2SynthResult, type Ssmix2Expected, type Ssmix2Malformed, type Ssmix2SynthPatient } from './ssmix2.ts'
export { ENDOSCOPY_EXAMS, RADIOLOGY_EXAMS, PATHOLOGY_OUTCOMES, DIAGNOSES as SSMIX2_DIAGNOSES } from './ssmix2-exams.ts'
