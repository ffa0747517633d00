/** @module @kura/core: config, logging, errors, ids, hashing, ByteSource and the ObjectStore seam. */
export * from './errors.ts'
export * from './byte-source.ts'
export * from './hashing.ts'
export * from './ids.ts'
export * from './log.ts'
export * from './object-store.ts'
export * from './config.ts'
export * from './hash-chain.ts'
