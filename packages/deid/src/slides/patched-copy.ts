/**
 * @module Copies a ByteSource to a new file by ranges, overwriting listed byte ranges on the way:
 * the slide is never held whole, and every byte not listed is copied unchanged.
 */
import { open } from 'node:fs/promises'
import type { ByteSource } from '@kura/core'

/** Bytes at `offset` replaced by `data`, or `length` bytes zeroed when `data` is absent. */
export interface Patch {
  readonly offset: number
  readonly length: number
  readonly data?: Uint8Array
}

const CHUNK = 8 * 1024 * 1024

/**
 * Writes `src` with `patches` applied to a new file `outPath` (which must not exist), then `append` after the
 * source's last byte (new data a patch points at, e.g. a re-encoded macro and its directory); returns bytes written.
 */
export async function patchedCopy(src: ByteSource, outPath: string, patches: readonly Patch[], append?: Uint8Array): Promise<number> {
  const sorted = [...patches].sort((a, b) => a.offset - b.offset)
  for (const p of sorted) if (p.offset < 0 || p.offset + p.length > src.size) throw new RangeError(`patch ${p.offset}+${p.length} outside the source`)
  const fh = await open(outPath, 'wx')
  try {
    let first = 0 // first patch that may still reach the current chunk
    for (let c0 = 0; c0 < src.size; c0 += CHUNK) {
      const c1 = Math.min(src.size, c0 + CHUNK)
      const chunk = Buffer.from(await src.read(c0, c1 - c0)) // a copy: sources may hand out views of their own buffers
      if (chunk.length !== c1 - c0) throw new RangeError(`short read at ${c0}`)
      while (first < sorted.length && sorted[first].offset + sorted[first].length <= c0) first++
      for (let i = first; i < sorted.length && sorted[i].offset < c1; i++) {
        const p = sorted[i]
        const s = Math.max(c0, p.offset)
        const e = Math.min(c1, p.offset + p.length)
        if (s >= e) continue
        if (p.data) chunk.set(p.data.subarray(s - p.offset, e - p.offset), s - c0)
        else chunk.fill(0, s - c0, e - c0)
      }
      let w = 0
      while (w < chunk.length) w += (await fh.write(chunk, w, chunk.length - w, c0 + w)).bytesWritten
    }
    if (append) {
      let w = 0
      while (w < append.length) w += (await fh.write(append, w, append.length - w, src.size + w)).bytesWritten
    }
    await fh.sync()
  } finally {
    await fh.close()
  }
  return src.size + (append?.length ?? 0)
}
