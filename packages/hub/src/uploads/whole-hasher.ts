/**
 * @module The SHA-256 hashes of uploads in progress, computed off the event loop on two worker threads.
 *
 * Each PATCH body is hashed twice on the hub: once for its own Upload-Checksum, once into the
 * running hash of the whole upload (checked against the `sha256` metadata when it completes).
 * Either pass on the event loop costs about as much as receiving and writing the bytes, so both
 * run beside the receive, one thread each, in a pipeline: the event loop hands each written
 * batch to the per-body thread, which hashes it and hands the same memory on to the
 * whole-upload thread (transferred, never copied), which hashes it and frees it. The event loop
 * waits for the per-body digest only when a body has ended, by then at most a batch behind.
 *
 * The whole-upload thread keeps per upload a committed state (every accepted PATCH) and a
 * tentative one (the PATCH being received), so a refused or broken body leaves the committed
 * state untouched. That state lives in this process only: a PATCH handled elsewhere (another
 * process, after a restart) makes the caller fall back to re-reading the part file.
 */
import { MessageChannel, Worker } from 'node:worker_threads'

/**
 * Plain CommonJS so the workers run the same with or without a TypeScript loader. `workerData.role`:
 * 'body' (receives from the event loop, forwards to `next`) or 'whole' (the end of the pipeline).
 * The per-body hash comes first because a PATCH's answer waits for it; the whole-upload hash only
 * at the completing PATCH.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
if (workerData.role === 'body') {
  const next = workerData.next
  const bodies = new Map()
  parentPort.on('message', (m) => {
    switch (m.op) {
      case 'body': bodies.set(m.body, createHash('sha256')); break
      case 'data': {
        const h = bodies.get(m.body)
        if (h) for (const b of m.bytes) h.update(b)
        next.postMessage(m, m.bytes.map((b) => b.buffer))
        break
      }
      case 'body-digest': {
        const h = bodies.get(m.body)
        bodies.delete(m.body)
        parentPort.postMessage({ seq: m.seq, digest: h ? h.digest('base64') : null })
        break
      }
      default: next.postMessage(m) // whole-upload ops, kept in order with the data
    }
  })
} else {
  const committed = new Map(), tentative = new Map()
  workerData.prev.on('message', (m) => {
    switch (m.op) {
      case 'begin': {
        // Without the committed state (lost with a failed thread) there is no hash to continue: digest says null.
        const base = committed.get(m.id)
        if (m.fresh) tentative.set(m.id, createHash('sha256'))
        else if (base) tentative.set(m.id, base.copy())
        else tentative.delete(m.id)
        break
      }
      case 'data': {
        const h = m.id === null ? undefined : tentative.get(m.id)
        let n = 0
        for (const b of m.bytes) { if (h) h.update(b); n += b.length }
        parentPort.postMessage({ hashed: n })
        break
      }
      case 'commit': {
        // Accepted bytes this hash did not see: no state, so the caller re-reads the part file at the end.
        const h = tentative.get(m.id)
        tentative.delete(m.id)
        if (h) committed.set(m.id, h)
        else committed.delete(m.id)
        break
      }
      case 'discard': tentative.delete(m.id); break
      case 'forget': tentative.delete(m.id); committed.delete(m.id); break
      case 'digest': {
        const h = tentative.get(m.id) ?? committed.get(m.id)
        parentPort.postMessage({ seq: m.seq, digest: h ? h.copy().digest('hex') : null })
        break
      }
    }
  })
}
`

type Reply = { seq: number; digest: string | null } | { hashed: number }

export class UploadHasher {
  private pair: { body: Worker; whole: Worker } | null = null
  private seq = 0
  private bodySeq = 0
  private readonly waiting = new Map<number, (digest: string | null) => void>()
  /** Bytes handed to the workers and not yet hashed by both. */
  private queued = 0
  private readonly caughtUpWaiters: Array<{ limit: number; done: () => void }> = []

  private get w(): Worker {
    return (this.pair ??= this.start()).body
  }

  private start(): { body: Worker; whole: Worker } {
    const { port1, port2 } = new MessageChannel()
    const body = new Worker(WORKER, { eval: true, workerData: { role: 'body', next: port1 }, transferList: [port1] })
    const whole = new Worker(WORKER, { eval: true, workerData: { role: 'whole', prev: port2 }, transferList: [port2] })
    const pair = { body, whole }
    for (const w of [body, whole]) {
      w.unref()
      w.on('message', (m: Reply) => this.onReply(m))
      w.on('error', () => this.fail(pair))
    }
    return pair
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
   * A worker died: nothing is lost. Uploads whose whole-upload state was there are hashed by
   * re-reading their part file; bodies whose digest was pending are refused and sent again.
   */
  private fail(pair: { body: Worker; whole: Worker }): void {
    if (this.pair !== pair) return
    this.pair = null
    void pair.body.terminate()
    void pair.whole.terminate()
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

  /** A PATCH begins: the whole-upload hash continues from an empty state (offset 0) or from the upload's committed one. */
  begin(id: string, fresh: boolean): void {
    this.w.postMessage({ op: 'begin', id, fresh })
  }

  /** A PATCH body begins: returns the number that names its own hash. */
  startBody(): number {
    const body = ++this.bodySeq
    this.w.postMessage({ op: 'body', body })
    return body
  }

  /**
   * Bytes of body `body` (and of upload `id`'s whole hash, when tracked), once the caller is done
   * with them (written): their memory is handed over to the workers, not copied (a copy of every
   * byte costs about as much as a hash). Socket reads own their memory; anything that cannot be
   * handed over (pooled or shared) is copied.
   */
  update(body: number, id: string | null, bytes: Buffer[]): void {
    const owned: ArrayBuffer[] = []
    let n = 0
    const views = bytes.map((b) => {
      n += b.length
      const ab = b.buffer
      // Only memory that is exactly this buffer: a slice of a pool would take its neighbours along.
      if (ab instanceof ArrayBuffer && b.byteOffset === 0 && ab.byteLength === b.length && !owned.includes(ab)) {
        owned.push(ab)
        return new Uint8Array(ab)
      }
      return Uint8Array.prototype.slice.call(b) as Uint8Array
    })
    this.queued += n
    const m = { op: 'data', body, id, bytes: views }
    try {
      this.w.postMessage(m, views.map((v) => v.buffer as ArrayBuffer))
    } catch {
      // Not transferable after all: copy.
      this.w.postMessage({ ...m, bytes: views.map((v) => v.slice()) })
    }
  }

  /** Resolves once at most `limit` bytes wait to be hashed: a receive never runs far ahead of its hashing (memory). */
  caughtUp(limit: number): Promise<void> {
    if (this.queued <= limit) return Promise.resolve()
    return new Promise((done) => this.caughtUpWaiters.push({ limit, done }))
  }

  /** Base64 SHA-256 of everything `update`d for this body (and forgets it); null when a worker failed meanwhile. */
  bodyDigest(body: number): Promise<string | null> {
    return this.ask({ op: 'body-digest', body })
  }

  /** The PATCH was accepted: its bytes now count. */
  commit(id: string): void {
    this.w.postMessage({ op: 'commit', id })
  }

  /** The PATCH was refused or broke off: the committed state stays. */
  discard(id: string): void {
    this.w.postMessage({ op: 'discard', id })
  }

  forget(id: string): void {
    this.pair?.body.postMessage({ op: 'forget', id })
  }

  /** Hex SHA-256 of everything begun and not discarded; null when the worker holds no state for it. */
  digest(id: string): Promise<string | null> {
    return this.ask({ op: 'digest', id })
  }

  async close(): Promise<void> {
    const p = this.pair
    this.pair = null
    if (p) await Promise.all([p.body.terminate(), p.whole.terminate()])
  }
}
