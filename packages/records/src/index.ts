/** @module @kura/records: the standard clinical record, and the readers and adapters that produce it. */
export * from './schema/types.ts'
export * from './hl7/index.ts'
export * from './ssmix2/index.ts'
export { validateRecord } from './schema/validate.ts'
export * from './schema/codes/index.ts'
export * from './adapters/index.ts'
