/**
 * @module Worker side of the DICOM de-identification pool (deid-pool.ts): `deidentifySmall`, the very function the
 * main thread would run, one object per message; the output's buffer is transferred back, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { errorText } from '@kura/core'
import { deidentifySmall, type DeidSettings } from './deidentify-object.ts'

const settings = workerData as DeidSettings

parentPort!.on('message', async (job: { id: number; input: Uint8Array }) => {
  try {
    const out = await deidentifySmall(job.input, settings)
    const transfer = out.output && out.output.byteOffset === 0 && out.output.byteLength === out.output.buffer.byteLength ? [out.output.buffer as ArrayBuffer] : []
    parentPort!.postMessage({ id: job.id, out }, transfer)
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: errorText(e) })
  }
})
