/**
 * @module Spool: where received objects land before the pipeline takes them.
 *
 * A small object (up to SMALL_OBJECT_BYTES: most CT, MR and CR instances) is gathered in memory and, at commit,
 * appended to the spool's journal (`journal.ts`): one write and a share of one group-committed fdatasync, no file of
 * its own. A larger one streams into `incoming/<id>.part` as it arrives; at commit its data is made durable
 * (fdatasync), the rename to `<id>.dcm` is the commit point, and an fsync of the folder (shared by the commits that
 * arrive together) makes the rename durable. Callers acknowledge an object to its sender only after `commit()`
 * resolved, so an acknowledged object is a journal record or a whole `.dcm`; anything a crash leaves (`.part`, a
 * torn record at a segment's end) is removed or ignored when the spool opens.
 *
 * No sidecar is written: a `.dcm` is self-describing (its file meta holds the SOP class and instance, transfer
 * syntax and the calling AE as SourceApplicationEntityTitle), a journal record carries its own meta, `onStored`
 * hands the rest to the outbox, and an object adopted after a crash is measured and hashed from its file or record.
 */
import { createHash } from 'node:crypto'
import { closeSync, createWriteStream, fsync, openSync, readFileSync, renameSync, type WriteStream } from 'node:fs'
import { mkdir, readdir, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { newId, type Logger, silentLogger } from '@kura/core'
import { SpoolErrors } from './errors.ts'
import { Journal } from './journal.ts'

/** A committed object: where it came from and what it is (handed to `onStored`; not written to disk). */
export interface SpoolEntry {
  id: string
  /** Absolute path of the committed Part 10 file; absent for an object in the journal (read it with `Spool.read`). */
  path?: string
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
  /** The journal small objects go to; by default the spool opens its own in `<dir>/journal` (the gateway shares its outbox's). */
  journal?: Journal
  log?: Logger
}

/** How long a free-space reading is trusted; statfs per object would cost a syscall for nothing. */
const FREE_SPACE_TTL_MS = 500
/** Writes this large are fewer syscalls; the stream never holds more than about this much. */
const WRITE_HWM = 1 << 20
/**
 * Objects up to this size are gathered in memory and appended to the journal at commit; larger ones stream to
 * disk as they arrive. 16 associations × 1 MiB stays small.
 */
const SMALL_OBJECT_BYTES = 1 << 20

export class Spool {
  readonly dir: string
  readonly incoming: string
  readonly journal: Journal
  private readonly ownJournal: boolean
  private readonly minFreeBytes: number
  private readonly log: Logger
  private freeCheckedAt = 0
  private freeBytes = Number.POSITIVE_INFINITY
  private folderFd: number | null = null
  /** The folder fsync in progress, and the one that will follow it for commits that arrived meanwhile. */
  private runningSync: Promise<void> | null = null
  private nextSync: Promise<void> | null = null

  private constructor(dir: string, journal: Journal, ownJournal: boolean, opts: SpoolOptions) {
    this.dir = dir
    this.incoming = join(dir, 'incoming')
    this.journal = journal
    this.ownJournal = ownJournal
    this.minFreeBytes = opts.minFreeBytes ?? 0
    this.log = opts.log ?? silentLogger
  }

  /** Creates the folders if needed and removes what an interrupted write left behind. */
  static async open(dir: string, opts: SpoolOptions = {}): Promise<Spool> {
    const incoming = join(dir, 'incoming')
    const log = opts.log ?? silentLogger
    let journal: Journal
    try {
      await mkdir(incoming, { recursive: true })
      const names = await readdir(incoming)
      const committed = new Set(names.filter((n) => n.endsWith('.dcm')).map((n) => n.slice(0, -4)))
      // `.ready` files were created ahead by earlier versions.
      const stale = names.filter((n) => n.endsWith('.part') || n.endsWith('.ready') || (n.endsWith('.json') && !committed.has(n.slice(0, -5))))
      for (const n of stale) await rm(join(incoming, n), { force: true })
      if (stale.length > 0) log.warn({ spool: dir, removed: stale.length }, 'removed partial objects left by an interrupted receive')
      journal = opts.journal ?? Journal.open(join(dir, 'journal'), { log })
    } catch (e) {
      throw SpoolErrors.open(dir, e)
    }
    return new Spool(dir, journal, !opts.journal, opts)
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

  /** Starts an object; `head` is written first (for DICOM: preamble and file meta). */
  begin(info: SpoolEntryInput, head: Uint8Array): SpoolWrite {
    return new SpoolWrite(this, info, head)
  }

  /** A committed object's bytes (from the journal, or its file). */
  read(entry: Pick<SpoolEntry, 'id' | 'path'>): Uint8Array {
    return entry.path ? readFileSync(entry.path) : this.journal.read(entry.id)
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

  /** Closes the folder handle and the journal if the spool opened it (after the last commit has settled). */
  async close(): Promise<void> {
    if (this.ownJournal) this.journal.close()
    if (this.folderFd !== null) closeSync(this.folderFd)
    this.folderFd = null
  }
}

/** One object being written. `write` follows stream back-pressure: on false, wait for `onDrain`. */
export class SpoolWrite {
  /** The object's id: its journal record's, or its file's name. */
  readonly id = newId()
  private readonly spool: Spool
  private readonly info: SpoolEntryInput
  private readonly hash = createHash('sha256')
  private bytes = 0
  /** The object so far while it is small: appended to the journal with one call at commit. */
  private chunks: Uint8Array[] | null = []
  /** Once the object outgrows SMALL_OBJECT_BYTES it streams to `incoming/<id>.part` instead. */
  private file: WriteStream | null = null
  private partPath: string | null = null
  private failure: unknown = null
  private drainWaiters: Array<() => void> = []
  private finished = false

  constructor(spool: Spool, info: SpoolEntryInput, head: Uint8Array) {
    this.spool = spool
    this.info = info
    this.write(head)
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
    // An object in progress shows as `.part` (no fsync: only the commit's rename must be durable).
    const path = join(this.spool.incoming, `${this.id}.part`)
    let fd: number
    try {
      fd = openSync(path, 'wx', 0o600)
    } catch (e) {
      return this.fail(e)
    }
    this.partPath = path
    // flush: fsync before close, so "closed" means "on disk".
    const file = createWriteStream(path, { fd, flush: true, highWaterMark: WRITE_HWM })
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
   * Completes the object: a small one appended to the journal and flushed (group commit); a large one's file
   * flushed, renamed to `.dcm` and its folder fsynced (shared with concurrent commits). Throws SPOOL_WRITE_FAILED
   * (nothing of the object is kept).
   */
  async commit(): Promise<SpoolEntry> {
    this.finished = true
    const entry = (path?: string): SpoolEntry => ({
      id: this.id,
      ...(path ? { path } : {}),
      ...this.info,
      receivedAt: new Date().toISOString(),
      bytes: this.bytes,
      sha256: this.hash.digest('hex'),
    })
    if (this.chunks !== null) return this.commitSmall(entry())
    let renamed = false
    const dcm = join(this.spool.incoming, `${this.id}.dcm`)
    try {
      if (this.failure !== null) throw this.failure
      await this.closeStream()
      const e = entry(dcm)
      renameSync(this.partPath!, dcm)
      renamed = true
      await this.spool.syncFolder()
      return e
    } catch (e) {
      // Not acknowledged, so not kept: the sender will send it again.
      if (renamed) await rm(dcm, { force: true }).catch(() => {})
      await this.removeLeftovers()
      throw SpoolErrors.writeFailed(this.partPath ?? this.spool.incoming, e)
    }
  }

  /** A small object: one write into the journal (page cache), then a share of one fdatasync off the event loop. */
  private async commitSmall(e: SpoolEntry): Promise<SpoolEntry> {
    const data = Buffer.concat(this.chunks!, this.bytes)
    this.chunks = null
    const journal = this.spool.journal
    let appended = false
    try {
      if (this.failure !== null) throw this.failure
      journal.append({ id: e.id, source: e.source, callingAE: e.callingAE, bytes: e.bytes, sha256: e.sha256, receivedAt: e.receivedAt }, data)
      appended = true
      await journal.flush()
      return e
    } catch (err) {
      // Not acknowledged: the sender will send it again. (Were the record durable after all, recovery adopts it
      // after a restart; the copy the sender sends again has the same content, and the hub stores content once.)
      if (appended) journal.release(e.id)
      throw SpoolErrors.writeFailed(journal.dir, err)
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

  /** Removes the object's partial file, if it streamed. */
  private async removeLeftovers(): Promise<void> {
    if (this.partPath) await rm(this.partPath, { force: true }).catch(() => {})
  }
}
