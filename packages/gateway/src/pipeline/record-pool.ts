/**
 * @module The record stage on worker threads. `pooledRecordEngine` is a RecordEngine (the pipeline and
 * stageInput use it as they use recordEngine) with `prepare(inputs)`: the inputs are staged on worker threads
 * ahead of time, and stageInput then hands out those outputs instead of staging in-thread. The main thread is
 * left with the outbox's transactions, so parsing and de-identification use the other cores.
 *
 * The workers run the same recordEngine and stageInput, so the outputs are the ones the main thread would make
 * (record-pool.test.ts compares them byte for byte). An input that was not prepared, or whose worker failed, is
 * staged in-thread: the pool changes where the work happens, never what it decides.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Policy } from '@kura/deid'
import type { RecordOutput, SpooledInput } from '../outbox/index.ts'
import { recordEngine } from './record-engine.ts'
import type { RecordEngine } from './record-stage.ts'
import { packInputs, unpackOutputs, type PackedOutputs } from './record-wire.ts'

/** Workers run TypeScript through tsx, as the rest of Kura does (no build step): register it, then load the worker. */
const TSX_API = import.meta.resolve('tsx/esm/api')
const WORKER = new URL('./record-worker.ts', import.meta.url).href
const BOOT = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER)}) })`

export interface PooledRecordEngine extends RecordEngine {
  /** Stages `inputs` on the worker threads; stageInput(input, this) then returns their outputs. Never rejects. */
  prepare(inputs: readonly SpooledInput[]): Promise<void>
  /** The outputs prepared for `input` (taken: a second call stages in-thread), or undefined. */
  takePrepared(input: SpooledInput): RecordOutput[] | undefined
  readonly threads: number
  /** Batches a worker could not stage (staged in-thread instead), with the last reason. */
  readonly failures: { count: number; last: string | null }
  close(): Promise<void>
}

type Reply = { id: number; outputs?: PackedOutputs; error?: string }

interface Waiting { worker: Worker; resolve(outputs: RecordOutput[][] | null): void }

export function pooledRecordEngine(s: { policy: Policy; secret: Uint8Array; collection: string }, threads = availableParallelism()): PooledRecordEngine {
  const inThread = recordEngine(s)
  const n = Math.max(1, Math.min(16, Math.floor(threads)))
  const waiting = new Map<number, Waiting>()
  const prepared = new WeakMap<SpooledInput, RecordOutput[]>()
  const failures = { count: 0, last: null as string | null }
  let nextId = 0
  const workers: Worker[] = []

  // A worker keeps the process alive only while it has a batch: an idle pool must not hold the gateway open.
  const busy = new Map<Worker, number>()
  function settled(w: Waiting): void {
    const left = (busy.get(w.worker) ?? 1) - 1
    busy.set(w.worker, left)
    if (left === 0) w.worker.unref()
  }

  /** Gives up on `worker`'s batches (or every worker's): they are staged in-thread. */
  function fail(reason: string, worker?: Worker): void {
    for (const [id, w] of waiting) {
      if (worker !== undefined && w.worker !== worker) continue
      waiting.delete(id)
      settled(w)
      w.resolve(null)
    }
    failures.last = reason
  }

  function onReply(m: Reply): void {
    const w = waiting.get(m.id)
    if (w === undefined) return
    waiting.delete(m.id)
    settled(w)
    if (m.error !== undefined) { failures.count++; failures.last = m.error }
    let outputs: RecordOutput[][] | null = null
    try { outputs = m.outputs ? unpackOutputs(m.outputs) : null } catch (e) {
      failures.count++
      failures.last = `a record worker's reply could not be read: ${(e as Error).message}`
    }
    w.resolve(outputs)
  }

  function start(): Worker {
    const w = new Worker(BOOT, { eval: true, workerData: { policy: s.policy, secret: s.secret, collection: s.collection } })
    w.on('message', onReply)
    // A worker that dies is dropped (its batches staged in-thread); the others carry on.
    w.on('error', (e) => { failures.count++; fail(`a record worker stopped: ${e.message}`, w) })
    w.on('exit', () => {
      const i = workers.indexOf(w)
      if (i >= 0) workers.splice(i, 1)
      fail('a record worker exited', w)
    })
    w.unref()
    return w
  }

  for (let i = 0; i < n; i++) workers.push(start())

  function run(worker: Worker, inputs: readonly SpooledInput[]): Promise<RecordOutput[][] | null> {
    const id = nextId++
    const job = { id, inputs: packInputs(inputs) }
    return new Promise((resolve) => {
      const w: Waiting = { worker, resolve }
      waiting.set(id, w)
      busy.set(worker, (busy.get(worker) ?? 0) + 1)
      worker.ref()
      try { worker.postMessage(job, [job.inputs.bytes]) } catch (e) {
        waiting.delete(id)
        settled(w)
        failures.count++
        failures.last = (e as Error).message
        resolve(null)
      }
    })
  }

  async function prepare(inputs: readonly SpooledInput[]): Promise<void> {
    if (inputs.length === 0 || workers.length === 0) return
    // Contiguous slices: a subject's messages arrive together and stay on one worker (its caches hit).
    const per = Math.ceil(inputs.length / workers.length)
    const jobs: Array<Promise<void>> = []
    for (let k = 0; k * per < inputs.length; k++) {
      const slice = inputs.slice(k * per, (k + 1) * per)
      jobs.push(run(workers[k]!, slice).then((outputs) => {
        if (!outputs || outputs.length !== slice.length) return
        for (let i = 0; i < slice.length; i++) prepared.set(slice[i]!, outputs[i]!)
      }))
    }
    await Promise.all(jobs)
  }

  return {
    threads: n,
    failures,
    readSsmix2: inThread.readSsmix2,
    validate: inThread.validate,
    deidentify: inThread.deidentify,
    verify: inThread.verify,
    prepare,
    takePrepared(input) {
      const o = prepared.get(input)
      if (o !== undefined) prepared.delete(input)
      return o
    },
    async close() {
      const all = workers.splice(0)
      fail('the record pool was closed')
      await Promise.all(all.map((w) => w.terminate()))
    },
  }
}
