/**
 * @module FilesystemObjectStore: objects as plain files under `<dataDir>/objects/`.
 *
 * Every write goes to `<dataDir>/objects/.tmp/` first (same filesystem, so the final rename is
 * atomic), is hashed on the way, flushed to disk, and only then renamed into place: a crash or an
 * aborted upload leaves at most a stray temp file, never a truncated object under a real key.
 * Stray temp files older than a day are swept when a store is opened.
 */
import { createReadStream, createWriteStream, type Dirent } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, unlink, copyFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CoreErrors, FileSource, HashingStream, newId, sha256Hex, type ByteSource, type ObjectInfo, type PutOptions } from '@kura/core'
import { StorageErrors } from '../errors.ts'
import type { ArchiveObjectStore, PutFileOptions } from './archive-object-store.ts'
import { assertValidKey, assertValidPrefix } from './keys.ts'

export interface FilesystemObjectStoreOptions {
  /**
   * Flush file data and the directory entry to disk before a put returns (default true).
   * Turn off only for throwaway data: without it a power cut can lose acknowledged objects.
   */
  durable?: boolean
}

const TMP = '.tmp'
const STALE_TMP_MS = 24 * 60 * 60 * 1000

export class FilesystemObjectStore implements ArchiveObjectStore {
  readonly kind = 'filesystem' as const
  private readonly tmpDir: string
  private readonly durable: boolean

  private constructor(readonly root: string, opts: FilesystemObjectStoreOptions) {
    this.tmpDir = join(root, TMP)
    this.durable = opts.durable ?? true
  }

  /** Opens (creating if needed) the store rooted at `<dataDir>/objects`. */
  static async open(dataDir: string, opts: FilesystemObjectStoreOptions = {}): Promise<FilesystemObjectStore> {
    const store = new FilesystemObjectStore(join(dataDir, 'objects'), opts)
    await mkdir(store.tmpDir, { recursive: true })
    await store.sweepStaleTemp()
    return store
  }

  localPath(key: string): string {
    return this.pathOf(key)
  }

  private pathOf(key: string): string {
    assertValidKey(key)
    return join(this.root, key)
  }

  private tempPath(): string {
    return join(this.tmpDir, `${newId()}.part`)
  }

  /** `verified` (as for putFile): the caller hashed exactly this buffer and `sha256` is that hash, so it is not hashed again. */
  async put(key: string, body: Readable | Uint8Array, opts: PutOptions & { verified?: boolean } = {}): Promise<ObjectInfo> {
    const final = this.pathOf(key)
    const tmp = this.tempPath()
    let sha256: string
    let size: number
    try {
      if (body instanceof Uint8Array) {
        // Check before writing anything: a mismatching buffer never touches the disk.
        sha256 = opts.verified && opts.sha256 ? opts.sha256 : sha256Hex(body)
        if (opts.sha256 && opts.sha256 !== sha256) throw StorageErrors.checksumMismatch(key, opts.sha256, sha256)
        const fh = await open(tmp, 'wx')
        try {
          await fh.writeFile(body)
          if (this.durable) await fh.datasync()
        } finally {
          await fh.close()
        }
        size = body.byteLength
      } else {
        const hashing = new HashingStream()
        await pipeline(body, hashing, createWriteStream(tmp, { flags: 'wx' }))
        // fsync applies to the file, not the descriptor, so a second open can flush it.
        if (this.durable) await syncFile(tmp)
        sha256 = hashing.digest()
        size = hashing.bytes
        if (opts.sha256 && opts.sha256 !== sha256) throw StorageErrors.checksumMismatch(key, opts.sha256, sha256)
      }
      await this.moveIntoPlace(tmp, final)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
    return { key, size, sha256 }
  }

  async putFile(key: string, path: string, opts: PutFileOptions = {}): Promise<ObjectInfo> {
    const final = this.pathOf(key)
    if (!opts.move) return this.put(key, createReadStream(path), opts)
    // Hash first so a mismatch leaves the caller's file untouched, then rename it into place.
    let sha256: string
    let size: number
    if (opts.verified && opts.sha256) {
      sha256 = opts.sha256
      size = (await stat(path)).size
    } else {
      const hashing = new HashingStream()
      await pipeline(createReadStream(path), hashing, new NullSink())
      sha256 = hashing.digest()
      size = hashing.bytes
      if (opts.sha256 && opts.sha256 !== sha256) throw StorageErrors.checksumMismatch(key, opts.sha256, sha256)
    }
    if (this.durable) await syncFile(path)
    try {
      await this.moveIntoPlace(path, final)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e
      // Different filesystem: copy through our temp dir (still atomic at the key), then drop the source.
      const tmp = this.tempPath()
      try {
        await copyFile(path, tmp)
        if (this.durable) await syncFile(tmp)
        await this.moveIntoPlace(tmp, final)
      } catch (e2) {
        await rm(tmp, { force: true })
        throw e2
      }
      await unlink(path)
    }
    return { key, size, sha256 }
  }

  /** rename(2) replaces atomically; an existing object with the same key (same content, for content-addressed keys) is simply replaced. */
  private async moveIntoPlace(from: string, to: string): Promise<void> {
    const dir = dirname(to)
    await mkdir(dir, { recursive: true })
    await rename(from, to)
    if (this.durable) await syncDir(dir)
  }

  async get(key: string, range?: { offset: number; length: number }): Promise<Readable> {
    const fh = await openOrNotFound(this.pathOf(key), key)
    try {
      if (!range) return fh.createReadStream()
      const { size } = await fh.stat()
      assertRange(range, size)
      const end = Math.min(size, range.offset + range.length)
      if (end <= range.offset) {
        await fh.close()
        return Readable.from([])
      }
      // createReadStream's `end` is inclusive.
      return fh.createReadStream({ start: range.offset, end: end - 1 })
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  async source(key: string): Promise<ByteSource> {
    const path = this.pathOf(key)
    // Same NOT_FOUND rules as get (directories included) before handing the path to FileSource.
    await (await openOrNotFound(path, key)).close()
    try {
      return await FileSource.open(path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw CoreErrors.notFound(`Object "${key}"`)
      throw e
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(this.pathOf(key))
      // The filesystem keeps no checksum beside the bytes; reading the file to compute one would
      // make head as expensive as get. The catalog stores each instance's sha256.
      return st.isFile() ? { key, size: st.size } : null
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null
      throw e
    }
  }

  async delete(key: string): Promise<void> {
    // Empty directories stay: removing them would race with a concurrent put creating a sibling.
    await rm(this.pathOf(key), { force: true })
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix)
    const slash = prefix.lastIndexOf('/')
    yield* this.walk(slash >= 0 ? prefix.slice(0, slash) : '', prefix)
  }

  private async *walk(dirKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    let entries: Dirent[]
    try {
      entries = await readdir(dirKey ? join(this.root, dirKey) : this.root, { withFileTypes: true })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return
      throw e
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/')) yield* this.walk(key, prefix)
      } else if (entry.isFile() && key.startsWith(prefix)) {
        try {
          const st = await stat(join(this.root, key))
          yield { key, size: st.size }
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e // deleted while listing
        }
      }
    }
  }

  async close(): Promise<void> {}

  private async sweepStaleTemp(): Promise<void> {
    // Other processes may be writing here right now, so only clearly abandoned files go.
    const cutoff = Date.now() - STALE_TMP_MS
    for (const name of await readdir(this.tmpDir)) {
      const p = join(this.tmpDir, name)
      try {
        if ((await stat(p)).mtimeMs < cutoff) await rm(p, { force: true })
      } catch {
        // Gone already, or not ours to remove: either way nothing to do.
      }
    }
  }
}

/** Throws BYTE_RANGE_OUT_OF_BOUNDS for a start past the end; a length running past the end is clipped. */
export function assertRange(range: { offset: number; length: number }, size: number): void {
  if (!Number.isSafeInteger(range.offset) || !Number.isSafeInteger(range.length) || range.offset < 0 || range.length < 0 || range.offset > size) {
    throw CoreErrors.rangeOutOfBounds(range.offset, range.length, size)
  }
}

/** Opens an object's file; a missing file, or a directory (a key prefix, not an object), is NOT_FOUND. */
async function openOrNotFound(path: string, key: string) {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw CoreErrors.notFound(`Object "${key}"`)
    throw e
  }
  if (!(await fh.stat()).isFile()) {
    await fh.close()
    throw CoreErrors.notFound(`Object "${key}"`)
  }
  return fh
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    await fh.datasync()
  } finally {
    await fh.close()
  }
}

/** Makes a rename durable: the new directory entry is only on disk once the directory is synced. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } catch (e) {
    // Some filesystems (and platforms) refuse fsync on a directory; the data itself is synced.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e
  } finally {
    await fh.close()
  }
}

/** Discards what flows in; used to drive a HashingStream over a file. */
class NullSink extends Writable {
  override _write(_chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb()
  }
}
