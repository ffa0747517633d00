/**
 * @module Worker side of the record stage pool (record-pool.ts): the same recordEngine and stageInput as the main
 * thread, so a record staged here is byte for byte the one staged in-thread. One batch of inputs per message, a
 * subject's messages kept together by the pool so this thread's per-subject caches still hit. Inputs arrive and
 * outputs leave packed (record-wire.ts): one transferred buffer each way instead of an object graph per message.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Policy } from '@kura/deid'
import type { SpooledInput } from '../outbox/index.ts'
import { recordEngine } from './record-engine.ts'
import { stageInput } from './record-stage.ts'
import { OutputPacker, unpackInputs, type PackedInputs } from './record-wire.ts'

const engine = recordEngine(workerData as { policy: Policy; secret: Uint8Array; collection: string })

interface Job { id: number; inputs: PackedInputs }

function onJob(job: Job): void {
  try {
    // A body is about as long as its message: the inputs' size is a good first guess for the reply buffer.
    const packer = new OutputPacker(job.inputs.bytes.byteLength)
    for (const input of unpackInputs(job.inputs)) packer.add(stageInput(input as SpooledInput, engine, packer.body))
    const outputs = packer.finish()
    parentPort!.postMessage({ id: job.id, outputs }, [outputs.bytes])
  } catch (e) {
    // stageInput holds rather than throws; anything else makes the main thread stage this batch itself.
    parentPort!.postMessage({ id: job.id, error: (e as Error)?.message ?? String(e) })
  }
}

parentPort!.on('message', onJob)
