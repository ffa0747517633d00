/**
 * @module Streaming multipart/related writer (RFC 2046 5.1, RFC 2387) for WADO-RS responses (PS3.18 8.6.1.2).
 *
 * Parts are pulled from the source iterable only as fast as the HTTP response drains (the output
 * is a Readable built on an async generator), so a study of many large instances is streamed
 * without buffering, and a client that goes away stops the reads of the part bodies.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { DicomwebHttpErrors } from './errors.ts'

export interface OutgoingPart {
  /** Content-Type of the part, e.g. `application/dicom; transfer-syntax=1.2.840.10008.1.2.1`. */
  contentType: string
  /** Extra header fields, e.g. Content-Location (PS3.18 8.6.1.2 requires it for bulk data parts). */
  headers?: Record<string, string>
  body: Readable | Uint8Array | AsyncIterable<Uint8Array>
}

export interface MultipartOptions {
  /** The `type` parameter of multipart/related (RFC 2387 3.1): the media type of the parts, e.g. 'application/dicom'. */
  type?: string
  /** Buffer size of the output stream. Default 64 KiB. */
  highWaterMark?: number
}

/** RFC 2046 5.1.1 bchars; the last character may not be a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** 128 random bits: the chance that a part body contains `--<boundary>` is negligible. */
export function randomBoundary(): string {
  return `kura-${randomBytes(16).toString('hex')}`
}

function quoteIfNeeded(v: string): string {
  return TOKEN.test(v) ? v : `"${v.replace(/(["\\])/g, '\\$1')}"`
}

function checkHeader(name: string, value: string): void {
  if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) throw DicomwebHttpErrors.invalidPartHeader(name)
}

/**
 * Builds a multipart/related stream from `parts`. Returns the Content-Type to send (with the
 * boundary, and `type` when given) and the body stream. An error from a part body, or from the
 * part iterable, destroys the output stream with that error (the response is then cut short,
 * which is all HTTP/1.1 allows once the headers are sent).
 */
export function multipartRelated(
  parts: AsyncIterable<OutgoingPart> | Iterable<OutgoingPart>,
  boundary: string = randomBoundary(),
  opts: MultipartOptions = {},
): { contentType: string; boundary: string; stream: Readable } {
  if (!BOUNDARY.test(boundary)) throw DicomwebHttpErrors.invalidBoundary(boundary)
  let contentType = 'multipart/related'
  if (opts.type) {
    if (/[\r\n"\\]/.test(opts.type)) throw DicomwebHttpErrors.invalidPartHeader('type')
    contentType += `; type="${opts.type}"`
  }
  contentType += `; boundary=${quoteIfNeeded(boundary)}`

  async function* generate(): AsyncGenerator<Uint8Array> {
    let first = true
    for await (const part of parts) {
      if (/[\r\n\0]/.test(part.contentType)) throw DicomwebHttpErrors.invalidPartHeader('Content-Type')
      // The CRLF that ends the previous body belongs to the delimiter (RFC 2046 5.1.1), so it
      // is written with the next delimiter line, in one chunk with the part headers.
      let head = `${first ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${part.contentType}\r\n`
      for (const [name, value] of Object.entries(part.headers ?? {})) {
        if (name.toLowerCase() === 'content-type') continue
        checkHeader(name, value)
        head += `${name}: ${value}\r\n`
      }
      head += '\r\n'
      first = false
      yield Buffer.from(head, 'utf8')
      const body = part.body
      if (body instanceof Uint8Array) {
        if (body.byteLength > 0) yield body
      } else {
        for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
          if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8')
          else if (chunk.byteLength > 0) yield chunk
        }
      }
    }
    yield Buffer.from(`${first ? '' : '\r\n'}--${boundary}--\r\n`, 'latin1')
  }

  const stream = Readable.from(generate(), { objectMode: false, highWaterMark: opts.highWaterMark ?? 64 * 1024 })
  return { contentType, boundary, stream }
}
