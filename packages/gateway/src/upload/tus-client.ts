/**
 * @module A small tus 1.0 client (creation, checksum sha256, termination) for the hub's `/uploads`
 * (docs/upload-protocol.md): create, PATCH in chunks each with `Upload-Checksum: sha256 <base64>`, and on any
 * interruption HEAD to learn the hub's durable offset and resume from there.
 */
import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
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
  /**
   * Send the next chunk as soon as the previous one is on the wire, before its answer (default true, for
   * chunks of PIPELINE_MIN_CHUNK or more), so the link never idles while the hub makes a chunk durable. A
   * hub that refuses such chunks (409 twice: another process behind a load balancer, an older hub) turns
   * it off for this client.
   */
  pipeline?: boolean
}

type PatchAnswer = number | { resend: string; status: number } | { error: unknown }

export interface UploadSpec {
  /** Where the payload is: a file, or `data` in memory (a bundle built for this upload; its chunks are views of it). */
  file: string
  data?: Buffer
  /** The payload's SHA-256 (hex), when known: a payload sent in one chunk is then not hashed again. */
  sha256?: string
  length: number
  metadata: Record<string, string>
  chunkBytes: number
}

const TUS = { 'tus-resumable': '1.0.0' }
/**
 * Smaller chunks are not pipelined: a body that fits in the socket buffers (several MiB on loopback) can be
 * on the wire before the hub has begun serving it, so the next one could overtake it there and be refused.
 */
export const PIPELINE_MIN_CHUNK = 16 * 1024 * 1024

export class TusClient {
  private readonly o: TusClientOptions
  /** Bytes sent in PATCH bodies the hub accepted (for rates in status). */
  sentBytes = 0
  /** Times an interrupted upload continued from a non-zero offset the hub reported (HEAD). */
  resumes = 0
  /** Whether PATCHes are pipelined (see TusClientOptions.pipeline). */
  pipelining: boolean
  /** PATCHes the hub accepted that were sent before the answer to the one before them. */
  pipelined = 0
  private pipelineRefusals = 0

  constructor(o: TusClientOptions) {
    this.o = o
    this.pipelining = o.pipeline ?? true
  }

  private async req(what: string, url: string, method: string, headers: Record<string, string> = {}, body?: Buffer, onFlushed?: () => void): Promise<HttpResponse> {
    let res: HttpResponse
    try {
      res = await http(url, { method, headers: { ...TUS, authorization: `Bearer ${this.o.token()}`, ...headers }, body, pace: body ? this.o.pace : undefined, timeoutMs: this.o.timeoutMs, signal: this.o.signal, onFlushed })
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

  /**
   * One PATCH; returns the new offset, or a string saying why the chunk must be re-sent. `digest`: its base64
   * SHA-256, when already known; `onFlushed`: called once the body is on the wire (before the answer).
   */
  async patch(url: string, offset: number, chunk: Buffer, digest = createHash('sha256').update(chunk).digest('base64'), onFlushed?: () => void): Promise<number | { resend: string; status: number }> {
    const res = await this.req('Sending a chunk', url, 'PATCH', { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), 'upload-checksum': `sha256 ${digest}` }, chunk, onFlushed)
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
   *
   * The file is read once: each chunk is hashed piece by piece as it is read, and the next chunk is read and
   * hashed while the current one is on the wire, so reading and hashing overlap the hub's work instead of adding
   * to it. With pipelining, the next chunk goes out as soon as the current one is on the wire: while the hub
   * makes one chunk durable (fdatasync, catalog) the next is already arriving. Memory: two chunk buffers,
   * reused; a buffer is refilled only once the body that used it has been handed to the socket.
   */
  async upload(spec: UploadSpec, resumeUrl?: string, onUrl?: (url: string) => void): Promise<string> {
    const tries = this.o.chunkTries ?? 5
    let url = resumeUrl ?? (await this.create(spec.length, spec.metadata))
    onUrl?.(url)
    let offset = resumeUrl ? ((await this.offset(url)) ?? -1) : 0
    if (offset > 0) this.resumes++
    if (offset < 0) { url = await this.create(spec.length, spec.metadata); onUrl?.(url); offset = 0 }
    const fh = spec.data ? null : await open(spec.file, 'r')
    const reader = fh ? new ChunkReader(fh, spec.file, spec.length, Math.min(spec.chunkBytes, spec.length)) : new BufferChunks(spec.data!, spec.chunkBytes, spec.sha256)
    /** PATCHes sent and not yet answered, oldest first (with pipelining up to two). */
    let pending: Array<{ end: number; behind: boolean; answer: Promise<PatchAnswer> }> = []
    const drain = async () => {
      const left = pending
      pending = []
      await Promise.all(left.map((p) => p.answer))
    }
    try {
      let failures = 0
      let next = offset
      let lastOk = false
      while (offset < spec.length) {
        if (next < spec.length && pending.length < (this.pipelining && spec.chunkBytes >= PIPELINE_MIN_CHUNK ? 2 : 1)) {
          const chunk = await reader.at(next)
          reader.prefetch(next + chunk.bytes.length)
          let onWire!: () => void
          const flushed = new Promise<void>((ok) => (onWire = ok))
          const answer: Promise<PatchAnswer> = this.patch(url, next, chunk.bytes, chunk.digest, onWire).catch((error: unknown) => ({ error }))
          // The next chunk's read reuses the buffer before this one: go on only once this body is on the wire.
          await Promise.race([flushed, answer])
          pending.push({ end: next + chunk.bytes.length, behind: pending.length > 0, answer })
          next += chunk.bytes.length
          continue
        }
        const sent = pending.shift()!
        let r = await sent.answer
        if (typeof r === 'number') {
          if (r <= offset || r > spec.length) { await drain(); throw UploadErrors.protocol(`PATCH moved the offset from ${offset} to ${r}`) }
          offset = r
          failures = 0
          lastOk = true
          if (sent.behind) this.pipelined++
          // The hub kept less than was sent (it may): continue from what it has.
          if (r !== sent.end) { await drain(); next = r }
          continue
        }
        await drain()
        if ('error' in r) {
          const e = r.error
          if ((e as { code?: string }).code !== 'GATEWAY_UPLOAD_NETWORK' || ++failures >= tries) throw e
          r = { resend: (e as Error).message, status: 0 }
        }
        // A chunk sent behind one the hub then accepted, refused as a conflict: this hub does not take pipelined PATCHes.
        if (r.status === 409 && lastOk && sent.behind && ++this.pipelineRefusals >= 2) this.pipelining = false
        lastOk = false
        if (r.status !== 0 && ++failures >= tries) throw UploadErrors.http('Sending a chunk', r.status, r.resend)
        await new Promise((ok) => setTimeout(ok, Math.min(10_000, 200 * 2 ** failures)))
        // Where does the hub stand? A broken connection may have left part of the chunk durably written.
        let known: number | null
        try {
          known = await this.offset(url)
        } catch (e) {
          if ((e as { code?: string }).code !== 'GATEWAY_UPLOAD_NETWORK' || ++failures >= tries) throw e
          next = offset
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
        next = offset
      }
    } finally {
      await drain()
      await reader.settle()
      await fh?.close()
    }
    return url
  }
}

/** Read size inside a chunk: small enough that hashing one piece never holds the event loop for long. */
const READ_PIECE = 4 * 1024 * 1024

interface Chunk {
  offset: number
  bytes: Buffer
  /** Base64 SHA-256 of `bytes`. */
  digest: string
}

/**
 * Reads chunks of the file into two alternating buffers, hashing each piece as it arrives, and reads the next
 * chunk ahead while the current one is sent. A chunk's buffer is refilled only after the PATCH that used it (the
 * one before it) has handed its whole body to the socket or been answered, so a body on the wire is never overwritten.
 */
class ChunkReader {
  private readonly bufs: Buffer[] = []
  private slot = 0
  private ahead: Promise<Chunk> | null = null
  private aheadAt = -1

  constructor(private readonly fh: FileHandle, private readonly file: string, private readonly length: number, private readonly chunkBytes: number) {}

  /** The chunk that starts at `offset`: the one read ahead when it matches, else read now. */
  async at(offset: number): Promise<Chunk> {
    if (this.ahead) {
      const ahead = this.ahead
      this.ahead = null
      if (this.aheadAt === offset) return ahead
      await ahead.catch(() => {})
    }
    return this.read(offset)
  }

  /** Starts reading the chunk at `offset` (when there is one) into the buffer not on the wire. */
  prefetch(offset: number): void {
    if (offset >= this.length) return
    this.aheadAt = offset
    this.ahead = this.read(offset)
    this.ahead.catch(() => {}) // a failure surfaces when the chunk is asked for
  }

  /** Waits for a read still in progress (before the file is closed). */
  async settle(): Promise<void> {
    await this.ahead?.catch(() => {})
    this.ahead = null
  }

  private async read(offset: number): Promise<Chunk> {
    const n = Math.min(this.chunkBytes, this.length - offset)
    this.slot ^= 1
    const buf = (this.bufs[this.slot] ??= Buffer.allocUnsafe(this.chunkBytes))
    const hash = createHash('sha256')
    let done = 0
    while (done < n) {
      const { bytesRead } = await this.fh.read(buf, done, Math.min(READ_PIECE, n - done), offset + done)
      if (bytesRead === 0) throw new Error(`${this.file} is shorter than expected`)
      hash.update(buf.subarray(done, done + bytesRead))
      done += bytesRead
    }
    return { offset, bytes: buf.subarray(0, n), digest: hash.digest('base64') }
  }
}

/** ChunkReader's interface over a payload already in memory: each chunk a view, hashed when asked for. */
class BufferChunks {
  constructor(private readonly data: Buffer, private readonly chunkBytes: number, private readonly sha256Hex?: string) {}

  async at(offset: number): Promise<Chunk> {
    const bytes = this.data.subarray(offset, Math.min(this.data.length, offset + this.chunkBytes))
    const whole = offset === 0 && bytes.length === this.data.length && this.sha256Hex
    return { offset, bytes, digest: whole ? Buffer.from(this.sha256Hex, 'hex').toString('base64') : createHash('sha256').update(bytes).digest('base64') }
  }

  prefetch(_offset: number): void {}

  async settle(): Promise<void> {}
}
