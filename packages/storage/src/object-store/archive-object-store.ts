/**
 * @module ArchiveObjectStore: core's ObjectStore plus the fast paths the archive needs.
 *
 * `putFile` exists because the hub usually already has the bytes in a local spool file (it had
 * to parse them before deciding where they go); handing over the path lets the filesystem store
 * rename instead of copying and lets the S3 store upload with a known length and checksum.
 */
import type { ObjectInfo, ObjectStore, PutOptions } from '@kura/core'

export interface PutFileOptions extends PutOptions {
  /**
   * Take the file over: on success it no longer exists at `path` (renamed into place on the
   * same filesystem, else copied or uploaded and then removed). On failure it is left alone.
   * Default false: the file is copied and stays where it is.
   */
  move?: boolean
  /**
   * The caller hashed exactly these bytes itself and `sha256` is that hash: a moved file is not
   * read again (a 2 GB object costs one rename instead of another full read).
   */
  verified?: boolean
}

export interface ArchiveObjectStore extends ObjectStore {
  /** Stores the local file at `path` under `key`; same checksum and atomicity rules as `put`. */
  putFile(key: string, path: string, opts?: PutFileOptions): Promise<ObjectInfo>
  /**
   * The object's path on this machine's file system when the store keeps it there (filesystem store), else null
   * (S3). For tools that need a file, such as libvips reading a slide: read it, never write it.
   */
  localPath(key: string): string | null
}
