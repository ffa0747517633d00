/** @module Error codes of clinical-record de-identification. */
import { KuraError } from '@kura/core'

export const RecordDeidErrors = {
  noSubject: (where: string) =>
    new KuraError('DEID_RECORD_NO_SUBJECT', `The record at ${where} has neither a patient ID nor an image study UID, so it cannot be given a pseudonymous subject; hold it and fix the source mapping.`, { status: 422 }),
  badDate: (path: string) =>
    new KuraError('DEID_RECORD_BAD_DATE', `The date at ${path} is not a valid YYYY-MM-DD[THH:MM[:SS]] date, so it cannot be shifted; validate records (validateRecord) before de-identifying them.`, { status: 422 }),
} as const
