/** @module Clinical-record de-identification: the DICOM engine's pseudonyms and date shifts applied to records, text cleaning, and the record verification scan. */
export { deidentifyRecord, RECORD_DEID_METHOD, type RecordDeidContext } from './deidentify-record.ts'
export { collectRecordIdentifiers, recordIdentifiers, type RecordIdentifiers } from './identifiers.ts'
export { textScrubber, type TextScrubber } from './scrub-text.ts'
export { verifyRecord } from './verify-record.ts'
export { romajiOf } from './romaji.ts'
export { RecordDeidErrors } from './errors.ts'
