/**
 * @module The whole-upload SHA-256 of uploads in progress, computed on a worker thread.
 *
 * Each PATCH body is hashed twice on the hub: once for its own Upload-Checksum, once into the
 * running hash of the whole upload (checked against the `sha256` metadata when it completes).
 * Both passes on the event loop cost more than everything else the hub does for a large upload,
 * so the whole-upload pass runs here, beside the receive, on its own thread. The worker keeps per
 * upload a committed state (every accepted PATCH) and a tentative one (the PATCH being received),
 * so a refused or broken body leaves the committed state untouched. The state lives in this
 * process only: a PATCH handled elsewhere (another process, after a restart) makes the caller
 * fall back to re-reading the part file, as before.
 */
import { Worker } from 'node:worker_threads'

/** Plain CommonJS so the worker runs the same with or without a TypeScript loader. */
const WORKER = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const committed = new Map(), tentative = new Map()
parentPort.on('message', (m) => {
  switch (m.op) {
    case 'begin': {
      const base = m.fresh ? null : committed.get(m.id)
      tentative.set(m.id, base ? base.copy() : createHash('sha256'))
      break
    }
    case 'data': { const h = tentative.get(m.id); if (h) for (const b of m.bytes) h.update(b); break }
    case 'commit': { const h = tentative.get(m.id); tentative.delete(m.id); if (h) committed.set(m.id, h); break }
    case 'discard': tentative.delete(m.id); break
    case 'forget': tentative.delete(m.id); committed.delete(m.id); break
    case 'digest': {
      const h = tentative.get(m.id) ?? committed.get(m.id)
      parentPort.postMessage({ seq: m.seq, hex: h ? h.copy().digest('hex') : null })
      break
    }
  }
})
`

export class WholeHasher {
  private worker: Worker | null = null
  private seq = 0
  private readonly waiting = new Map<number, (hex: string | null) => void>()

  private get w(): Worker {
    if (this.worker) return this.worker
    const w = new Worker(WORKER, { eval: true })
    w.unref()
    w.on('message', (m: { seq: number; hex: string | null }) => {
      this.waiting.get(m.seq)?.(m.hex)
      this.waiting.delete(m.seq)
    })
    w.on('error', () => {
      // Nothing is lost: uploads whose state was here are hashed by re-reading their part file.
      for (const done of this.waiting.values()) done(null)
      this.waiting.clear()
      this.worker = null
    })
    this.worker = w
    return w
  }

  /** A PATCH begins: from an empty state (offset 0) or from the upload's committed one. */
  begin(id: string, fresh: boolean): void {
    this.w.postMessage({ op: 'begin', id, fresh })
  }

  /**
   * Bytes of the PATCH being received, once the caller is done with them (written): their memory
   * is handed over to the worker, not copied (a copy of every byte cost as much as the hash it
   * moved off this thread). Socket reads own their memory; anything that cannot be handed over
   * (pooled or shared) is copied.
   */
  update(id: string, bytes: Buffer[]): void {
    const owned: ArrayBuffer[] = []
    const views = bytes.map((b) => {
      const ab = b.buffer
      // Only memory that is exactly this buffer: a slice of a pool would take its neighbours along.
      if (ab instanceof ArrayBuffer && b.byteOffset === 0 && ab.byteLength === b.length && !owned.includes(ab)) {
        owned.push(ab)
        return new Uint8Array(ab)
      }
      return Uint8Array.prototype.slice.call(b)
    })
    try {
      this.w.postMessage({ op: 'data', id, bytes: views }, owned)
    } catch {
      // Not transferable after all: copy.
      this.w.postMessage({ op: 'data', id, bytes: views.map((v) => v.slice()) })
    }
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
    this.worker?.postMessage({ op: 'forget', id })
  }

  /** Hex SHA-256 of everything begun and not discarded; null when the worker holds no state for it. */
  digest(id: string): Promise<string | null> {
    const seq = ++this.seq
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve)
      this.w.postMessage({ op: 'digest', id, seq })
    })
  }

  async close(): Promise<void> {
    const w = this.worker
    this.worker = null
    if (w) await w.terminate()
  }
}
