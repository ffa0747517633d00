/**
 * @module A small, fast STOW-RS client for the benchmarks (PS3.18 10.5): `POST {dicomweb}/studies`
 * with `multipart/related; type="application/dicom"`, N instances per request, C requests in
 * flight over keep-alive connections. Both servers get byte-identical requests.
 *
 * The body is sent with a Content-Length (no chunked encoding), which every server accepts.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import http from 'node:http'
import { nowMs } from './util.ts'

/** A file path, the bytes themselves, or a function that builds them when the batch is sent. */
export type StowItem = string | Buffer | (() => Buffer)

export interface StowOptions {
  /** Instances per request (default 10). */
  batch?: number
  /** Requests in flight (default 4). */
  concurrency?: number
  /** Per-request timeout (default 120 s). */
  timeoutMs?: number
  /** Called after each response with the number of instances sent so far. */
  onProgress?: (done: number, total: number) => void
  /** Extra request headers (`Server.headers`: Kura's bearer token). */
  headers?: Record<string, string>
}

export interface StowResult {
  instances: number
  /** Instances the server reported as stored (ReferencedSOPSequence items, or the batch on a 200 without a parsable body). */
  ok: number
  /** Instances in FailedSOPSequence, plus every instance of a request that failed outright. */
  failed: number
  /** Stored with a WarningReason (e.g. coerced attributes). */
  warnings: number
  requests: number
  httpErrors: number
  /** First few distinct error descriptions. */
  errors: string[]
  seconds: number
  bytes: number
  instancesPerSec: number
  mbPerSec: number
}

const BOUNDARY = 'KuraBenchBoundary7MA4YWxkTrZu0gW'
export const STOW_CONTENT_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`
const PART_HEAD = Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`)
const PART_SEP = Buffer.from('\r\n')
const CLOSE = Buffer.from(`--${BOUNDARY}--\r\n`)

async function load(item: StowItem): Promise<Buffer> {
  if (typeof item === 'string') return readFile(item)
  if (Buffer.isBuffer(item)) return item
  return item()
}

/** The multipart body for some instances. */
export function multipartBody(parts: Buffer[]): Buffer[] {
  const chunks: Buffer[] = []
  for (const p of parts) chunks.push(PART_HEAD, p, PART_SEP)
  chunks.push(CLOSE)
  return chunks
}

interface Outcome {
  ok: number
  failed: number
  warnings: number
  httpError?: string
}

type DicomJson = Record<string, { vr?: string; Value?: unknown[] }>

/** Reads a STOW response: counts stored / failed / warning items. */
export function parseStowResponse(status: number, body: string, sent: number): Outcome {
  let json: DicomJson | null = null
  try {
    const parsed = body.trim() ? JSON.parse(body) : null
    json = Array.isArray(parsed) ? parsed[0] : parsed
  } catch {
    json = null
  }
  const ref = (json?.['00081199']?.Value ?? []) as DicomJson[]
  const failedSeq = (json?.['00081198']?.Value ?? []) as DicomJson[]
  const warnings = ref.filter((r) => r['00081196']).length
  if (json && (ref.length || failedSeq.length)) {
    // Instances neither referenced nor listed as failed count as failed too.
    const missing = Math.max(0, sent - ref.length - failedSeq.length)
    const out: Outcome = { ok: ref.length, failed: failedSeq.length + missing, warnings }
    if (failedSeq.length) {
      const reason = failedSeq[0]['00081197']?.Value?.[0]
      out.httpError = `status ${status}: ${failedSeq.length} failed (FailureReason ${reason ?? '?'})`
    } else if (missing) {
      out.httpError = `status ${status}: ${missing} of ${sent} instances missing from the response: ${body.slice(0, 300).replace(/\s+/g, ' ')}`
    }
    return out
  }
  if (status === 200) return { ok: sent, failed: 0, warnings: 0 }
  return { ok: 0, failed: sent, warnings: 0, httpError: `status ${status}: ${body.slice(0, 200).replace(/\s+/g, ' ')}` }
}

function post(url: string, chunks: Buffer[], agent: http.Agent, timeoutMs: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const length = chunks.reduce((n, c) => n + c.length, 0)
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { ...headers, 'Content-Type': STOW_CONTENT_TYPE, 'Content-Length': length, Accept: 'application/dicom+json' },
    }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)))
    for (const c of chunks) req.write(c)
    req.end()
  })
}

/** Sends every item to `POST {dicomwebUrl}/studies`, `batch` per request, `concurrency` at once. */
export async function stow(dicomwebUrl: string, items: StowItem[], opts: StowOptions = {}): Promise<StowResult> {
  const batch = Math.max(1, opts.batch ?? 10)
  const concurrency = Math.max(1, opts.concurrency ?? 4)
  const timeoutMs = opts.timeoutMs ?? 120_000
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const url = `${dicomwebUrl.replace(/\/$/, '')}/studies`
  const res: StowResult = {
    instances: items.length, ok: 0, failed: 0, warnings: 0, requests: 0, httpErrors: 0, errors: [], seconds: 0, bytes: 0, instancesPerSec: 0, mbPerSec: 0,
  }
  let next = 0
  let done = 0
  const t0 = nowMs()
  const worker = async () => {
    while (next < items.length) {
      const slice = items.slice(next, next + batch)
      next += slice.length
      const parts = await Promise.all(slice.map(load))
      res.bytes += parts.reduce((n, p) => n + p.length, 0)
      let outcome: Outcome
      try {
        const r = await post(url, multipartBody(parts), agent, timeoutMs, opts.headers)
        outcome = parseStowResponse(r.status, r.body, parts.length)
      } catch (e) {
        outcome = { ok: 0, failed: parts.length, warnings: 0, httpError: (e as Error).message }
      }
      res.requests++
      res.ok += outcome.ok
      res.failed += outcome.failed
      res.warnings += outcome.warnings
      if (outcome.httpError) {
        res.httpErrors++
        if (res.errors.length < 5 && !res.errors.includes(outcome.httpError)) res.errors.push(outcome.httpError)
      }
      done += slice.length
      opts.onProgress?.(done, items.length)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  res.seconds = (nowMs() - t0) / 1000
  res.instancesPerSec = res.ok / res.seconds
  res.mbPerSec = res.bytes / 1024 / 1024 / res.seconds
  agent.destroy()
  return res
}

export interface StreamStowResult {
  status: number
  outcome: Outcome
  body: string
  bytes: number
  seconds: number
  /** Seconds from the last byte sent to the response (server-side finishing work). */
  secondsAfterUpload: number
  mbPerSec: number
}

/** STOWs one (large) file, streamed from disk: the client never holds it in memory. */
export async function stowFileStreaming(dicomwebUrl: string, file: string, opts: { timeoutMs?: number; onProgress?: (sent: number, total: number) => void; headers?: Record<string, string> } = {}): Promise<StreamStowResult> {
  const size = (await stat(file)).size
  const length = PART_HEAD.length + size + PART_SEP.length + CLOSE.length
  const url = `${dicomwebUrl.replace(/\/$/, '')}/studies`
  const t0 = nowMs()
  let tUploaded = 0
  const agent = new http.Agent({ keepAlive: false })
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { ...opts.headers, 'Content-Type': STOW_CONTENT_TYPE, 'Content-Length': length, Accept: 'application/dicom+json' },
    }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => {
        const t1 = nowMs()
        const body = Buffer.concat(parts).toString('utf8')
        const status = res.statusCode ?? 0
        resolve({
          status, body, bytes: size, outcome: parseStowResponse(status, body, 1),
          seconds: (t1 - t0) / 1000,
          secondsAfterUpload: tUploaded ? (t1 - tUploaded) / 1000 : 0,
          mbPerSec: size / 1024 / 1024 / ((t1 - t0) / 1000),
        })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(opts.timeoutMs ?? 600_000, () => req.destroy(new Error('large STOW timed out')))
    req.write(PART_HEAD)
    let sent = 0
    const rs = createReadStream(file, { highWaterMark: 1024 * 1024 })
    rs.on('data', (chunk) => {
      sent += chunk.length
      opts.onProgress?.(sent, size)
      if (!req.write(chunk)) {
        rs.pause()
        req.once('drain', () => rs.resume())
      }
    })
    rs.on('error', (e) => req.destroy(e))
    rs.on('end', () => {
      req.write(PART_SEP)
      req.end(CLOSE, () => { tUploaded = nowMs() })
    })
  })
}
