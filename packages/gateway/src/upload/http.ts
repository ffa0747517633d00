/** @module Minimal HTTP(S) requests over node:http, so a PATCH body can be paced by the bandwidth cap and timed out. */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface HttpOptions {
  method: string
  headers?: Record<string, string>
  /** Written piece by piece through `pace` (each piece waits for it) when given. */
  body?: Buffer
  pace?: (n: number) => Promise<void>
  /** Socket inactivity limit. */
  timeoutMs?: number
  /** Aborts the request (shutdown). */
  signal?: AbortSignal
  /** Called once the whole body has been handed to the socket (its buffer may be reused), before the answer. */
  onFlushed?: () => void
}

const PIECE = 64 * 1024

/** Resolves on 'drain' or 'close', removing the other listener (one pair per wait, never accumulating). */
function drained(req: ReturnType<typeof httpRequest>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => { req.off('drain', done); req.off('close', done); resolve() }
    req.on('drain', done)
    req.on('close', done)
  })
}

export function http(url: string, o: HttpOptions): Promise<HttpResponse> {
  const u = new URL(url)
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
    method: o.method,
    headers: { ...o.headers, ...(o.body ? { 'content-length': String(o.body.length) } : {}) },
    signal: o.signal,
  })
  req.setNoDelay(true)
  return new Promise<HttpResponse>((resolve, reject) => {
    req.setTimeout(o.timeoutMs ?? 60_000, () => req.destroy(new Error(`no answer within ${Math.round((o.timeoutMs ?? 60_000) / 1000)} s`)))
    req.on('error', reject)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    const send = async () => {
      const flushed = () => o.onFlushed?.()
      if (o.body && !o.pace) { req.end(o.body, flushed); return }
      if (o.body) {
        for (let off = 0; off < o.body.length; off += PIECE) {
          const piece = o.body.subarray(off, Math.min(o.body.length, off + PIECE))
          await o.pace!(piece.length)
          if (req.destroyed) return
          if (!req.write(piece)) await drained(req)
        }
      }
      req.end(flushed)
    }
    send().catch((e) => req.destroy(e as Error))
  })
}
