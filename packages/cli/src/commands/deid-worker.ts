/**
 * @module One `kura deid` worker thread: de-identifies and verifies files into `<out>/.tmp/` (deidentifyFile, the
 * same call the in-thread path makes) and reports each outcome to the main thread, which alone writes the
 * re-identification table and moves outputs into the clean tree or quarantine. Files are taken from a counter shared
 * by every worker, so they spread over the cores as each finishes.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { errorText } from '@kura/core'
import { Tags, type DicomDataset, type DicomElement } from '@kura/dicom'
import { deidentifyFile, type DeidReport, type Finding, type Policy } from '@kura/deid'

export interface DeidWorkerData {
  policy: Policy
  secret: Uint8Array
  collection: string
  files: string[]
  tmpDir: string
  /** Int32Array over a SharedArrayBuffer: [0] is the next file index to take. */
  next: Int32Array
  /**
   * Int32Array over a SharedArrayBuffer, one slot per worker: 0 loading, 1 working (set here before the first file
   * is taken), 2 cancelled by the main thread (every file was taken before this worker was ready).
   */
  state: Int32Array
  slot: number
  /** Files in flight per thread (their waits on large files overlap). */
  inFlight: number
  /** Send what recordDeidentified needs (the main thread writes the table). */
  reid: boolean
}

/** What the main thread needs to record one output in the re-identification table: the source's patient elements. */
export interface ReidRecord {
  source: DicomDataset
  report: DeidReport
}

export type WorkerReply =
  | { i: number; kind: 'clean'; tmp: string; record?: ReidRecord }
  | { i: number; kind: 'quarantined'; tmp: string; findings: Array<Pick<Finding, 'path' | 'keyword' | 'kind' | 'reason'>>; record?: ReidRecord }
  | { i: number; kind: 'unreadable' | 'failed' | 'error'; reason: string }
  | { done: true }

/** The elements recordDeidentified reads, copied (a view would carry the whole source buffer to the main thread). */
const RECORDED = [Tags.PatientID, Tags.PatientName, 0x00100030]

function recordOf(source: DicomDataset, report: DeidReport): ReidRecord {
  const elements = new Map<number, DicomElement>()
  for (const tag of RECORDED) {
    const el = source.elements.get(tag)
    if (el) elements.set(tag, { ...el, bytes: el.bytes?.slice(), items: undefined, fragments: undefined })
  }
  return { source: { elements, charset: source.charset, littleEndian: source.littleEndian }, report }
}


async function run(d: DeidWorkerData, post: (m: WorkerReply) => void): Promise<void> {
  if (Atomics.compareExchange(d.state, d.slot, 0, 1) !== 0) return
  const opts = { policy: d.policy, secret: d.secret, collection: d.collection }
  const loop = async () => {
    for (let i = Atomics.add(d.next, 0, 1); i < d.files.length; i = Atomics.add(d.next, 0, 1)) {
      const tmp = join(d.tmpDir, `${randomBytes(8).toString('hex')}.dcm`)
      try {
        const r = await deidentifyFile(d.files[i]!, tmp, opts)
        if (r.kind === 'unreadable' || r.kind === 'failed') post({ i, kind: r.kind, reason: r.reason })
        else {
          const record = d.reid ? recordOf(r.source.dataset, r.report) : undefined
          if (r.kind === 'clean') post({ i, kind: 'clean', tmp, record })
          else post({ i, kind: 'quarantined', tmp, findings: r.findings.map((f) => ({ path: f.path, keyword: f.keyword, kind: f.kind, reason: f.reason })), record })
        }
      } catch (e) {
        post({ i, kind: 'error', reason: errorText(e) })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, d.inFlight) }, loop))
}

if (!isMainThread && parentPort) {
  const port = parentPort
  run(workerData as DeidWorkerData, (m) => port.postMessage(m)).finally(() => port.postMessage({ done: true }))
}
