/**
 * @module ObjectStore: the seam for original and derived files (filesystem, S3).
 *
 * Keys are content-addressed where content is immutable (`sha256/ab/cd/abcd…`).
 */
import type { Readable } from 'node:stream'
import type { ByteSource } from './byte-source.ts'

export interface ObjectInfo {
  key: string
  size: number
  /** Hex SHA-256 when the store knows it (always for objects written through `put`). */
  sha256?: string
}

export interface PutOptions {
  /** Expected hex SHA-256; the put fails (and stores nothing) when the content differs. */
  sha256?: string
  contentType?: string
}

export interface ObjectStore {
  readonly kind: 'filesystem' | 's3'
  /** Streams `body` to `key`. Atomic: a failed or aborted put leaves no object behind. */
  put(key: string, body: Readable | Uint8Array, opts?: PutOptions): Promise<ObjectInfo>
  /** The whole object, or `length` bytes at `offset`. Throws NOT_FOUND when absent. */
  get(key: string, range?: { offset: number; length: number }): Promise<Readable>
  /** Random-access reads (range GETs on S3). */
  source(key: string): Promise<ByteSource>
  head(key: string): Promise<ObjectInfo | null>
  delete(key: string): Promise<void>
  list(prefix: string): AsyncIterable<ObjectInfo>
  close(): Promise<void>
}
