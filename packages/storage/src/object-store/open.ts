/**
 * @module openObjectStore: picks the object store the hub's config asks for.
 *
 * No S3 settings → files under `<dataDir>/objects`; S3 settings → the bucket, with large
 * uploads of unknown checksum spooled under `<dataDir>/spool` (see s3.ts).
 */
import { join } from 'node:path'
import type { S3Config } from '@kura/core'
import type { ArchiveObjectStore } from './archive-object-store.ts'
import { FilesystemObjectStore } from './filesystem.ts'
import { S3ObjectStore } from './s3.ts'

export interface OpenObjectStoreOptions {
  dataDir: string
  s3: S3Config | null
  /** S3 only: create the bucket when missing (default true). */
  createBucket?: boolean
}

export async function openObjectStore(opts: OpenObjectStoreOptions): Promise<ArchiveObjectStore> {
  if (!opts.s3) return FilesystemObjectStore.open(opts.dataDir)
  return S3ObjectStore.open(opts.s3, { spoolDir: join(opts.dataDir, 'spool'), createBucket: opts.createBucket })
}
