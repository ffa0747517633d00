/** @module @kura/records: the standard clinical record, and the readers and adapters that produce it. */
export * from './schema/types.ts'
