/**
 * @module Hashing: SHA-256 helpers. Objects are content-addressed by their SHA-256.
 */
import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256')
  bytes = 0
  private hex: string | undefined

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
    cb(null, chunk)
  }

  /** The hex digest; valid once the stream has ended. */
  digest(): string {
    this.hex ??= this.hash.digest('hex')
    return this.hex
  }
}
