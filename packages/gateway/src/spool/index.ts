/** @module The spool: durable landing place for received objects before the pipeline. */
export { Spool, SpoolWrite, type SpoolEntry, type SpoolEntryInput, type SpoolOptions } from './spool.ts'
export { Journal, type JournalMeta } from './journal.ts'
export { SpoolErrors } from './errors.ts'
