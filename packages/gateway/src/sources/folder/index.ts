/** @module Watched folder source: settled files copied into the spool, never taken twice. */
export { FolderSource, type FolderSourceOptions } from './folder-source.ts'
