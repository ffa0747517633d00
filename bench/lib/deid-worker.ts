/**
 * @module One de-identification bench worker (a worker thread; bench/deid.ts starts one per core). It takes file
 * indices from a counter shared by all workers, so the files spread over the cores as each finishes, and
 * de-identifies each file as bench/deid.ts documents: small ones read, rewritten and written with synchronous
 * file calls (for a few tens of KB a thread-pool round trip costs more than the copy), large ones streamed.
 * Outputs mirror the input tree (`kura deid` and gdcmanon do the same): each output folder is made once per job.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { isMainThread, parentPort } from 'node:worker_threads'
import { FileSource } from '@kura/core'
import { readDicom } from '@kura/dicom'
import { deidentify, deidentifyBytes, deidentifyFile, BASIC_POLICY, SMALL_OBJECT_BYTES, type DeidContext } from '@kura/deid'

export interface DeidJob {
  files: string[]
  /** Output paths relative to outDir, one per file (folders included); default `<index>.dcm`. */
  outs?: string[]
  outDir: string
  secret: Uint8Array
  /** Int32Array over a SharedArrayBuffer: [0] is the next file index to take. */
  next: Int32Array
  /** What `kura deid` does per file instead (deidentifyFile): also the SHA-256 and the independent verification scan. */
  verify?: boolean
}

export interface DeidJobResult {
  ok: number
  failed: number
  errors: string[]
}

/**
 * A read buffer reused by one sequence of files (one per runJob, so concurrent jobs in one thread never share it),
 * grown as needed: a small file costs open, fstat, read, close and no allocation. Safe because nothing keeps the
 * input once its output is written: the rewrite copies every value it keeps into its own output.
 */
export interface ReadBuffer {
  b: Buffer
}

/** De-identifies `file` into `out`; throws what the engine or the disk throws. */
export async function deidentifyOne(file: string, out: string, ctx: DeidContext, rb: ReadBuffer = { b: Buffer.alloc(0) }): Promise<void> {
  const small = readIfSmall(file, rb)
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

/** The whole file (a view of `rb`) when it is at most SMALL_OBJECT_BYTES, else null. */
function readIfSmall(file: string, rb: ReadBuffer): Uint8Array | null {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    if (size > SMALL_OBJECT_BYTES) return null
    if (size > rb.b.length) rb.b = Buffer.allocUnsafeSlow(Math.max(size, rb.b.length * 2))
    let got = 0
    while (got < size) {
      const n = readSync(fd, rb.b, got, size - got, got)
      if (n === 0) break
      got += n
    }
    return rb.b.subarray(0, got)
  } finally {
    closeSync(fd)
  }
}

/** Runs `job` in this thread: takes indices from the shared counter until none is left. */
export async function runJob(job: DeidJob): Promise<DeidJobResult> {
  const ctx = { policy: BASIC_POLICY, secret: job.secret, collection: 'bench' }
  const r: DeidJobResult = { ok: 0, failed: 0, errors: [] }
  const made = new Set<string>()
  const rb: ReadBuffer = { b: Buffer.allocUnsafeSlow(256 * 1024) }
  for (let i = Atomics.add(job.next, 0, 1); i < job.files.length; i = Atomics.add(job.next, 0, 1)) {
    try {
      const out = path.join(job.outDir, job.outs?.[i] ?? `${i}.dcm`)
      const dir = path.dirname(out)
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true })
        made.add(dir)
      }
      if (job.verify) {
        const v = await deidentifyFile(job.files[i]!, out, ctx)
        if (v.kind !== 'clean') throw new Error(v.kind === 'quarantined' ? `quarantined: ${v.findings.map((f) => f.reason).join('; ')}` : `${v.kind}: ${v.reason}`)
      } else await deidentifyOne(job.files[i]!, out, ctx, rb)
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
