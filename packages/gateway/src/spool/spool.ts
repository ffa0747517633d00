/**
 * @module Spool: where received objects land before the pipeline takes them.
 *
 * An object is gathered in memory while small, or streamed into `incoming/<id>.part` once large; at
 * commit its data is made durable (fdatasync), the rename to `<id>.dcm` is the commit point, and an
 * fsync of the folder (one shared by the commits that arrive together) makes the rename durable.
 * Callers acknowledge an object to its sender only after `commit()` resolved, so an acknowledged
 * object is a whole `.dcm`, and anything a crash leaves (`.part`) is removed when the spool opens.
 *
 * Files are created ahead of need (see `takeFile`): an empty `<id>.ready` waits open for the next object, so creating
 * an inode, the dearest step of a small object's commit, is off the path between the last byte and the C-STORE-RSP.
 * A small object is written into it at commit and renamed straight to `.dcm`; a large one renames it to `.part`
 * when it starts streaming. Either suffix means "not committed" and is removed when the spool opens.
 *
 * No sidecar is written: the `.dcm` is self-describing (its file meta holds the SOP class and instance,
 * transfer syntax and the calling AE as SourceApplicationEntityTitle), `onStored` hands the rest to the
 * outbox, and an object adopted after a crash is measured and hashed from its file. A sidecar cost an
 * inode and an fsync per object (the folder source still writes one: `.json` beside a `.dcm` stays valid).
 */
import { createHash } from 'node:crypto'
import { closeSync, createWriteStream, fdatasync, fsync, open, openSync, renameSync, unlinkSync, writevSync, type WriteStream } from 'node:fs'
import { mkdir, readdir, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { newId, type Logger, silentLogger } from '@kura/core'
import { SpoolErrors } from './errors.ts'

/** A committed object: where it came from and what it is (handed to `onStored`; not written to disk). */
export interface SpoolEntry {
  id: string
  /** Absolute path of the committed Part 10 file. */
  path: string
  source: 'dimse'
  callingAE: string
  calledAE: string
  peer: { address: string; port: number }
  sopClassUid: string
  sopInstanceUid: string
  transferSyntaxUid: string
  /** ISO 8601, when the last byte arrived. */
  receivedAt: string
  /** Size and SHA-256 of the whole file (file meta + data set). */
  bytes: number
  sha256: string
}

export type SpoolEntryInput = Omit<SpoolEntry, 'id' | 'path' | 'receivedAt' | 'bytes' | 'sha256'>

export interface SpoolOptions {
  /** Below this many free bytes on the spool's file system, new objects are refused (A700 to DICOM senders). */
  minFreeBytes?: number
  log?: Logger
}

/** How long a free-space reading is trusted; statfs per object would cost a syscall for nothing. */
const FREE_SPACE_TTL_MS = 500
/** Writes this large are fewer syscalls; the stream never holds more than about this much. */
const WRITE_HWM = 1 << 20
/**
 * Objects up to this size are gathered in memory and written with one writev at commit (most CT, MR
 * and CR instances); larger ones stream to disk as they arrive. 16 associations × 1 MiB stays small.
 */
const SMALL_OBJECT_BYTES = 1 << 20
/** Empty `.ready` files kept (see `takeFile`). A few cover bursts from several associations. */
const READY_FILES = 8

/** A file created for one object, open for writing: `<id>.ready` until a streaming object renames it to `.part`. */
interface PartFile {
  id: string
  path: string
  fd: number
}

export class Spool {
  readonly dir: string
  readonly incoming: string
  private readonly minFreeBytes: number
  private readonly log: Logger
  private freeCheckedAt = 0
  private freeBytes = Number.POSITIVE_INFINITY
  private folderFd: number | null = null
  /** The folder fsync in progress, and the one that will follow it for commits that arrived meanwhile. */
  private runningSync: Promise<void> | null = null
  private nextSync: Promise<void> | null = null
  /** Files created ahead (see `takeFile`), and creations in flight. */
  private ready: PartFile[] = []
  private creating = 0
  private created: Promise<void> = Promise.resolve()
  private closed = false

  private constructor(dir: string, opts: SpoolOptions) {
    this.dir = dir
    this.incoming = join(dir, 'incoming')
    this.minFreeBytes = opts.minFreeBytes ?? 0
    this.log = opts.log ?? silentLogger
  }

  /** Creates the folders if needed and removes what an interrupted write left behind. */
  static async open(dir: string, opts: SpoolOptions = {}): Promise<Spool> {
    const spool = new Spool(dir, opts)
    try {
      await mkdir(spool.incoming, { recursive: true })
      const names = await readdir(spool.incoming)
      const committed = new Set(names.filter((n) => n.endsWith('.dcm')).map((n) => n.slice(0, -4)))
      const stale = names.filter((n) => n.endsWith('.part') || n.endsWith('.ready') || (n.endsWith('.json') && !committed.has(n.slice(0, -5))))
      for (const n of stale) await rm(join(spool.incoming, n), { force: true })
      if (stale.length > 0) spool.log.warn({ spool: dir, removed: stale.length }, 'removed partial objects left by an interrupted receive')
    } catch (e) {
      throw SpoolErrors.open(dir, e)
    }
    return spool
  }

  /**
   * Free bytes on the spool's file system, from a reading at most FREE_SPACE_TTL_MS old. Returns a
   * number synchronously when the cached reading is fresh, so the hot path stays synchronous.
   */
  freeSpace(): number | Promise<number> {
    if (Date.now() - this.freeCheckedAt < FREE_SPACE_TTL_MS) return this.freeBytes
    return statfs(this.incoming).then((s) => {
      this.freeBytes = Number(s.bavail) * Number(s.bsize)
      this.freeCheckedAt = Date.now()
      return this.freeBytes
    })
  }

  /** Throws SPOOL_LOW_DISK_SPACE when a new object must be refused. */
  checkSpace(): void | Promise<void> {
    const check = (free: number): void => {
      if (free < this.minFreeBytes) throw SpoolErrors.lowDiskSpace(this.dir, free, this.minFreeBytes)
    }
    const free = this.freeSpace()
    return typeof free === 'number' ? check(free) : free.then(check)
  }

  /**
   * An empty `<id>.ready`, open, for a new object. Creating a file costs more kernel time than anything else in a
   * small object's commit (about 1 ms here: inode allocation on ext4, three times its fdatasync), so after the
   * first take a few are created ahead on the thread pool while objects arrive, and a commit only writes into
   * one. Their directory entries need no fsync: the rename to `.dcm` is the commit point, made durable by the
   * folder fsync as before (it covers every rename in the folder); a crash leaves them, removed at `open`.
   */
  takeFile(): PartFile {
    const f = this.ready.pop() ?? createPart(this.incoming)
    this.fillAhead()
    return f
  }

  private fillAhead(): void {
    while (!this.closed && this.ready.length + this.creating < READY_FILES) {
      this.creating++
      const id = newId()
      const path = join(this.incoming, `${id}.ready`)
      this.created = Promise.all([this.created, new Promise<void>((resolve) => {
        open(path, 'wx', (e, fd) => {
          this.creating--
          // A failed creation is not reported here: the next object creates its own file and meets the error there.
          if (e) this.log.debug({ err: e.message }, 'could not create a spool file ahead')
          else if (this.closed) dropPart({ id, path, fd })
          else this.ready.push({ id, path, fd })
          resolve()
        })
      })]).then(() => {})
    }
  }

  /** Starts an object; `head` is written first (for DICOM: preamble and file meta). */
  begin(info: SpoolEntryInput, head: Uint8Array): SpoolWrite {
    return new SpoolWrite(this, info, head)
  }

  /**
   * Makes the renames in `incoming/` durable (a rename is only on disk once its folder is). Group commit:
   * callers that arrive while an fsync runs share the next one, which starts after their renames, so
   * concurrent associations pay one folder fsync per round instead of one each.
   */
  syncFolder(): Promise<void> {
    if (!this.nextSync) {
      this.nextSync = new Promise<void>((resolve, reject) => {
        const start = (): void => {
          this.nextSync = null
          this.runningSync = new Promise<void>((res, rej) => this.fsyncFolder(res, rej)).finally(() => { this.runningSync = null })
          this.runningSync.then(resolve, reject)
        }
        if (this.runningSync) this.runningSync.then(start, start)
        else queueMicrotask(start)
      })
    }
    return this.nextSync
  }

  private fsyncFolder(resolve: () => void, reject: (e: unknown) => void): void {
    try {
      // The folder stays open for the spool's life: no open/close per commit.
      this.folderFd ??= openSync(this.incoming, 'r')
    } catch (e) {
      return reject(e)
    }
    fsync(this.folderFd, (e) => (e ? reject(e) : resolve()))
  }

  /** Removes the files created ahead and closes the folder handle (after the last commit has settled). */
  async close(): Promise<void> {
    this.closed = true
    await this.created
    for (const f of this.ready.splice(0)) dropPart(f)
    if (this.folderFd !== null) closeSync(this.folderFd)
    this.folderFd = null
  }
}

/** One object being written. `write` follows stream back-pressure: on false, wait for `onDrain`. */
export class SpoolWrite {
  /** The object's file, taken from the spool when the first byte has to reach the disk. */
  private part: PartFile | null = null
  private readonly spool: Spool
  private readonly info: SpoolEntryInput
  private readonly hash = createHash('sha256')
  private bytes = 0
  /** The object so far while it is small: it is written with one call at commit, no stream, no thread-pool hop. */
  private chunks: Uint8Array[] | null = []
  /** Once the object outgrows SMALL_OBJECT_BYTES it streams to the .part file instead. */
  private file: WriteStream | null = null
  private failure: unknown = null
  private drainWaiters: Array<() => void> = []
  private finished = false

  constructor(spool: Spool, info: SpoolEntryInput, head: Uint8Array) {
    this.spool = spool
    this.info = info
    this.write(head)
  }

  /** The object's id (its file's name), fixed once its file is taken. */
  get id(): string {
    return this.takePart().id
  }

  private takePart(): PartFile {
    this.part ??= this.spool.takeFile()
    return this.part
  }

  /** The first error met while writing, if any; later data is dropped, `commit` will throw it. */
  get failed(): boolean {
    return this.failure !== null
  }

  private fail(e: unknown): void {
    if (this.failure === null) this.failure = e
    this.wake()
  }

  private wake(): void {
    const w = this.drainWaiters
    this.drainWaiters = []
    for (const f of w) f()
  }

  /**
   * Appends bytes; false means "wait for onDrain before writing more". The chunk is kept by reference
   * until commit while the object is small: callers hand over socket buffers, which are never reused.
   */
  write(chunk: Uint8Array): boolean {
    if (this.failure !== null || this.finished) return true
    this.hash.update(chunk)
    this.bytes += chunk.length
    if (this.chunks !== null) {
      this.chunks.push(chunk)
      if (this.bytes <= SMALL_OBJECT_BYTES) return true
      this.startStreaming()
      return true
    }
    return this.file!.write(chunk)
  }

  private startStreaming(): void {
    const chunks = this.chunks!
    this.chunks = null
    let part: PartFile
    try {
      part = this.takePart()
    } catch (e) {
      return this.fail(e)
    }
    // An object in progress shows as `.part` (no fsync: only the commit's rename must be durable).
    try {
      const path = join(this.spool.incoming, `${part.id}.part`)
      renameSync(part.path, path)
      part.path = path
    } catch (e) {
      return this.fail(e)
    }
    // flush: fsync before close, so "closed" means "on disk".
    const file = createWriteStream(part.path, { fd: part.fd, flush: true, highWaterMark: WRITE_HWM })
    file.on('error', (e) => this.fail(e))
    file.on('drain', () => this.wake())
    this.file = file
    for (const c of chunks) file.write(c)
  }

  onDrain(fn: () => void): void {
    if (this.failure !== null) fn()
    else this.drainWaiters.push(fn)
  }

  /**
   * Completes the object: data durable (fdatasync), rename to `.dcm`, folder fsync (shared with concurrent
   * commits). Throws SPOOL_WRITE_FAILED (nothing of the object is left).
   */
  async commit(): Promise<SpoolEntry> {
    this.finished = true
    let renamed = false
    let dcm = ''
    try {
      if (this.failure !== null) throw this.failure
      const part = this.takePart()
      dcm = join(this.spool.incoming, `${part.id}.dcm`)
      if (this.chunks !== null) await this.writeSmall(this.chunks)
      else await this.closeStream()
      const entry: SpoolEntry = {
        id: part.id,
        path: dcm,
        ...this.info,
        receivedAt: new Date().toISOString(),
        bytes: this.bytes,
        sha256: this.hash.digest('hex'),
      }
      renameSync(part.path, dcm)
      renamed = true
      await this.spool.syncFolder()
      return entry
    } catch (e) {
      // Not acknowledged, so not kept: the sender will send it again.
      if (renamed) await rm(dcm, { force: true }).catch(() => {})
      await this.removeLeftovers()
      throw SpoolErrors.writeFailed(this.part?.path ?? this.spool.incoming, e)
    }
  }

  /** A small object: one synchronous write into the page cache, then one fdatasync off the event loop. */
  private async writeSmall(chunks: Uint8Array[]): Promise<void> {
    this.chunks = null
    const fd = this.part!.fd
    try {
      writevAll(fd, chunks)
      await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())))
    } finally {
      closeSync(fd)
      this.part!.fd = -1
    }
  }

  private closeStream(): Promise<void> {
    const file = this.file!
    return new Promise<void>((resolve, reject) => {
      file.once('close', () => (this.failure === null ? resolve() : reject(this.failure)))
      file.once('error', reject)
      file.end()
    })
  }

  /** Abandons the object (sender aborted, or we refuse it) and removes its partial file. */
  async discard(): Promise<void> {
    if (this.finished) return
    this.finished = true
    this.chunks = null
    const file = this.file
    if (file) {
      await new Promise<void>((resolve) => {
        if (file.closed) return resolve()
        file.once('close', () => resolve())
        file.destroy()
      })
    }
    await this.removeLeftovers()
  }

  /** Removes the object's file (its descriptor is closed unless a stream owns and closed it). */
  private async removeLeftovers(): Promise<void> {
    const part = this.part
    if (!part) return
    if (!this.file && part.fd >= 0) { try { closeSync(part.fd) } catch { /* already closed */ } }
    part.fd = -1
    await rm(part.path, { force: true }).catch(() => {})
  }
}

/** Creates an empty `<id>.ready`, open for writing (O_EXCL: never someone else's file). */
function createPart(dir: string): PartFile {
  const id = newId()
  const path = join(dir, `${id}.ready`)
  return { id, path, fd: openSync(path, 'wx') }
}

function dropPart(f: PartFile): void {
  try { closeSync(f.fd) } catch { /* already closed */ }
  try { unlinkSync(f.path) } catch { /* already gone */ }
}

/** writev until every byte is written (a short write is legal, if rare, for regular files). */
function writevAll(fd: number, chunks: Uint8Array[]): void {
  let list = chunks
  while (list.length > 0) {
    let n = writevSync(fd, list.length > 1024 ? list.slice(0, 1024) : list)
    let i = 0
    while (i < list.length && n >= list[i]!.length) n -= list[i++]!.length
    const rest = list.slice(i)
    if (n > 0) rest[0] = rest[0]!.subarray(n)
    list = rest
  }
}
