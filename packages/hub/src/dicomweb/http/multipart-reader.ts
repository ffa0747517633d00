/**
 * @module Streaming multipart/related reader (RFC 2046 5.1, RFC 2387) for STOW-RS request bodies (PS3.18 10.5).
 *
 * A STOW-RS body can carry gigabytes in one part, so nothing here buffers a part: each part's
 * body is a Readable fed with zero-copy slices of the source chunks, and the source is only read
 * further when the part consumer has taken what was pushed (backpressure end to end). The
 * delimiter is found with Buffer.indexOf; only the few bytes at the end of a chunk that could be
 * the start of a delimiter are held back and glued to the next chunk.
 */
import { Readable } from 'node:stream'
import { KuraError } from '@kura/core'
import { DicomwebHttpErrors } from './errors.ts'

/** One body part: its header fields (names lowercased) and a stream of its content. */
export interface Part {
  headers: Record<string, string>
  body: Readable
}

export interface ParsedContentType {
  /** Lowercased type/subtype, e.g. 'multipart/related'. */
  type: string
  /** The boundary exactly as sent (boundaries are case-sensitive, RFC 2046 5.1.1). */
  boundary: string
  /** The `type` parameter of multipart/related (RFC 2387 3.1), lowercased, e.g. 'application/dicom'. */
  relatedType?: string
  /** All parameters: names lowercased, values unquoted. */
  params: Record<string, string>
}

export interface ReadPartsOptions {
  /** Largest header block of one part; a bigger one is treated as malformed. Default 16 KiB. */
  maxHeaderBytes?: number
  /**
   * Bytes allowed before the first delimiter. Preambles are normally empty; a long body without
   * the boundary means the boundary is wrong, and we say so without reading gigabytes. Default 1 MiB.
   */
  maxPreambleBytes?: number
  /** Buffer size of each part stream. Default 64 KiB. */
  partHighWaterMark?: number
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Splits `type/subtype; name=value; name="quoted \"value\""` (RFC 7231 3.1.1.1). Names are
 * case-insensitive so they are lowercased; the first occurrence of a repeated name wins.
 */
export function parseMediaType(header: string): { type: string; params: Record<string, string> } | null {
  let i = header.indexOf(';')
  const type = (i < 0 ? header : header.slice(0, i)).trim().toLowerCase()
  const slash = type.indexOf('/')
  if (slash <= 0 || slash === type.length - 1 || !TOKEN.test(type.slice(0, slash)) || !TOKEN.test(type.slice(slash + 1))) return null
  const params = new Map<string, string>()
  const n = header.length
  while (i >= 0 && i < n) {
    i++ // past ';'
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++
    const eq = header.indexOf('=', i)
    const semi = header.indexOf(';', i)
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      // A parameter without '=' (or an empty one between two ';'): ignore it and go on.
      if (semi < 0) break
      i = semi
      continue
    }
    const name = header.slice(i, eq).trim().toLowerCase()
    let j = eq + 1
    while (j < n && (header[j] === ' ' || header[j] === '\t')) j++
    let value: string
    if (header[j] === '"') {
      // quoted-string with quoted-pair escapes (RFC 7230 3.2.6)
      let v = ''
      j++
      while (j < n && header[j] !== '"') {
        if (header[j] === '\\' && j + 1 < n) j++
        v += header[j]
        j++
      }
      if (j >= n) return null // unterminated quote
      value = v
      j++
      i = header.indexOf(';', j)
    } else {
      const end = header.indexOf(';', j)
      value = (end < 0 ? header.slice(j) : header.slice(j, end)).trim()
      i = end
    }
    if (name && !params.has(name)) params.set(name, value)
  }
  return { type, params: Object.fromEntries(params) }
}

/**
 * Parses the Content-Type of a STOW-RS request (PS3.18 10.5.1.2: multipart/related with a `type`
 * parameter and a boundary). Throws DICOMWEB_BAD_CONTENT_TYPE when it is not multipart or has no
 * usable boundary, since the body cannot be split without one.
 */
export function parseContentType(header: string | undefined): ParsedContentType {
  if (!header || !header.trim()) throw DicomwebHttpErrors.badContentType('the Content-Type header is missing')
  const mt = parseMediaType(header)
  if (!mt) throw DicomwebHttpErrors.badContentType(`'${header}' is not a media type`)
  if (!mt.type.startsWith('multipart/')) throw DicomwebHttpErrors.badContentType(`'${mt.type}' is not multipart`)
  const boundary = mt.params.boundary
  if (boundary === undefined || boundary === '') throw DicomwebHttpErrors.badContentType('the boundary parameter is missing')
  // RFC 2046 caps boundaries at 70 characters; we accept a little more from lax clients but not
  // anything that could make the delimiter search pathological.
  if (boundary.length > 200 || /[\r\n]/.test(boundary)) throw DicomwebHttpErrors.badContentType('the boundary parameter is too long or contains line breaks')
  const out: ParsedContentType = { type: mt.type, boundary, params: mt.params }
  if (mt.params.type !== undefined) out.relatedType = mt.params.type.trim().toLowerCase()
  return out
}

/** The body stream of one part; `waitForRead` resolves when the consumer wants more (or gave up). */
class PartStream extends Readable {
  private wake: (() => void) | undefined

  override _read(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    const w = this.wake
    this.wake = undefined
    w?.()
    cb(err)
  }

  waitForRead(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve
    })
  }

  /** Resolves once the consumer has read everything (or destroyed the stream). */
  finished(): Promise<void> {
    if (this.readableEnded || this.destroyed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        this.off('end', done)
        this.off('close', done)
        resolve()
      }
      this.on('end', done)
      this.on('close', done)
    })
  }
}

type Event = { part: Part } | { done: true } | { error: Error }

const enum State {
  Preamble,
  AfterDelimiter,
  Headers,
  Body,
  Epilogue,
}

const CRLF = Buffer.from('\r\n')
const CRLFCRLF = Buffer.from('\r\n\r\n')
const EMPTY = Buffer.alloc(0)
/** Longest junk we skip between a delimiter and its CRLF (RFC 2046 transport padding is whitespace). */
const MAX_DELIMITER_LINE = 1024

/**
 * Drives the parse: reads the source, pushes part bytes into part streams and posts parts (or
 * the end, or an error) to the generator through a small queue. It runs beside the generator
 * because the generator is suspended at `yield` while the consumer reads a part.
 */
class Pump {
  private readonly delim: Buffer
  private readonly maxHeader: number
  private readonly maxPreamble: number
  private readonly hwm: number
  private state = State.Preamble
  /** The virtual CRLF lets the first delimiter match at the very start of the body (RFC 2046 dash-boundary). */
  private carry: Buffer = CRLF
  private preambleBytes = 0
  private part: PartStream | undefined
  /** A complete part whose consumer has not finished reading it yet. */
  private ending: PartStream | undefined
  private stopped = false
  private settled = false
  private readonly events: Event[] = []
  private waiter: ((e: Event) => void) | undefined
  private readonly onAborted = () => this.fail(DicomwebHttpErrors.truncated('the client closed the connection'))

  constructor(private readonly source: Readable, private readonly boundary: string, opts: ReadPartsOptions) {
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1')
    this.maxHeader = opts.maxHeaderBytes ?? 16 * 1024
    this.maxPreamble = opts.maxPreambleBytes ?? 1024 * 1024
    this.hwm = opts.partHighWaterMark ?? 64 * 1024
  }

  next(): Promise<Event> {
    const e = this.events.shift()
    if (e) return Promise.resolve(e)
    return new Promise((resolve) => {
      this.waiter = resolve
    })
  }

  private post(e: Event): void {
    const w = this.waiter
    if (w) {
      this.waiter = undefined
      w(e)
    } else this.events.push(e)
  }

  /** Ends the parse with an error: the part being read errors, and the generator throws. */
  private fail(err: Error): void {
    if (this.settled || this.stopped) return
    this.settled = true
    const p = this.part
    this.part = undefined
    if (p && !p.destroyed) p.destroy(err)
    this.source.off('aborted', this.onAborted)
    this.post({ error: err })
  }

  /** The consumer left early: drop the part in progress and stop reading (the source is left to its owner). */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    for (const p of [this.part, this.ending]) if (p && !p.destroyed) p.destroy()
    this.part = undefined
    this.ending = undefined
    this.source.off('aborted', this.onAborted)
  }

  async run(): Promise<void> {
    // IncomingMessage emits 'aborted' when the client goes away mid-body; Node 20 then also
    // destroys it with ECONNRESET, which the iterator reports, but we do not rely on that alone.
    this.source.on('aborted', this.onAborted)
    // destroyOnReturn: false so that a consumer leaving early does not kill the request socket
    // before a response is written; the caller decides what to do with the rest of the body.
    const it: AsyncIterable<Buffer | string> =
      typeof this.source.iterator === 'function' ? this.source.iterator({ destroyOnReturn: false }) : this.source
    try {
      for await (const chunk of it) {
        if (this.stopped || this.settled) break
        await this.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk)
        if (this.stopped || this.settled) break
      }
    } catch (err) {
      if (this.state === State.Epilogue) {
        // The closing delimiter was seen: the content is complete, a broken epilogue does not matter.
        this.finishOk()
        return
      }
      this.fail(sourceError(err))
      return
    }
    if (this.stopped || this.settled) return
    this.endOfInput()
  }

  private finishOk(): void {
    if (this.settled || this.stopped) return
    this.settled = true
    this.source.off('aborted', this.onAborted)
    this.post({ done: true })
  }

  private endOfInput(): void {
    switch (this.state) {
      case State.Epilogue:
        this.finishOk()
        return
      case State.Preamble:
        this.fail(DicomwebHttpErrors.badBoundary(this.boundary))
        return
      case State.Body:
        this.fail(DicomwebHttpErrors.truncated('the last part has no closing boundary'))
        return
      default:
        this.fail(DicomwebHttpErrors.truncated('the body ends inside a part header'))
    }
  }

  private async feed(chunk: Buffer): Promise<void> {
    // Gluing copies, but the carry is only non-empty when a chunk ended on a possible delimiter
    // prefix (rare in binary data) or while we wait for a header block (small by construction).
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    this.carry = EMPTY
    const dl = this.delim.length
    let pos = 0
    while (pos <= data.length) {
      if (this.stopped || this.settled) return
      switch (this.state) {
        case State.Preamble: {
          const i = data.indexOf(this.delim, pos)
          if (i < 0) {
            const keep = Math.min(data.length - pos, dl - 1)
            this.preambleBytes += data.length - pos - keep
            if (this.preambleBytes > this.maxPreamble) throw DicomwebHttpErrors.badBoundary(this.boundary)
            this.carry = data.subarray(data.length - keep)
            return
          }
          this.preambleBytes += i - pos
          if (this.preambleBytes > this.maxPreamble) throw DicomwebHttpErrors.badBoundary(this.boundary)
          pos = i + dl
          this.state = State.AfterDelimiter
          break
        }
        case State.AfterDelimiter: {
          if (data.length - pos < 2) {
            this.carry = data.subarray(pos)
            return
          }
          if (data[pos] === 0x2d && data[pos + 1] === 0x2d) {
            // close-delimiter: everything after it is epilogue, ignored (RFC 2046 5.1.1).
            this.state = State.Epilogue
            return
          }
          // Transport padding (whitespace) may follow the boundary before CRLF. RFC 2046 asks
          // implementors to match the boundary as a line prefix, so other trailing bytes on that
          // line are tolerated too, within a small limit.
          const i = data.indexOf(CRLF, pos)
          if (i < 0) {
            if (data.length - pos > MAX_DELIMITER_LINE) throw DicomwebHttpErrors.malformed('a boundary line is not followed by a line break')
            this.carry = data.subarray(pos)
            return
          }
          if (i - pos > MAX_DELIMITER_LINE) throw DicomwebHttpErrors.malformed('a boundary line is not followed by a line break')
          pos = i + 2
          this.state = State.Headers
          break
        }
        case State.Headers: {
          if (data.length - pos < 2) {
            this.carry = data.subarray(pos)
            return
          }
          let headers: Record<string, string>
          if (data[pos] === 0x0d && data[pos + 1] === 0x0a) {
            // A part with no header fields: the blank line follows the delimiter line directly.
            headers = {}
            pos += 2
          } else {
            const i = data.indexOf(CRLFCRLF, pos)
            if (i < 0) {
              if (data.length - pos > this.maxHeader) throw DicomwebHttpErrors.malformed(`a part header block is larger than ${this.maxHeader} bytes`)
              this.carry = data.subarray(pos)
              return
            }
            if (i - pos > this.maxHeader) throw DicomwebHttpErrors.malformed(`a part header block is larger than ${this.maxHeader} bytes`)
            headers = parseHeaderBlock(data.toString('utf8', pos, i))
            pos = i + 4
          }
          const body = new PartStream({ highWaterMark: this.hwm })
          // Errors reach the consumer through its own listeners/iteration and the generator
          // throws too; this keeps an unread part from crashing the process with an unhandled 'error'.
          body.on('error', noop)
          this.part = body
          this.state = State.Body
          this.post({ part: { headers, body } })
          break
        }
        case State.Body: {
          const i = data.indexOf(this.delim, pos)
          if (i >= 0) {
            if (i > pos) await this.write(data.subarray(pos, i))
            await this.endPart()
            pos = i + dl
            this.state = State.AfterDelimiter
            break
          }
          const hold = this.holdFrom(data, pos)
          if (hold > pos) await this.write(data.subarray(pos, hold))
          this.carry = data.subarray(hold)
          return
        }
        case State.Epilogue:
          return
      }
    }
  }

  /** Index from which the tail of `data` could be the start of a delimiter split across chunks. */
  private holdFrom(data: Buffer, pos: number): number {
    const end = data.length
    let i = data.indexOf(0x0d, Math.max(pos, end - (this.delim.length - 1)))
    while (i >= 0) {
      if (data.compare(this.delim, 0, end - i, i, end) === 0) return i
      i = data.indexOf(0x0d, i + 1)
    }
    return end
  }

  private async write(buf: Buffer): Promise<void> {
    const p = this.part
    // A consumer that destroyed its part does not want the rest: skip it up to the next delimiter.
    if (!p || p.destroyed) return
    if (!p.push(buf)) await p.waitForRead()
  }

  private async endPart(): Promise<void> {
    const p = this.part
    this.part = undefined
    if (!p || p.destroyed) return
    p.push(null)
    // One part at a time: the next part is only announced once this one was read or dropped,
    // so memory stays bounded however small and numerous the parts are.
    this.ending = p
    await p.finished()
    this.ending = undefined
  }
}

function noop(): void {}

/** A source failure mid-body is a truncated request; a KuraError from an upstream stage (size limit, ...) is kept as is. */
function sourceError(err: unknown): Error {
  if (err instanceof KuraError) return err
  const e = DicomwebHttpErrors.truncated('the connection was closed or failed')
  ;(e as { cause?: unknown }).cause = err
  return e
}

/** Header fields of one part (RFC 5322 2.2 syntax, with obsolete line folding unfolded). */
export function parseHeaderBlock(text: string): Record<string, string> {
  const out = new Map<string, string>()
  let last: string | undefined
  for (const line of text.split('\r\n')) {
    if (line === '') continue
    if ((line[0] === ' ' || line[0] === '\t') && last !== undefined) {
      out.set(last, `${out.get(last)} ${line.trim()}`)
      continue
    }
    const c = line.indexOf(':')
    if (c <= 0) throw DicomwebHttpErrors.malformed('a part header line has no field name')
    const name = line.slice(0, c).trim().toLowerCase()
    const value = line.slice(c + 1).trim()
    const prev = out.get(name)
    out.set(name, prev === undefined ? value : `${prev}, ${value}`)
    last = name
  }
  // fromEntries defines own properties, so a '__proto__' field name is just a key.
  return Object.fromEntries(out)
}

/**
 * Yields the parts of a multipart body one at a time.
 *
 * Contract: read (or destroy) each part's body before asking for the next part. If the next part
 * is requested while the previous body was never touched, that body is drained and discarded.
 * Errors: DICOMWEB_MULTIPART_BAD_BOUNDARY (no delimiter found, before any part),
 * DICOMWEB_MULTIPART_TRUNCATED (body or connection ended early; the part being read errors
 * with it as well), DICOMWEB_MULTIPART_MALFORMED. Leaving the loop early stops reading but
 * does not destroy `body`.
 */
export async function* readParts(body: Readable, boundary: string, opts: ReadPartsOptions = {}): AsyncGenerator<Part> {
  if (!boundary) throw DicomwebHttpErrors.badContentType('the boundary parameter is missing')
  const pump = new Pump(body, boundary, opts)
  void pump.run()
  let prev: Readable | undefined
  try {
    for (;;) {
      if (prev && !prev.readableEnded && !prev.destroyed && prev.readableFlowing === null) prev.resume()
      const e = await pump.next()
      if ('error' in e) throw e.error
      if ('done' in e) return
      prev = e.part.body
      yield e.part
    }
  } finally {
    pump.stop()
  }
}
