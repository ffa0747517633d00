/** @module @kura/gateway: the site gateway's sources, spool and (later) pipeline, outbox and uploader. */
export * from './sources/dimse/index.ts'
export * from './spool/index.ts'
