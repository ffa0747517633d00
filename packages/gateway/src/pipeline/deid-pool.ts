/**
 * @module De-identification of small DICOM objects on a worker thread. With one association a sender waits for each
 * C-STORE-RSP, and every millisecond the main thread spends de-identifying (about one per CT slice here) is a
 * millisecond a received object waits for its response; on the worker the pipeline's work uses the other core.
 *
 * The worker runs `deidentifySmall`, the function the main thread would run, so the pool changes where the work
 * happens, never what it decides. Should the worker fail or stop, the object is done here instead. Not for a
 * gateway that keeps a re-identification table: that table lives on the main thread.
 */
import type { Worker } from 'node:worker_threads'
import { deidentifySmall, type DeidSettings, type SmallOutcome } from './deidentify-object.ts'
import { tsxWorker } from './worker-boot.ts'

const WORKER = new URL('./deid-worker.ts', import.meta.url)

type Reply = { id: number; out?: SmallOutcome; error?: string }

export class DeidPool {
  private worker: Worker | null
  private readonly waiting = new Map<number, (out: SmallOutcome | null) => void>()
  private nextId = 0
  /** Objects the worker could not do (done here instead), with the last reason. */
  readonly failures = { count: 0, last: null as string | null }
  /** Objects the worker did. */
  done = 0

  constructor(private readonly settings: DeidSettings) {
    if (settings.reid) throw new Error('a gateway with a re-identification table de-identifies on its main thread')
    const { policy, secret, collection } = settings
    const w = tsxWorker(WORKER, { policy, secret, collection })
    w.on('message', (m: Reply) => this.settle(m.id, m.out ?? null, m.error))
    w.on('error', (e) => this.stop(`the de-identification worker stopped: ${e.message}`))
    w.on('exit', () => this.stop('the de-identification worker exited'))
    // An idle pool must not hold the gateway open.
    w.unref()
    this.worker = w
  }

  /** `deidentifySmall(input)` on the worker (on this thread if the worker is gone or failed it). */
  async deidentify(input: Uint8Array): Promise<SmallOutcome> {
    const w = this.worker
    if (w) {
      const id = this.nextId++
      const out = await new Promise<SmallOutcome | null>((resolve) => {
        this.waiting.set(id, resolve)
        if (this.waiting.size === 1) w.ref()
        try { w.postMessage({ id, input }) } catch (e) { this.settle(id, null, (e as Error).message) }
      })
      if (out) return out
    }
    return deidentifySmall(input, this.settings)
  }

  private settle(id: number, out: SmallOutcome | null, error?: string): void {
    const resolve = this.waiting.get(id)
    if (!resolve) return
    this.waiting.delete(id)
    if (this.waiting.size === 0) this.worker?.unref()
    if (error !== undefined) { this.failures.count++; this.failures.last = error }
    if (out) this.done++
    resolve(out)
  }

  /** Gives up on the worker: what it was doing is done on this thread. */
  private stop(reason: string): void {
    this.worker = null
    this.failures.last = reason
    for (const id of [...this.waiting.keys()]) this.settle(id, null)
  }

  async close(): Promise<void> {
    const w = this.worker
    this.stop('the de-identification pool was closed')
    await w?.terminate()
  }
}
