/**
 * @module The spool's journal: small objects appended to a few large segment files instead of a file each.
 *
 * A file per object cost the receive more than anything else here: creating an inode (0.3–1 ms of kernel time on
 * this ext4), its fdatasync, a rename and a folder fsync before every C-STORE-RSP, then a read and an unlink in the
 * pipeline. A journal record costs one write into the page cache and a share of one fdatasync: commits that arrive
 * together (several associations, or a sender that pipelines) share it, like a database's group commit.
 *
 * Layout: `<dir>/<seq>-<salt>.seg`, each a run of records `"KJR2" | u32 salt | u32 meta length | u32 data length |
 * meta (UTF-8 JSON, `JournalMeta`) | data`, little-endian; `salt` (8 hex digits in the name) is the segment's own,
 * drawn when it gets its name, in every record. (Segments named `<seq>.seg` are of an earlier version: records
 * `"KJR1" | u32 meta length | u32 data length | meta | data`; still read, never written.)
 * A segment is only ever appended to by the process that created it; a restart starts a new one, so a record torn
 * by a crash is always at the end of its segment (or of its new records, in a recycled one). A record is
 * relied on only after the fdatasync that covers it (and, for a segment's first record, the folder fsync that makes
 * the segment's name durable): the DICOM source acknowledges an object, and the pipeline records a clean output,
 * only then. A record whose data does not match its SHA-256 was never relied on: `open` stops reading a segment
 * there (it checks the data of the newest segments, the only ones a crash can have torn).
 *
 * Segments are preallocated: a spare is filled with zeros and flushed in the background (as `<uuid>.spare`, renamed
 * to its sequence name when taken into use), so appends overwrite blocks the file system has already allocated and
 * sized, and an fdatasync writes data only, with no metadata commit of the file system's journal. On this ext4 that
 * halved the fdatasync before each C-STORE-RSP and stopped appends blocking behind a running fdatasync (an append
 * that grows a file waits for the commit; measured 20–230 µs per 33 KB append, up to 25 ms). PostgreSQL zero-fills
 * its WAL segments for the same reason. A segment is plain (grown by its appends) only until the first spare is
 * ready, or when records outrun the spares; spares grow from 4 MiB to a full segment while records keep coming, so a
 * gateway that receives little preallocates little. A scan stops at the first all-zero header: the preallocated end.
 *
 * Segments are recycled, as PostgreSQL recycles WAL segments: one whose records are all released becomes the spare
 * (renamed, not deleted) unless one is ready, so a steady flow writes no zeros at all (they doubled the bytes
 * written). Its old records stay behind the new ones, each with the salt of the segment's previous name: a scan
 * stops quietly at the first record of another salt (or at the zero header written after the last record of a
 * recycled segment), so an old record is never taken for a new one, even where a new record ends exactly where an
 * old one began. Journal micro-bench (33 KB records, a flush each): 324.6 → 34.8 KB written to disk per record,
 * with the page-sized zero-fill below.
 *
 * Used twice: `journal/` for received objects (keyed by id) and `clean/journal/` for clean outputs (keyed by SHA-256;
 * a later record with the same key replaces an earlier one). Once its work is recorded a record is released; a
 * segment no longer written whose records are all released is deleted. A release is not written down: after a
 * crash, the outbox's recovery releases again what its rows say is done.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { closeSync, fdatasync, fstatSync, fsync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, unlink, writeSync, writevSync } from 'node:fs'
import { join } from 'node:path'
import { type Logger, silentLogger } from '@kura/core'

/** What every record says about its data. A later record with the same id replaces an earlier one. */
export interface RecordMeta {
  id: string
  /** Size and SHA-256 (hex) of the data. */
  bytes: number
  sha256: string
}

/** A received object's record (enough for the outbox to adopt it after a crash). */
export interface JournalMeta extends RecordMeta {
  source: 'dimse'
  callingAE: string
  /** ISO 8601, when the last byte arrived. */
  receivedAt: string
}

interface Segment {
  name: string
  fd: number
  /** Bytes appended (the next record's position). */
  size: number
  /** Bytes it may hold: a preallocated segment's length, or SEGMENT_BYTES for a plain one. */
  capacity: number
  /** This segment's salt, in each of its records (null: an earlier version's segment, read only). */
  salt: number | null
  /** Preallocated (zero-filled or recycled): appends overwrite blocks already on disk. */
  preallocated: boolean
  /** Created by this process (open for writing) and never failed: it may be recycled once its records are released. */
  writable: boolean
  /** A recycled segment: its previous life's records follow the last one written. */
  recycled: boolean
  /** Bytes a completed flush covers. */
  durable: number
  /** Records not yet released. */
  live: number
  /** No longer appended to: deleted once `live` is 0. */
  sealed: boolean
}

interface Entry<M> {
  segment: Segment
  /** Where the data starts in the segment. */
  offset: number
  meta: M
}

const MAGIC = 0x3252_4a4b // "KJR2" read as little-endian u32
const HEADER_BYTES = 16
/** The earlier version's records, still read: no salt, a 12-byte header. */
const MAGIC_V1 = 0x3152_4a4b // "KJR1"
const HEADER_BYTES_V1 = 12
/** Written after the last record of a recycled segment. */
const END_OF_RECORDS = new Uint8Array(HEADER_BYTES)
const SEGMENT_NAME = /^(\d+)(?:-([0-9a-f]{8}))?\.seg$/
/** A new segment starts past this size: large enough that creating one is rare, small enough to be freed soon. */
const SEGMENT_BYTES = 64 << 20
/**
 * Data of recent records kept in memory, so the pipeline de-identifies them without reading them back. Beyond this
 * (a backlog while the pipeline is behind) they are read from their segment.
 */
const CACHE_BYTES = 64 << 20
/** The first spare's size; each spare taken into use doubles the next, up to SEGMENT_BYTES. */
const FIRST_SPARE_BYTES = 4 << 20
/** A spare's name ends so; its own random name, so one a closed journal still prepares never meets the next run's. */
const SPARE_SUFFIX = '.spare'
/** After a spare failed (a full disk), appends go to plain segments this long before another is tried. */
const SPARE_RETRY_MS = 60_000
/**
 * Zeros are written a page per call. The page cache keeps a file in folios as large as the writes that filled it
 * (ext4 on Linux 6.x, XFS), and an append that dirties part of a folio makes the fdatasync write all of it: filled
 * 1 MiB at a time, every 33 KB record cost 1,057 KB of disk writes; a page at a time, 37 KB (measured here, Linux
 * 6.18, ext4). Writing 64 MiB so takes ≈ 60 ms of CPU against 30 ms, once per spare, in slices between events.
 */
const ZERO_PAGE = Buffer.alloc(4096)
/** Pages zero-filled per turn of the event loop (≈ 1 ms). */
const ZERO_PAGES_PER_TURN = 256

/** A preallocated segment file: ready (zero-filled and flushed, or recycled) or being prepared. */
interface Spare {
  path: string
  fd: number
  capacity: number
  ready: boolean
  /** A segment of this journal whose records were all released; its salt then, which the next name must not reuse. */
  recycled: { salt: number | null } | null
  /** The journal closed while it was prepared: it is removed when the preparation ends. */
  abandoned: boolean
}

export class Journal<M extends RecordMeta = JournalMeta> {
  readonly dir: string
  private readonly log: Logger
  private readonly entries = new Map<string, Entry<M>>()
  private readonly cache = new Map<string, Uint8Array>()
  private cacheBytes = 0
  private current: Segment | null = null
  private nextSeq: number
  private dirFd: number | null = null
  /** Segments written since the last flush started, and whether a segment was created (its name needs a folder fsync). */
  private dirty = new Set<Segment>()
  private created = false
  private runningFlush: Promise<void> | null = null
  private nextFlush: Promise<void> | null = null
  private closed = false
  private spare: Spare | null = null
  private spareBytes = FIRST_SPARE_BYTES
  private noSpareUntil = 0

  private constructor(dir: string, log: Logger, nextSeq: number) {
    this.dir = dir
    this.log = log
    this.nextSeq = nextSeq
  }

  /**
   * Opens (creating) the journal folder and reads every record's header, so `records()` lists what a previous run
   * left. Never appends to an old segment. Synchronous: it runs once, before anything is received.
   */
  static open<M extends RecordMeta = JournalMeta>(dir: string, opts: { log?: Logger } = {}): Journal<M> {
    mkdirSync(dir, { recursive: true })
    const all = readdirSync(dir)
    // Spares a previous run left (taken into use, they would have been renamed): never relied on.
    for (const n of all) if (n.endsWith(SPARE_SUFFIX)) rmSync(join(dir, n), { force: true })
    const names = all.filter((n) => SEGMENT_NAME.test(n)).sort()
    const last = names.length > 0 ? Number.parseInt(names[names.length - 1]!, 10) : 0
    const j = new Journal<M>(dir, opts.log ?? silentLogger, last + 1)
    // Only the newest segments can end in records a power loss tore (written after the last flush: the one being
    // written and one sealed just before), so only their data is checked against the hashes.
    for (const [i, n] of names.entries()) j.scan(n, i >= names.length - 2)
    return j
  }

  /**
   * Reads a segment's record headers into the index (with `check`, each record's data against its hash too); stops
   * at the first incomplete, damaged or foreign record (a torn end).
   */
  private scan(name: string, check: boolean): void {
    const fd = openSync(join(this.dir, name), 'r')
    const size = fstatSync(fd).size
    const saltHex = SEGMENT_NAME.exec(name)![2]
    const salt = saltHex === undefined ? null : Number.parseInt(saltHex, 16)
    const headerBytes = salt === null ? HEADER_BYTES_V1 : HEADER_BYTES
    // Not sealed while it is read: a record superseded by a later one in the same segment must not close it.
    const seg: Segment = { name, fd, size, capacity: size, salt, preallocated: false, writable: false, recycled: false, durable: size, live: 0, sealed: false }
    const head = Buffer.alloc(headerBytes)
    let pos = 0
    // Where the records end quietly: a preallocated segment's zeros, or a recycled one's records of its last life.
    let endOfRecords = false
    while (pos + headerBytes <= size) {
      if (readSync(fd, head, 0, headerBytes, pos) !== headerBytes) break
      endOfRecords = head.every((b) => b === 0) || (salt !== null && head.readUInt32LE(0) === MAGIC && head.readUInt32LE(4) !== salt)
      if (head.readUInt32LE(0) !== (salt === null ? MAGIC_V1 : MAGIC) || (salt !== null && head.readUInt32LE(4) !== salt)) break
      const metaLen = head.readUInt32LE(headerBytes - 8)
      const dataLen = head.readUInt32LE(headerBytes - 4)
      const end = pos + headerBytes + metaLen + dataLen
      if (end > size) break
      const metaBuf = Buffer.alloc(metaLen)
      readSync(fd, metaBuf, 0, metaLen, pos + headerBytes)
      let meta: M
      try {
        meta = JSON.parse(metaBuf.toString('utf8')) as M
      } catch {
        break
      }
      if (typeof meta.id !== 'string' || meta.bytes !== dataLen) break
      if (check && !matches(fd, pos + headerBytes + metaLen, dataLen, meta.sha256)) break
      this.index(meta, seg, pos + headerBytes + metaLen)
      pos = end
    }
    if (pos < size && !endOfRecords) this.log.warn({ segment: name, at: pos, size }, 'the spool journal ends in a record an interrupted write left incomplete; it was never acknowledged and is ignored')
    seg.sealed = true
    if (seg.live === 0) this.drop(seg)
  }

  /**
   * Records not yet released, oldest segment first. After `open`: every record a previous run left in a segment not
   * yet deleted, released or not (a release is not written down): the outbox's rows say which are done.
   */
  records(): M[] {
    return [...this.entries.values()].map((e) => e.meta)
  }

  has(id: string): boolean {
    return this.entries.has(id)
  }

  /**
   * Appends a record (written into the page cache, not yet durable: `flush` makes it so). Throws when the write
   * fails; the segment is then sealed, so nothing is ever written after a torn record.
   */
  append(meta: M, data: Uint8Array): void {
    if (this.closed) throw new Error('the spool journal is closed')
    const metaBuf = Buffer.from(JSON.stringify(meta), 'utf8')
    const length = HEADER_BYTES + metaBuf.length + data.length
    let seg = this.current
    // A ready spare replaces a plain segment at once, and a full one as soon as the record fits it.
    if (this.spare?.ready && (!seg || !seg.preallocated || seg.size + length > seg.capacity) && length <= this.spare.capacity) seg = this.takeSpare()
    else if (!seg || seg.size + length > seg.capacity) seg = this.startSegment()
    const head = Buffer.allocUnsafe(HEADER_BYTES + metaBuf.length)
    head.writeUInt32LE(MAGIC, 0)
    head.writeUInt32LE(seg.salt!, 4)
    head.writeUInt32LE(metaBuf.length, 8)
    head.writeUInt32LE(data.length, 12)
    metaBuf.copy(head, HEADER_BYTES)
    try {
      // One writev: the header and the data land together. In a recycled segment a zero header follows them (the
      // next record overwrites it), so a scan ends quietly there rather than inside the segment's old records.
      const parts = seg.recycled && seg.size + length + HEADER_BYTES <= seg.capacity ? [head, data, END_OF_RECORDS] : [head, data]
      writevAll(seg.fd, parts, seg.size)
    } catch (e) {
      seg.writable = false
      this.seal(seg)
      throw e
    }
    this.index(meta, seg, seg.size + head.length)
    seg.size += length
    this.dirty.add(seg)
    this.remember(meta.id, data)
    if (!this.spare && (!seg.preallocated || seg.size > seg.capacity / 2) && Date.now() >= this.noSpareUntil) this.prepareSpare()
  }

  /** Indexes a record; one with the same id before it is superseded (its segment may go without it). */
  private index(meta: M, seg: Segment, offset: number): void {
    const old = this.entries.get(meta.id)
    if (old) this.unref(old.segment)
    this.forget(meta.id)
    this.entries.set(meta.id, { segment: seg, offset, meta })
    seg.live++
  }

  private unref(seg: Segment): void {
    seg.live--
    if (seg.sealed && seg.live === 0 && !this.dirty.has(seg)) this.drop(seg)
  }

  /** A plain segment, grown by its appends: when no spare is ready. */
  private startSegment(): Segment {
    if (this.current) this.seal(this.current)
    const { name, salt } = this.nextName()
    // The folder again, if something removed it since `open` (once per segment: cheap).
    mkdirSync(this.dir, { recursive: true })
    const fd = openSync(join(this.dir, name), 'wx+', 0o600)
    return this.use({ name, fd, size: 0, capacity: SEGMENT_BYTES, salt, preallocated: false, writable: true, recycled: false, durable: 0, live: 0, sealed: false })
  }

  /** The ready spare becomes the current segment under the next sequence name (the next flush fsyncs the folder). */
  private takeSpare(): Segment {
    const spare = this.spare!
    this.spare = null
    if (this.current) this.seal(this.current)
    const { name, salt } = this.nextName(spare.recycled?.salt)
    renameSync(spare.path, join(this.dir, name))
    if (!spare.recycled) this.spareBytes = Math.min(SEGMENT_BYTES, this.spareBytes * 2)
    return this.use({ name, fd: spare.fd, size: 0, capacity: spare.capacity, salt, preallocated: true, writable: true, recycled: spare.recycled !== null, durable: 0, live: 0, sealed: false })
  }

  /** The next segment's name, with a salt of its own (never its previous life's, were it recycled). */
  private nextName(previous?: number | null): { name: string; salt: number } {
    let salt = randomBytes(4).readUInt32LE(0)
    if (salt === previous) salt = (salt + 1) >>> 0
    return { name: `${String(this.nextSeq++).padStart(8, '0')}-${salt.toString(16).padStart(8, '0')}.seg`, salt }
  }

  private use(seg: Segment): Segment {
    this.current = seg
    this.created = true
    return seg
  }

  /**
   * Fills a spare with zeros and flushes it, off the event loop. A failure (a full disk) is only logged: appends
   * then go on into plain segments, and the next spare is tried when the current segment needs one.
   */
  private prepareSpare(): void {
    const path = join(this.dir, `${randomUUID()}${SPARE_SUFFIX}`)
    const failed = (e: Error): void => {
      this.log.warn({ dir: this.dir, err: e.message }, 'could not preallocate a spool journal segment; appending to plain segments')
      this.noSpareUntil = Date.now() + SPARE_RETRY_MS
    }
    let fd: number
    try {
      fd = openSync(path, 'wx+', 0o600)
    } catch (e) {
      return failed(e as Error)
    }
    const spare: Spare = { path, fd, capacity: this.spareBytes, ready: false, recycled: null, abandoned: false }
    this.spare = spare
    const done = (e: NodeJS.ErrnoException | null): void => {
      if (spare.abandoned || e) {
        try { closeSync(fd) } catch { /* already closed */ }
        if (e && !spare.abandoned) {
          failed(e)
          this.spare = null
        }
        unlink(path, () => {})
        return
      }
      spare.ready = true
    }
    const fill = (at: number): void => {
      if (spare.abandoned) return done(null)
      if (at >= spare.capacity) return void fdatasync(fd, done)
      try {
        for (let k = 0; k < ZERO_PAGES_PER_TURN && at < spare.capacity; k++) at += writeSync(fd, ZERO_PAGE, 0, Math.min(ZERO_PAGE.length, spare.capacity - at), at)
      } catch (e) {
        return done(e as NodeJS.ErrnoException)
      }
      setImmediate(fill, at)
    }
    setImmediate(fill, 0)
  }

  private seal(seg: Segment): void {
    seg.sealed = true
    if (this.current === seg) this.current = null
    if (seg.live === 0 && !this.dirty.has(seg)) this.drop(seg)
  }

  /**
   * Makes every record appended so far durable. Group commit: callers that arrive while a flush runs share the next
   * one, which starts after it, so concurrent associations pay one fdatasync per round instead of one each.
   */
  flush(): Promise<void> {
    if (!this.nextFlush) {
      this.nextFlush = new Promise<void>((resolve, reject) => {
        const start = (): void => {
          this.nextFlush = null
          this.runningFlush = this.flushNow().finally(() => { this.runningFlush = null })
          this.runningFlush.then(resolve, reject)
        }
        if (this.runningFlush) this.runningFlush.then(start, start)
        else queueMicrotask(start)
      })
    }
    return this.nextFlush
  }

  private async flushNow(): Promise<void> {
    const segs = [...this.dirty]
    const sizes = segs.map((s) => s.size)
    const created = this.created
    this.dirty.clear()
    this.created = false
    try {
      await Promise.all(segs.map((s) => new Promise<void>((res, rej) => fdatasync(s.fd, (e) => (e ? rej(e) : res())))))
      if (created) {
        this.dirFd ??= openSync(this.dir, 'r')
        const fd = this.dirFd
        await new Promise<void>((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())))
      }
      segs.forEach((s, i) => { s.durable = sizes[i]! })
    } catch (e) {
      // What this flush covered is not known to be durable: those records are forgotten (so `has` never vouches for
      // one), and nothing more goes into their segments.
      for (const s of segs) {
        s.writable = false
        for (const [id, en] of this.entries) if (en.segment === s && en.offset >= s.durable) this.release(id)
        this.seal(s)
      }
      throw e
    } finally {
      for (const s of segs) if (s.sealed && s.live === 0 && !this.dirty.has(s)) this.drop(s)
    }
  }

  /** The object's bytes: from memory while recent, else read back from its segment. */
  read(id: string): Uint8Array {
    const hit = this.cache.get(id)
    if (hit) return hit
    const e = this.entries.get(id)
    if (!e) throw new Error(`object ${id} is not in the spool journal`)
    const buf = Buffer.allocUnsafe(e.meta.bytes)
    let got = 0
    while (got < buf.length) {
      const n = readSync(e.segment.fd, buf, got, buf.length - got, e.offset + got)
      if (n === 0) throw new Error(`the spool journal segment ${e.segment.name} ends inside object ${id}`)
      got += n
    }
    return buf
  }

  /** True when the record's data matches its SHA-256 (a record a crash tore does not). */
  verify(id: string): boolean {
    const e = this.entries.get(id)
    if (!e) return false
    try {
      return matches(e.segment.fd, e.offset, e.meta.bytes, e.meta.sha256)
    } catch {
      return false
    }
  }

  /** The object's outcome is recorded (or it was never acknowledged): its record may go. */
  release(id: string): void {
    const e = this.entries.get(id)
    if (!e) return
    this.entries.delete(id)
    this.forget(id)
    this.unref(e.segment)
  }

  private remember(id: string, data: Uint8Array): void {
    this.cache.set(id, data)
    this.cacheBytes += held(data)
    for (const [k, v] of this.cache) {
      if (this.cacheBytes <= CACHE_BYTES) break
      this.cache.delete(k)
      this.cacheBytes -= held(v)
    }
  }

  private forget(id: string): void {
    const v = this.cache.get(id)
    if (!v) return
    this.cache.delete(id)
    this.cacheBytes -= held(v)
  }

  /**
   * A segment whose records are all released: it becomes the spare when none is waiting and it is one of ours,
   * else it is closed and deleted (a failed unlink leaves it for the next open).
   */
  private drop(seg: Segment): void {
    if (this.recycle(seg)) return
    if (seg.fd >= 0) { try { closeSync(seg.fd) } catch { /* already closed */ } }
    seg.fd = -1
    unlink(join(this.dir, seg.name), (e) => { if (e && e.code !== 'ENOENT') this.log.warn({ segment: seg.name, err: e.message }, 'could not remove a finished spool journal segment') })
  }

  /**
   * Renames a released segment to a spare's name (its blocks are allocated and on disk: no zeros to write). A crash
   * before the rename is durable leaves the segment under its old name, its records listed again on open and
   * released again by the outbox's recovery, as for a deletion that was not yet durable.
   */
  private recycle(seg: Segment): boolean {
    if (this.closed || this.spare?.ready || !seg.writable || seg.fd < 0) return false
    const capacity = seg.preallocated ? seg.capacity : seg.size
    if (capacity < FIRST_SPARE_BYTES) return false
    const path = join(this.dir, `${randomUUID()}${SPARE_SUFFIX}`)
    try {
      renameSync(join(this.dir, seg.name), path)
    } catch {
      return false
    }
    // A spare still being zero-filled is given up (removed once its current write ends): this one is ready now.
    if (this.spare) this.spare.abandoned = true
    this.spare = { path, fd: seg.fd, capacity, ready: true, recycled: { salt: seg.salt }, abandoned: false }
    seg.fd = -1
    return true
  }

  /** Call after the last commit has settled (no flush in flight). Segments with records left stay for the next open. */
  close(): void {
    if (this.closed) return
    this.closed = true
    const segs = new Set([...this.entries.values()].map((e) => e.segment))
    if (this.current) segs.add(this.current)
    for (const s of segs) {
      if (s.live === 0) this.drop(s)
      else if (s.fd >= 0) { closeSync(s.fd); s.fd = -1 }
    }
    this.current = null
    if (this.spare?.ready) {
      closeSync(this.spare.fd)
      rmSync(this.spare.path, { force: true })
    } else if (this.spare) {
      this.spare.abandoned = true
    }
    this.spare = null
    if (this.dirFd !== null) closeSync(this.dirFd)
    this.dirFd = null
  }
}

/** Memory a cached view keeps alive: its whole buffer (an encoder's output may be a view of a larger one). */
function held(data: Uint8Array): number {
  return data.buffer.byteLength
}

/** True when `length` bytes at `offset` hash to `sha256`. */
function matches(fd: number, offset: number, length: number, sha256: string): boolean {
  const buf = Buffer.allocUnsafe(length)
  return readSync(fd, buf, 0, length, offset) === length && createHash('sha256').update(buf).digest('hex') === sha256
}

/** One pwritev of `parts` at `position`, finished by hand after a short write (legal, if rare, for regular files). */
function writevAll(fd: number, parts: Uint8Array[], position: number): void {
  let n = writevSync(fd, parts, position)
  for (const p of parts) {
    if (n >= p.length) { n -= p.length; position += p.length; continue }
    for (let off = n; off < p.length;) off += writeSync(fd, p, off, p.length - off, position + off)
    position += p.length
    n = 0
  }
}
