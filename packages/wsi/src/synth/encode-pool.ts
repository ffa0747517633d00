/**
 * @module A pool of worker threads that generate and encode tiles / NDPI MCU rows, so a
 * 100k × 100k slide uses every core. `ordered()` keeps a bounded window of jobs in flight and
 * yields results in submission order, so memory stays flat and the file is written sequentially.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

export interface EncodeJob {
  kind: 'ndpi-row' | 'tile'
  x: number
  y: number
  width: number
  height: number
  downsample: number
  seed: number
  restartInterval: number
  firstRst: number
}

export interface EncodeResult {
  data: Uint8Array
  intervalStarts: number[]
}

/** Workers run TypeScript through tsx, as the rest of Kura does (no build step): register it, then load the worker. */
const TSX_API = import.meta.resolve('tsx/esm/api')
const WORKER = new URL('./encode-worker.ts', import.meta.url).href
const BOOT = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER)}) })`

export class EncodePool {
  private readonly workers: Worker[] = []
  private readonly waiting = new Map<number, { resolve(r: EncodeResult): void; reject(e: unknown): void }>()
  private nextId = 0
  private turn = 0

  constructor(quality: number, threads?: number) {
    threads = threads && threads > 0 ? threads : Math.max(1, Math.min(16, availableParallelism()))
    for (let i = 0; i < threads; i++) {
      const w = new Worker(BOOT, { eval: true, workerData: { quality } })
      w.on('message', (m: EncodeResult & { id: number }) => {
        const p = this.waiting.get(m.id)
        this.waiting.delete(m.id)
        p?.resolve({ data: m.data, intervalStarts: m.intervalStarts })
      })
      w.on('error', (e) => {
        for (const p of this.waiting.values()) p.reject(e)
        this.waiting.clear()
      })
      this.workers.push(w)
    }
  }

  get size(): number {
    return this.workers.length
  }

  run(job: EncodeJob): Promise<EncodeResult> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.workers[this.turn++ % this.workers.length].postMessage({ ...job, id })
    })
  }

  /** Results of `jobs` in order, at most 4 per worker in flight. */
  async *ordered(jobs: Iterable<EncodeJob>): AsyncGenerator<EncodeResult> {
    const window: Promise<EncodeResult>[] = []
    const max = this.workers.length * 4
    for (const j of jobs) {
      window.push(this.run(j))
      if (window.length >= max) yield await window.shift()!
    }
    while (window.length) yield await window.shift()!
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}
