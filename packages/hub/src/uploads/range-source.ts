/** @module RangeSource: a ByteSource over one byte range of another (a tar entry inside the part file), without copying. */
import type { ByteSource } from '@kura/core'

export class RangeSource implements ByteSource {
  constructor(private readonly inner: ByteSource, private readonly start: number, readonly size: number) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, this.size - offset))
    return this.inner.read(this.start + offset, n)
  }

  /** The range shares its parent's handle: closing it is the parent's business. */
  async close(): Promise<void> {}
}
