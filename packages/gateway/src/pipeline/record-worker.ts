/**
 * @module Worker side of the record stage pool (record-pool.ts): the same recordEngine and stageInput as the main
 * thread, so a record staged here is byte for byte the one staged in-thread. One batch of inputs per message, a
 * subject's messages kept together by the pool so this thread's per-subject caches still hit.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Policy } from '@kura/deid'
import type { RecordOutput, SpooledInput } from '../outbox/index.ts'
import { recordEngine } from './record-engine.ts'
import { stageInput } from './record-stage.ts'

const engine = recordEngine(workerData as { policy: Policy; secret: Uint8Array; collection: string })

interface Job { id: number; inputs: Array<Pick<SpooledInput, 'format' | 'ref' | 'raw'>> }

function onJob(job: Job): void {
  try {
    const outputs: RecordOutput[][] = []
    for (const input of job.inputs) outputs.push(stageInput(input as SpooledInput, engine))
    parentPort!.postMessage({ id: job.id, outputs })
  } catch (e) {
    // stageInput holds rather than throws; anything else makes the main thread stage this batch itself.
    parentPort!.postMessage({ id: job.id, error: (e as Error)?.message ?? String(e) })
  }
}

parentPort!.on('message', onJob)
