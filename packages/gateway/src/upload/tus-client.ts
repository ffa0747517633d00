/**
 * @module A small tus 1.0 client (creation, checksum sha256, termination) for the hub's `/uploads`
 * (docs/upload-protocol.md): create, PATCH in chunks each with `Upload-Checksum: sha256 <base64>`, and on any
 * interruption HEAD to learn the hub's durable offset and resume from there.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { http, type HttpResponse } from './http.ts'
import { UploadErrors } from './errors.ts'

export interface UploadResultObject {
  sopInstanceUid: string
  sha256: string
  outcome: 'stored' | 'duplicate' | 'conflict' | 'rejected' | 'quarantined'
  reason?: string
}

export interface UploadResult {
  state: 'complete' | 'processing' | 'failed'
  collection?: string
  study?: string
  objects: UploadResultObject[]
  reason?: string
}

export interface TusClientOptions {
  /** The hub's base URL (no trailing slash). */
  hub: string
  /** Reads the current token (the file may be replaced while the gateway runs). */
  token: () => string
  pace?: (n: number) => Promise<void>
  timeoutMs?: number
  /** Tries per chunk on network errors and 5xx before giving up the upload (the caller retries later). */
  chunkTries?: number
  /** Aborts every request (shutdown). */
  signal?: AbortSignal
}

export interface UploadSpec {
  file: string
  length: number
  metadata: Record<string, string>
  chunkBytes: number
}

const TUS = { 'tus-resumable': '1.0.0' }

export class TusClient {
  private readonly o: TusClientOptions
  /** Bytes sent in PATCH bodies the hub accepted (for rates in status). */
  sentBytes = 0
  /** Times an interrupted upload continued from a non-zero offset the hub reported (HEAD). */
  resumes = 0

  constructor(o: TusClientOptions) {
    this.o = o
  }

  private async req(what: string, url: string, method: string, headers: Record<string, string> = {}, body?: Buffer): Promise<HttpResponse> {
    let res: HttpResponse
    try {
      res = await http(url, { method, headers: { ...TUS, authorization: `Bearer ${this.o.token()}`, ...headers }, body, pace: body ? this.o.pace : undefined, timeoutMs: this.o.timeoutMs, signal: this.o.signal })
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('GATEWAY_UPLOAD') || this.o.signal?.aborted) throw e
      throw UploadErrors.network(what, e)
    }
    if (res.status === 401 || res.status === 403) throw UploadErrors.auth(res.status, this.o.hub)
    if (res.status === 507) throw UploadErrors.hubFull(this.o.hub)
    return res
  }

  /** POST /uploads → the upload's absolute URL. */
  async create(length: number, metadata: Record<string, string>): Promise<string> {
    const meta = Object.entries(metadata).map(([k, v]) => `${k} ${Buffer.from(v, 'utf8').toString('base64')}`).join(',')
    const res = await this.req('Creating an upload', `${this.o.hub}/uploads`, 'POST', { 'upload-length': String(length), 'upload-metadata': meta })
    if (res.status !== 201) throw UploadErrors.http('Creating an upload', res.status, res.body.toString('utf8'))
    const loc = res.headers.location
    if (!loc) throw UploadErrors.protocol('201 Created without a Location header')
    return new URL(loc, this.o.hub + '/').toString()
  }

  /** HEAD → the hub's durable offset, or null when the upload is unknown or expired (create a new one). */
  async offset(url: string): Promise<number | null> {
    const res = await this.req('Asking the upload offset', url, 'HEAD')
    if (res.status === 404 || res.status === 410) return null
    if (res.status !== 200 && res.status !== 204) throw UploadErrors.http('Asking the upload offset', res.status, '')
    const off = Number(res.headers['upload-offset'])
    if (!Number.isInteger(off) || off < 0) throw UploadErrors.protocol('HEAD without a valid Upload-Offset')
    return off
  }

  /** One PATCH; returns the new offset, or a string saying why the chunk must be re-sent. */
  async patch(url: string, offset: number, chunk: Buffer): Promise<number | { resend: string; status: number }> {
    const digest = createHash('sha256').update(chunk).digest('base64')
    const res = await this.req('Sending a chunk', url, 'PATCH', { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), 'upload-checksum': `sha256 ${digest}` }, chunk)
    if (res.status === 204 || res.status === 200) {
      const off = Number(res.headers['upload-offset'])
      if (!Number.isInteger(off)) throw UploadErrors.protocol('PATCH answered without Upload-Offset')
      this.sentBytes += chunk.length
      return off
    }
    // 460: the hub's digest of the body differed (corrupted on the way); 409: offsets disagree. Both: ask, resend.
    if (res.status === 460 || res.status === 409 || res.status === 404 || res.status === 410 || res.status >= 500) return { resend: res.body.toString('utf8').slice(0, 200) || `HTTP ${res.status}`, status: res.status }
    throw UploadErrors.http('Sending a chunk', res.status, res.body.toString('utf8'))
  }

  /** GET /uploads/{id}/result, waiting while it says `processing`. */
  async result(url: string, maxWaitMs = 600_000): Promise<UploadResult> {
    const until = Date.now() + maxWaitMs
    for (;;) {
      const res = await this.req('Reading the upload result', `${url}/result`, 'GET', { accept: 'application/json' })
      if (res.status !== 200) throw UploadErrors.http('Reading the upload result', res.status, res.body.toString('utf8'))
      let r: UploadResult
      try { r = JSON.parse(res.body.toString('utf8')) as UploadResult } catch { throw UploadErrors.protocol('the upload result is not JSON') }
      if (!r || !['complete', 'processing', 'failed'].includes(r.state) || (r.state !== 'processing' && !Array.isArray(r.objects))) throw UploadErrors.protocol('the upload result has no state or objects')
      if (r.state !== 'processing') return r
      if (Date.now() > until) throw UploadErrors.protocol('the upload is still processing after 10 minutes')
      await new Promise((ok) => setTimeout(ok, 1000))
    }
  }

  async terminate(url: string): Promise<void> {
    await this.req('Dropping an upload', url, 'DELETE').catch(() => {})
  }

  /**
   * Sends the whole file, resuming after interruptions, and returns the upload URL once the hub accepted the last
   * byte (its completing PATCH means "stored and indexed"). `resumeUrl` continues an upload made earlier.
   */
  async upload(spec: UploadSpec, resumeUrl?: string, onUrl?: (url: string) => void): Promise<string> {
    const tries = this.o.chunkTries ?? 5
    let url = resumeUrl ?? (await this.create(spec.length, spec.metadata))
    onUrl?.(url)
    let offset = resumeUrl ? ((await this.offset(url)) ?? -1) : 0
    if (offset > 0) this.resumes++
    if (offset < 0) { url = await this.create(spec.length, spec.metadata); onUrl?.(url); offset = 0 }
    const fh = await open(spec.file, 'r')
    try {
      let failures = 0
      while (offset < spec.length) {
        const n = Math.min(spec.chunkBytes, spec.length - offset)
        const chunk = Buffer.allocUnsafe(n)
        const { bytesRead } = await fh.read(chunk, 0, n, offset)
        if (bytesRead !== n) throw new Error(`${spec.file} is shorter than expected`)
        let r: number | { resend: string; status: number }
        try {
          r = await this.patch(url, offset, chunk)
        } catch (e) {
          if ((e as { code?: string }).code !== 'GATEWAY_UPLOAD_NETWORK' || ++failures >= tries) throw e
          r = { resend: (e as Error).message, status: 0 }
        }
        if (typeof r === 'number') {
          if (r <= offset || r > spec.length) throw UploadErrors.protocol(`PATCH moved the offset from ${offset} to ${r}`)
          offset = r
          failures = 0
          continue
        }
        if (r.status !== 0 && ++failures >= tries) throw UploadErrors.http('Sending a chunk', r.status, r.resend)
        await new Promise((ok) => setTimeout(ok, Math.min(10_000, 200 * 2 ** failures)))
        // Where does the hub stand? A broken connection may have left part of the chunk durably written.
        let known: number | null
        try {
          known = await this.offset(url)
        } catch (e) {
          if ((e as { code?: string }).code !== 'GATEWAY_UPLOAD_NETWORK' || ++failures >= tries) throw e
          continue
        }
        if (known === null) {
          url = await this.create(spec.length, spec.metadata)
          onUrl?.(url)
          offset = 0
        } else {
          if (known > 0) this.resumes++
          offset = known
        }
      }
    } finally {
      await fh.close()
    }
    return url
  }
}
