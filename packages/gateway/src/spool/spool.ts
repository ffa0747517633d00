/**
 * @module Spool: where received objects land before the pipeline takes them.
 *
 * An object streams into `incoming/<id>.part`; when it is complete the file is fsynced, its
 * sidecar `<id>.json` is written and fsynced, and the rename to `<id>.dcm` (then an fsync of
 * the folder) is the commit point. So a `.dcm` always has its sidecar, and anything a crash
 * leaves behind (`.part`, or a `.json` without its `.dcm`) is removed when the spool opens.
 * Callers acknowledge an object to its sender only after `commit()` resolved.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { HashingStream, newId, type Logger, silentLogger } from '@kura/core'
import { SpoolErrors } from './errors.ts'

/** The sidecar written beside each `.dcm`: where the object came from and what it is. */
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
/** Writes this large are fewer syscalls; the pipe never holds more than about this much. */
const WRITE_HWM = 1 << 20

export class Spool {
  readonly dir: string
  readonly incoming: string
  private readonly minFreeBytes: number
  private readonly log: Logger
  private freeCheckedAt = 0
  private freeBytes = Number.POSITIVE_INFINITY

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
      const stale = names.filter((n) => n.endsWith('.part') || (n.endsWith('.json') && !committed.has(n.slice(0, -5))))
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

  /** Starts an object; `head` is written first (for DICOM: preamble and file meta). */
  begin(info: SpoolEntryInput, head: Uint8Array): SpoolWrite {
    return new SpoolWrite(this, info, head)
  }

  /** Makes the renames in `incoming/` durable (a rename is only on disk once its folder is). */
  async syncFolder(): Promise<void> {
    const fd = await open(this.incoming, 'r')
    try {
      await fd.sync()
    } finally {
      await fd.close()
    }
  }
}

/** One object being written. `write` follows stream back-pressure: on false, wait for `onDrain`. */
export class SpoolWrite {
  readonly id = newId()
  readonly partPath: string
  private readonly spool: Spool
  private readonly info: SpoolEntryInput
  private readonly hash = new HashingStream({ highWaterMark: WRITE_HWM })
  private readonly file: WriteStream
  private failure: unknown = null
  private drainWaiters: Array<() => void> = []
  private finished = false

  constructor(spool: Spool, info: SpoolEntryInput, head: Uint8Array) {
    this.spool = spool
    this.info = info
    this.partPath = join(spool.incoming, `${this.id}.part`)
    // flush: fsync before close, so "closed" means "on disk".
    this.file = createWriteStream(this.partPath, { flags: 'wx', flush: true, highWaterMark: WRITE_HWM })
    this.file.on('error', (e) => this.fail(e))
    this.hash.on('error', (e) => this.fail(e))
    this.hash.on('drain', () => this.wake())
    this.hash.pipe(this.file)
    this.hash.write(head)
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

  /** Appends bytes; false means "wait for onDrain before writing more". */
  write(chunk: Uint8Array): boolean {
    if (this.failure !== null) return true
    return this.hash.write(chunk)
  }

  onDrain(fn: () => void): void {
    if (this.failure !== null) fn()
    else this.drainWaiters.push(fn)
  }

  /** Completes the object: fsync, sidecar, rename, folder fsync. Throws SPOOL_WRITE_FAILED (the .part is removed). */
  async commit(): Promise<SpoolEntry> {
    this.finished = true
    let renamed = false
    try {
      if (this.failure !== null) throw this.failure
      // The data file's fsync (flush on close) and the sidecar's run at once: the digest is known as
      // soon as the hash has seen the last byte, before the data reaches the disk.
      const closed = new Promise<void>((resolve, reject) => {
        this.file.once('close', () => (this.failure === null ? resolve() : reject(this.failure)))
        this.file.once('error', reject)
      })
      closed.catch(() => {})
      await new Promise<void>((resolve, reject) => {
        this.hash.once('finish', resolve)
        this.hash.once('error', reject)
        this.hash.end()
      })
      const dcm = join(this.spool.incoming, `${this.id}.dcm`)
      const entry: SpoolEntry = {
        id: this.id,
        path: dcm,
        ...this.info,
        receivedAt: new Date().toISOString(),
        bytes: this.hash.bytes,
        sha256: this.hash.digest(),
      }
      await Promise.all([closed, this.writeSidecar(entry)])
      await rename(this.partPath, dcm)
      renamed = true
      await this.spool.syncFolder()
      return entry
    } catch (e) {
      // Not acknowledged, so not kept: the sender will send it again.
      if (renamed) await rm(join(this.spool.incoming, `${this.id}.dcm`), { force: true }).catch(() => {})
      await this.removeLeftovers()
      throw SpoolErrors.writeFailed(this.partPath, e)
    }
  }

  private async writeSidecar(entry: SpoolEntry): Promise<void> {
    const fd = await open(join(this.spool.incoming, `${this.id}.json`), 'wx')
    try {
      await fd.writeFile(JSON.stringify(entry, null, 1) + '\n')
      await fd.sync()
    } finally {
      await fd.close()
    }
  }

  /** Abandons the object (sender aborted, or we refuse it) and removes its partial file. */
  async discard(): Promise<void> {
    if (this.finished) return
    this.finished = true
    this.hash.unpipe(this.file)
    this.hash.destroy()
    await new Promise<void>((resolve) => {
      if (this.file.closed) return resolve()
      this.file.once('close', () => resolve())
      this.file.destroy()
    })
    await this.removeLeftovers()
  }

  private async removeLeftovers(): Promise<void> {
    await rm(this.partPath, { force: true }).catch(() => {})
    await rm(join(this.spool.incoming, `${this.id}.json`), { force: true }).catch(() => {})
  }
}
