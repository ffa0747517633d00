/**
 * @module One de-identification bench worker (a worker thread; bench/deid.ts starts one per core). It takes file
 * indices from a counter shared by all workers, so the files spread over the cores as each finishes, and
 * de-identifies each file as bench/deid.ts documents: small ones read, rewritten and written with synchronous
 * file calls (for a few tens of KB a thread-pool round trip costs more than the copy), large ones streamed.
 */
import { closeSync, fstatSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { isMainThread, parentPort } from 'node:worker_threads'
import { FileSource } from '@kura/core'
import { readDicom } from '@kura/dicom'
import { deidentify, deidentifyBytes, BASIC_POLICY, SMALL_OBJECT_BYTES, type DeidContext } from '@kura/deid'

export interface DeidJob {
  files: string[]
  outDir: string
  secret: Uint8Array
  /** Int32Array over a SharedArrayBuffer: [0] is the next file index to take. */
  next: Int32Array
}

export interface DeidJobResult {
  ok: number
  failed: number
  errors: string[]
}

/** De-identifies `file` into `out`; throws what the engine or the disk throws. */
export async function deidentifyOne(file: string, out: string, ctx: DeidContext): Promise<void> {
  const small = readIfSmall(file)
  if (small) {
    writeFileSync(out, (await deidentifyBytes(small, ctx)).output)
    return
  }
  const src = await FileSource.open(file)
  try {
    const { output } = await deidentify(await readDicom(src), src, ctx)
    // Synchronous writes of the engine's chunks (1 MiB of pixel data each): no stream hop per chunk.
    const fd = openSync(out, 'w')
    try {
      for await (const chunk of output) for (let o = 0; o < chunk.length; ) o += writeSync(fd, chunk, o)
    } finally {
      closeSync(fd)
    }
  } finally {
    await src.close()
  }
}

/** The whole file when it is at most SMALL_OBJECT_BYTES, else null: one open answers both (no separate stat). */
function readIfSmall(file: string): Buffer | null {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    if (size > SMALL_OBJECT_BYTES) return null
    const buf = Buffer.allocUnsafe(size)
    for (let got = 0; got < size; ) {
      const n = readSync(fd, buf, got, size - got, got)
      if (n === 0) return buf.subarray(0, got)
      got += n
    }
    return buf
  } finally {
    closeSync(fd)
  }
}

/** Runs `job` in this thread: takes indices from the shared counter until none is left. */
export async function runJob(job: DeidJob): Promise<DeidJobResult> {
  const ctx = { policy: BASIC_POLICY, secret: job.secret, collection: 'bench' }
  const r: DeidJobResult = { ok: 0, failed: 0, errors: [] }
  for (let i = Atomics.add(job.next, 0, 1); i < job.files.length; i = Atomics.add(job.next, 0, 1)) {
    try {
      await deidentifyOne(job.files[i]!, path.join(job.outDir, `${i}.dcm`), ctx)
      r.ok++
    } catch (e) {
      r.failed++
      if (r.errors.length < 5) r.errors.push(`${job.files[i]}: ${(e as Error).message}`)
    }
  }
  return r
}

if (!isMainThread && parentPort) {
  const port = parentPort
  port.on('message', (job: DeidJob) => {
    runJob(job).then((r) => port.postMessage(r), (e) => port.postMessage({ ok: 0, failed: job.files.length, errors: [String(e)] }))
  })
  port.postMessage('ready')
}
