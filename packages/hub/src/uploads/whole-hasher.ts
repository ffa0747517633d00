/**
 * @module The SHA-256 hashes of uploads in progress, computed off the event loop on a worker thread.
 *
 * Each PATCH body is hashed twice on the hub: once for its own Upload-Checksum, once into the
 * running hash of the whole upload (checked against the `sha256` metadata when it completes);
 * the first body of an upload only once, since both hashes start empty and see the same bytes
 * (a gateway's bundle is one PATCH).
 * Either pass on the event loop costs about as much as receiving and writing the bytes, so both
 * run beside the receive, on one thread that reads each piece once and feeds it to both hashes
 * (two threads, one hash each, read every byte twice: 0.2–0.3 CPU-s more per GB, and at 1.6 GB/s
 * per hash one thread keeps up with about 800 MB/s of uploads).
 *
 * The thread reads the bytes back from the part file, right after the receive wrote them (from
 * the page cache: one kernel copy into a buffer it reuses), so the event loop only receives and
 * writes; the messages carry a position and a length. (Handing the socket reads themselves to the
 * thread, transferred, cost more: a transfer per 64 KiB read and as many ArrayBuffers for its GC;
 * copying them into shared memory on the event loop cost more again.) The hashes are then also of
 * what the file holds, not only of what arrived.
 *
 * Per upload the thread keeps a committed whole-upload state (every accepted PATCH), a running
 * one (every byte received so far, accepted or not yet), and the running state at the end of
 * each body not yet accepted: a PATCH's body may arrive while the one before it is still being
 * made durable, and the state at its end becomes the committed one when it is accepted. A refused
 * or broken body drops the running state (any body received behind it is refused too). That
 * state lives in this process only: a PATCH handled elsewhere (another process, after a restart)
 * makes the caller fall back to re-reading the part file.
 */
import { Worker } from 'node:worker_threads'

/**
 * Plain CommonJS so the worker runs the same with or without a TypeScript loader. It opens a body's file for reading
 * when the body begins and closes it at its end; each data message is read once and fed to both hashes, then
 * answered with the bytes hashed.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const { openSync, readSync, closeSync } = require('node:fs')
const buf = Buffer.allocUnsafe(workerData.bufBytes)
/** Per body: the part file open for reading (null once a read failed: that body's hashes are lost). */
const files = new Map()
/** Feeds bytes [pos, pos + len) of the body's file to every hash in hs; false when they could not all be read. */
function feed(body, pos, len, hs) {
  const fd = files.get(body)
  if (fd == null) return false
  try {
    for (let done = 0; done < len; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, len - done), pos + done)
      if (n === 0) throw new Error('short read')
      const piece = buf.subarray(0, n)
      for (const h of hs) h.update(piece)
      done += n
    }
    return true
  } catch {
    closeSync(fd)
    files.set(body, null)
    return false
  }
}
function close(body) {
  const fd = files.get(body)
  files.delete(body)
  if (fd != null) closeSync(fd)
}
/** Per body its own hash (null once lost); per upload the committed, running and body-end states of the whole hash. */
const bodies = new Map(), committed = new Map(), running = new Map(), ends = new Map()
/**
 * A whole hash that starts fresh (a PATCH at offset 0) sees exactly the bytes of that first body: until the body
 * ends, both are one hash object (a gateway's bundle is a single PATCH: one pass over its bytes instead of two).
 * FRESH marks a whole hash begun and not yet fed; shared maps the body to the upload whose running state it is.
 */
const FRESH = Symbol('fresh')
const shared = new Map()
/** The running whole hash of upload id, made real if it is still FRESH. */
function runningOf(id) {
  const h = running.get(id)
  if (h !== FRESH) return h
  const fresh = createHash('sha256')
  running.set(id, fresh)
  return fresh
}
/** Body \`body\` ended or is about to be finalized (whichever comes first): a whole hash sharing it continues on its own copy. */
function unshare(body) {
  const id = shared.get(body)
  if (id === undefined) return
  shared.delete(body)
  const h = bodies.get(body)
  if (running.get(id) === h) { if (h) running.set(id, h.copy()); else running.delete(id) }
}
parentPort.on('message', (m) => {
  switch (m.op) {
    case 'body': {
      bodies.set(m.body, createHash('sha256'))
      try { files.set(m.body, openSync(m.path, 'r')) } catch { files.set(m.body, null) }
      break
    }
    case 'begin': {
      // 'running': the body continues the one before it (not yet accepted); else a fresh or the committed state.
      if (m.from === 'running') break
      ends.set(m.id, [])
      // Without the committed state (lost with a failed thread) there is no hash to continue: digest says null.
      const base = committed.get(m.id)
      if (m.from === 'fresh') running.set(m.id, FRESH)
      else if (base) running.set(m.id, base.copy())
      else running.delete(m.id)
      break
    }
    case 'data': {
      const b = bodies.get(m.body)
      let h = m.id === null ? undefined : running.get(m.id)
      if (h === FRESH) {
        if (b) { running.set(m.id, (h = b)); shared.set(m.body, m.id) } else h = runningOf(m.id)
      }
      const hs = []
      if (b) hs.push(b)
      if (h && h !== b) hs.push(h)
      if (hs.length > 0 && !feed(m.body, m.pos, m.len, hs)) {
        shared.delete(m.body)
        bodies.set(m.body, null)
        if (h) running.delete(m.id)
      }
      parentPort.postMessage({ hashed: m.len })
      break
    }
    case 'end': {
      unshare(m.body)
      close(m.body)
      if (m.id === null) break
      const h = runningOf(m.id)
      let list = ends.get(m.id)
      if (!list) ends.set(m.id, (list = []))
      list.push(h ? h.copy() : null)
      break
    }
    case 'body-digest': {
      unshare(m.body)
      const h = bodies.get(m.body)
      bodies.delete(m.body)
      close(m.body)
      parentPort.postMessage({ seq: m.seq, digest: h ? h.digest('base64') : null })
      break
    }
    case 'commit': {
      // Accepted bytes this hash did not see: no state, so the caller re-reads the part file at the end.
      const h = ends.get(m.id)?.shift()
      if (h) committed.set(m.id, h)
      else committed.delete(m.id)
      break
    }
    case 'discard': running.delete(m.id); ends.delete(m.id); break
    case 'forget': running.delete(m.id); ends.delete(m.id); committed.delete(m.id); break
    case 'digest': {
      const h = runningOf(m.id)
      parentPort.postMessage({ seq: m.seq, digest: h ? h.copy().digest('hex') : null })
      break
    }
  }
})
`

/** The thread's read buffer: a position range is read (and hashed) in pieces of at most this. */
const READ_BYTES = 4 * 1024 * 1024

type Reply = { seq: number; digest: string | null } | { hashed: number }

/** Where the whole-upload hash of a body starts: empty (offset 0), the committed state, or where the body before it (not yet accepted) ended. */
export type HashFrom = 'fresh' | 'committed' | 'running'

export class UploadHasher {
  private worker: Worker | null = null
  private seq = 0
  private bodySeq = 0
  private readonly waiting = new Map<number, (digest: string | null) => void>()
  /** Bytes handed to the thread and not yet hashed. */
  private queued = 0
  private readonly caughtUpWaiters: Array<{ limit: number; done: () => void }> = []

  private get w(): Worker {
    return (this.worker ??= this.start())
  }

  private start(): Worker {
    const w = new Worker(WORKER, { eval: true, workerData: { bufBytes: READ_BYTES } })
    w.unref()
    // A failed thread's late answers must not count against the new one.
    w.on('message', (m: Reply) => { if (this.worker === w) this.onReply(m) })
    w.on('error', () => this.fail(w))
    return w
  }

  private onReply(m: Reply): void {
    if ('hashed' in m) {
      this.queued -= m.hashed
      this.wake()
      return
    }
    this.waiting.get(m.seq)?.(m.digest)
    this.waiting.delete(m.seq)
  }

  /**
   * The worker died: nothing is lost. Uploads whose whole-upload state was there are hashed by
   * re-reading their part file; bodies whose digest was pending are refused and sent again.
   */
  private fail(w: Worker): void {
    if (this.worker !== w) return
    this.worker = null
    void w.terminate()
    for (const done of this.waiting.values()) done(null)
    this.waiting.clear()
    this.queued = 0
    this.wake()
  }

  private wake(): void {
    for (let i = this.caughtUpWaiters.length - 1; i >= 0; i--) {
      const c = this.caughtUpWaiters[i]!
      if (this.queued <= c.limit) {
        this.caughtUpWaiters.splice(i, 1)
        c.done()
      }
    }
  }

  private ask(m: { op: string; id?: string; body?: number }): Promise<string | null> {
    const seq = ++this.seq
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve)
      this.w.postMessage({ ...m, seq })
    })
  }

  /** A PATCH begins: where the whole-upload hash of upload `id` continues from (see HashFrom). */
  begin(id: string, from: HashFrom): void {
    this.w.postMessage({ op: 'begin', id, from })
  }

  /** A PATCH body begins, to be written to `path`: returns the number that names its own hash. */
  startBody(path: string): number {
    const body = ++this.bodySeq
    this.w.postMessage({ op: 'body', body, path })
    return body
  }

  /**
   * Bytes [pos, pos + len) of the body's file, once written: hashed into body `body`'s hash (and
   * upload `id`'s whole hash, when tracked), in the order handed in.
   */
  update(body: number, id: string | null, pos: number, len: number): void {
    this.queued += len
    this.w.postMessage({ op: 'data', body, id, pos, len })
  }

  /** Resolves once at most `limit` bytes wait to be hashed: a receive never runs far ahead of its hashing. */
  caughtUp(limit: number): Promise<void> {
    if (this.queued <= limit) return Promise.resolve()
    return new Promise((done) => this.caughtUpWaiters.push({ limit, done }))
  }

  /** Every byte of body `body` has been handed to `update`: marks where upload `id`'s whole hash stands at its end. */
  endBody(body: number, id: string | null): void {
    this.w.postMessage({ op: 'end', body, id })
  }

  /** Base64 SHA-256 of everything hashed for this body (and forgets it); null when the worker failed meanwhile. */
  bodyDigest(body: number): Promise<string | null> {
    return this.ask({ op: 'body-digest', body })
  }

  /** The oldest body of `id` not yet accepted was accepted: its bytes now count. */
  commit(id: string): void {
    this.w.postMessage({ op: 'commit', id })
  }

  /** A body was refused or broke off: the committed state stays; bodies received behind it are refused too. */
  discard(id: string): void {
    this.w.postMessage({ op: 'discard', id })
  }

  forget(id: string): void {
    this.worker?.postMessage({ op: 'forget', id })
  }

  /** Hex SHA-256 of every byte of `id` received and not discarded; null when the worker holds no state for it. */
  digest(id: string): Promise<string | null> {
    return this.ask({ op: 'digest', id })
  }

  async close(): Promise<void> {
    const w = this.worker
    this.worker = null
    if (w) await w.terminate()
  }
}
