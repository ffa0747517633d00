/**
 * @module Worker side of the encode pool: generates and JPEG-encodes one NDPI MCU row or one
 * tile per job. Each job is independent (NDPI restart intervals reset DC prediction), so the
 * pool can spread a level across cores and the writer still appends in order.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { JpegEncoder } from './jpeg-encoder.ts'
import { tissueRgb } from './tissue.ts'
import type { EncodeJob, EncodeResult } from './encode-pool.ts'

const enc = await JpegEncoder.create((workerData as { quality: number }).quality)
let buf = new Uint8Array(0)

parentPort!.on('message', (job: EncodeJob & { id: number }) => {
  const need = job.width * job.height * 3
  if (buf.length < need) buf = new Uint8Array(need)
  const px = buf.subarray(0, need)
  tissueRgb(px, job.x, job.y, job.width, job.height, job.downsample, job.seed)
  let res: EncodeResult
  if (job.kind === 'ndpi-row') {
    const sc = enc.scan(px, job.width, job.height, job.restartInterval, job.firstRst)
    res = { data: sc.data, intervalStarts: sc.intervalStarts }
  } else {
    res = { data: enc.encodeAbbreviated(px, job.width, job.height), intervalStarts: [] }
  }
  parentPort!.postMessage({ id: job.id, ...res }, [res.data.buffer as ArrayBuffer])
})
