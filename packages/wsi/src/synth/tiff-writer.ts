/**
 * @module A streaming TIFF/BigTIFF writer for the synthetic slides: image data is appended as
 * it is encoded (through a write buffer), directories are written last and linked, so memory
 * holds only offsets, never pixels. NDPI mode writes classic TIFF with 8-byte next-directory
 * pointers, as Hamamatsu does (OpenSlide's tifflike reads them so).
 */
import { open, type FileHandle } from 'node:fs/promises'
import { FieldType } from '../tiff/tags.ts'

export type TagValue =
  | { type: 'short' | 'long' | 'long8' | 'slong'; values: ArrayLike<number> }
  | { type: 'rational'; values: ArrayLike<number> }
  | { type: 'float'; values: ArrayLike<number> }
  | { type: 'ascii'; value: string }
  | { type: 'undefined'; bytes: Uint8Array }

const WRITE_BUFFER = 8 * 1024 * 1024
const CLASSIC_LIMIT = 2 ** 32

export class TiffWriter {
  private pos: number
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private readonly ifds: Map<number, TagValue>[] = []

  private constructor(
    private readonly fh: FileHandle,
    readonly mode: 'classic' | 'bigtiff' | 'ndpi',
    headerSize: number,
  ) {
    this.pos = headerSize
  }

  static async create(path: string, mode: 'classic' | 'bigtiff' | 'ndpi'): Promise<TiffWriter> {
    const fh = await open(path, 'w')
    // Header now (first-IFD pointer patched at finish); NDPI reads that pointer as 8 bytes, so 16 bytes either way.
    await fh.write(new Uint8Array(16), 0, 16, 0)
    return new TiffWriter(fh, mode, 16)
  }

  get position(): number {
    return this.pos
  }

  /** Appends bytes; returns their file offset. */
  async append(bytes: Uint8Array): Promise<number> {
    const at = this.pos
    this.pending.push(bytes)
    this.pendingBytes += bytes.length
    this.pos += bytes.length
    if (this.pendingBytes >= WRITE_BUFFER) await this.drain()
    return at
  }

  private async drain(): Promise<void> {
    if (this.pendingBytes === 0) return
    const buf = Buffer.concat(this.pending)
    const at = this.pos - buf.length
    await this.fh.write(buf, 0, buf.length, at)
    this.pending = []
    this.pendingBytes = 0
  }

  addIfd(tags: Map<number, TagValue>): void {
    this.ifds.push(tags)
  }

  /** Writes every directory, links the chain, and closes the file. */
  async finish(): Promise<void> {
    const big = this.mode === 'bigtiff'
    const entrySize = big ? 20 : 12
    const inlineMax = big ? 8 : 4
    const nextSize = big || this.mode === 'ndpi' ? 8 : 4
    const ifdOffsets: number[] = []
    const blobs: { at: number; bytes: Uint8Array }[] = []
    // Lay out each IFD followed by its out-of-line values, word aligned.
    let at = this.pos + (this.pos & 1)
    if (at !== this.pos) await this.append(new Uint8Array(1))
    for (const tags of this.ifds) {
      const sorted = [...tags.entries()].sort((a, b) => a[0] - b[0])
      const ifdSize = (big ? 8 : 2) + sorted.length * entrySize + nextSize
      const ifd = new Uint8Array(ifdSize)
      const dv = new DataView(ifd.buffer)
      ifdOffsets.push(at)
      let valueAt = at + ifdSize
      if (big) dv.setBigUint64(0, BigInt(sorted.length), true)
      else dv.setUint16(0, sorted.length, true)
      const values: Uint8Array[] = []
      sorted.forEach(([tag, v], i) => {
        const { type, count, bytes } = encodeValue(v, big)
        const e = (big ? 8 : 2) + i * entrySize
        dv.setUint16(e, tag, true)
        dv.setUint16(e + 2, type, true)
        if (big) dv.setBigUint64(e + 4, BigInt(count), true)
        else dv.setUint32(e + 4, count, true)
        const vp = e + (big ? 12 : 8)
        if (bytes.length <= inlineMax) ifd.set(bytes, vp)
        else {
          if (big) dv.setBigUint64(vp, BigInt(valueAt), true)
          else dv.setUint32(vp, this.check(valueAt), true)
          const padded = bytes.length & 1 ? concat2(bytes, new Uint8Array(1)) : bytes
          values.push(padded)
          valueAt += padded.length
        }
      })
      blobs.push({ at, bytes: ifd })
      for (const v of values) blobs.push({ at: -1, bytes: v })
      at = valueAt
    }
    // Link the chain: each IFD's next pointer is the following IFD's offset.
    let k = 0
    for (const b of blobs) {
      if (b.at < 0) continue
      const next = ifdOffsets[k + 1] ?? 0
      const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset)
      const np = b.bytes.length - nextSize
      if (nextSize === 8) dv.setBigUint64(np, BigInt(next), true)
      else dv.setUint32(np, next, true)
      k++
    }
    for (const b of blobs) await this.append(b.bytes)
    await this.drain()
    const head = new Uint8Array(16)
    const hv = new DataView(head.buffer)
    head[0] = head[1] = 0x49
    if (big) {
      hv.setUint16(2, 43, true)
      hv.setUint16(4, 8, true)
      hv.setBigUint64(8, BigInt(ifdOffsets[0]), true)
    } else {
      hv.setUint16(2, 42, true)
      hv.setUint32(4, this.check(ifdOffsets[0]), true)
    }
    await this.fh.write(head, 0, 16, 0)
    await this.fh.close()
  }

  /** Classic TIFF (and NDPI as written here) holds 32-bit offsets only. */
  check(offset: number): number {
    if (this.mode !== 'bigtiff' && offset >= CLASSIC_LIMIT)
      throw new Error(`the ${this.mode} file passed 4 GB (offset ${offset}); write a smaller slide or use --format tiff (BigTIFF)`)
    return offset
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => {})
  }
}

function encodeValue(v: TagValue, big: boolean): { type: number; count: number; bytes: Uint8Array } {
  switch (v.type) {
    case 'ascii': {
      const bytes = new TextEncoder().encode(v.value + '\0')
      return { type: FieldType.ASCII, count: bytes.length, bytes }
    }
    case 'undefined':
      return { type: FieldType.UNDEFINED, count: v.bytes.length, bytes: v.bytes }
    default: {
      const n = v.values.length
      // Offsets are LONG8 in BigTIFF, LONG in classic TIFF.
      const kind = v.type === 'long8' && !big ? 'long' : v.type
      const size = kind === 'short' ? 2 : kind === 'long8' || kind === 'rational' ? 8 : 4
      const bytes = new Uint8Array(n * size)
      const dv = new DataView(bytes.buffer)
      for (let i = 0; i < n; i++) {
        const x = v.values[i]
        if (kind === 'long' && x >= CLASSIC_LIMIT) throw new Error(`offset ${x} does not fit classic TIFF; use --format tiff (BigTIFF)`)
        if (kind === 'short') dv.setUint16(i * 2, x, true)
        else if (kind === 'long') dv.setUint32(i * 4, x, true)
        else if (kind === 'slong') dv.setInt32(i * 4, x, true)
        else if (kind === 'float') dv.setFloat32(i * 4, x, true)
        else if (kind === 'long8') dv.setBigUint64(i * 8, BigInt(x), true)
        else {
          // Rationals to 1/1000 precision are plenty for resolutions.
          dv.setUint32(i * 8, Math.round(x * 1000), true)
          dv.setUint32(i * 8 + 4, 1000, true)
        }
      }
      const type = { short: FieldType.SHORT, long: FieldType.LONG, slong: FieldType.SLONG, float: FieldType.FLOAT, long8: big ? FieldType.LONG8 : FieldType.LONG, rational: FieldType.RATIONAL }[kind]
      return { type, count: n, bytes }
    }
  }
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length)
  o.set(a)
  o.set(b, a.length)
  return o
}

/** Tag helpers, so writers read as tables. */
export const short = (...values: number[]): TagValue => ({ type: 'short', values })
export const long = (...values: number[]): TagValue => ({ type: 'long', values })
export const offsets = (values: ArrayLike<number>): TagValue => ({ type: 'long8', values })
export const slong = (...values: number[]): TagValue => ({ type: 'slong', values })
export const float = (...values: number[]): TagValue => ({ type: 'float', values })
export const rational = (...values: number[]): TagValue => ({ type: 'rational', values })
export const ascii = (value: string): TagValue => ({ type: 'ascii', value })
