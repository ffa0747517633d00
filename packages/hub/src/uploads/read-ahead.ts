/**
 * @module A ByteSource that reads its inner source in large blocks and serves small sequential reads from the
 * last one: walking a bundle's tar headers (512 bytes each, one per entry) costs one read per block instead of
 * one read (a thread-pool round trip) per entry.
 */
import type { ByteSource } from '@kura/core'

export class ReadAhead implements ByteSource {
  private at = 0
  private block: Uint8Array = new Uint8Array(0)

  constructor(private readonly inner: ByteSource, private readonly blockBytes = 1024 * 1024) {}

  get size(): number {
    return this.inner.size
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length)
    if (offset < this.at || end > this.at + this.block.length) {
      if (length > this.blockBytes) return this.inner.read(offset, length)
      this.block = await this.inner.read(offset, this.blockBytes)
      this.at = offset
    }
    return this.block.subarray(offset - this.at, end - this.at)
  }

  /** The inner source stays open: it belongs to the caller. */
  async close(): Promise<void> {}
}
