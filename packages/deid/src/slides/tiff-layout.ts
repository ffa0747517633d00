/**
 * @module Where every byte of a TIFF/BigTIFF directory sits: entry, value and next-IFD pointer
 * positions, which the slide scrubber patches in place. @kura/wsi's parser answers "what is the
 * value"; this answers "where is it", and is kept apart so the scrubber and the verification
 * (which re-reads through @kura/wsi) do not share a parser.
 */
import type { ByteSource } from '@kura/core'
import { SlideDeidErrors } from './errors.ts'

const MAX_IFDS = 4096
const MAX_ENTRIES = 100_000
/** Bytes per value of each TIFF 6.0 / BigTIFF field type; other types are skipped as TIFF 6.0 asks. */
const TYPE_SIZE: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 }
export const ASCII = 2

export interface LayoutEntry {
  readonly tag: number
  readonly type: number
  readonly count: number
  readonly byteLength: number
  /** File offset of the value bytes: inside the entry when they fit, else where the entry points. */
  readonly valuePos: number
}

export interface LayoutIfd {
  readonly offset: number
  readonly entries: ReadonlyMap<number, LayoutEntry>
  /** File offset of this directory's next-IFD pointer (4 or 8 bytes). */
  readonly nextPtrPos: number
  readonly nextOffset: number
}

export class TiffLayout {
  private constructor(
    readonly src: ByteSource,
    readonly littleEndian: boolean,
    readonly bigTiff: boolean,
    /** Offset of the header's first-IFD pointer (4, or 8 in BigTIFF). */
    readonly firstPtrPos: number,
    readonly ifds: LayoutIfd[],
  ) {}

  get pointerSize(): number {
    return this.bigTiff ? 8 : 4
  }

  static async read(src: ByteSource): Promise<TiffLayout> {
    if (src.size < 16) throw SlideDeidErrors.notTiff(`only ${src.size} bytes`)
    const h = await src.read(0, 16)
    const mark = String.fromCharCode(h[0], h[1])
    if (mark !== 'II' && mark !== 'MM') throw SlideDeidErrors.notTiff('no TIFF byte-order mark')
    const le = mark === 'II'
    const dv = view(h)
    const version = dv.getUint16(2, le)
    if (version !== 42 && version !== 43) throw SlideDeidErrors.notTiff(`TIFF version ${version}`)
    const big = version === 43
    const layout = new TiffLayout(src, le, big, big ? 8 : 4, [])
    let off = big ? u64(dv, 8, le) : dv.getUint32(4, le)
    const seen = new Set<number>()
    while (off !== 0) {
      if (seen.has(off)) throw SlideDeidErrors.malformed(`IFD loop at offset ${off}`)
      if (seen.size >= MAX_IFDS) throw SlideDeidErrors.malformed(`more than ${MAX_IFDS} directories`)
      seen.add(off)
      const ifd = await layout.readIfd(off)
      layout.ifds.push(ifd)
      off = ifd.nextOffset
    }
    if (layout.ifds.length === 0) throw SlideDeidErrors.malformed('no image directory')
    return layout
  }

  /** Reads one directory at `offset` (used for the main chain and for SubIFDs). */
  async readIfd(offset: number): Promise<LayoutIfd> {
    const le = this.littleEndian
    const cs = this.bigTiff ? 8 : 2
    const es = this.bigTiff ? 20 : 12
    const ps = this.pointerSize
    const head = await this.exact(offset, cs)
    const n = this.bigTiff ? u64(view(head), 0, le) : view(head).getUint16(0, le)
    if (n > MAX_ENTRIES) throw SlideDeidErrors.malformed(`directory at ${offset} claims ${n} entries`)
    const buf = await this.exact(offset, cs + n * es + ps)
    const dv = view(buf)
    const entries = new Map<number, LayoutEntry>()
    for (let i = 0; i < n; i++) {
      const p = cs + i * es
      const tag = dv.getUint16(p, le)
      const type = dv.getUint16(p + 2, le)
      const count = this.bigTiff ? u64(dv, p + 4, le) : dv.getUint32(p + 4, le)
      const size = TYPE_SIZE[type]
      if (size === undefined) continue
      const byteLength = size * count
      const vp = p + (this.bigTiff ? 12 : 8)
      const valuePos = byteLength <= ps ? offset + vp : this.bigTiff ? u64(dv, vp, le) : dv.getUint32(vp, le)
      if (valuePos + byteLength > this.src.size) throw SlideDeidErrors.malformed(`tag ${tag} at directory ${offset} points past the end of the file`)
      entries.set(tag, { tag, type, count, byteLength, valuePos })
    }
    const np = cs + n * es
    return { offset, entries, nextPtrPos: offset + np, nextOffset: this.bigTiff ? u64(dv, np, le) : dv.getUint32(np, le) }
  }

  async bytes(e: LayoutEntry): Promise<Uint8Array> {
    return this.exact(e.valuePos, e.byteLength)
  }

  async string(ifd: LayoutIfd, tag: number): Promise<string | undefined> {
    const e = ifd.entries.get(tag)
    if (!e || e.type !== ASCII) return undefined
    const b = await this.bytes(e)
    let end = b.length
    while (end > 0 && b[end - 1] === 0) end--
    return Buffer.from(b.subarray(0, end)).toString('latin1')
  }

  /** Integer or floating values of a numeric tag. */
  async numbers(ifd: LayoutIfd, tag: number): Promise<number[] | undefined> {
    const e = ifd.entries.get(tag)
    if (!e) return undefined
    const b = await this.bytes(e)
    const dv = view(b)
    const le = this.littleEndian
    const out: number[] = []
    for (let i = 0; i < e.count; i++) {
      switch (e.type) {
        case 1: case 7: out.push(b[i]); break
        case 3: out.push(dv.getUint16(i * 2, le)); break
        case 8: out.push(dv.getInt16(i * 2, le)); break
        case 4: case 13: out.push(dv.getUint32(i * 4, le)); break
        case 9: out.push(dv.getInt32(i * 4, le)); break
        case 11: out.push(dv.getFloat32(i * 4, le)); break
        case 12: out.push(dv.getFloat64(i * 8, le)); break
        case 16: case 18: out.push(u64(dv, i * 8, le)); break
        default: throw SlideDeidErrors.malformed(`tag ${tag} has field type ${e.type}, which holds no integers`)
      }
    }
    return out
  }

  /** The [offset, length] ranges of a directory's strip or tile data. */
  async dataRanges(ifd: LayoutIfd): Promise<Array<[number, number]>> {
    const tiled = ifd.entries.has(324)
    const offs = await this.numbers(ifd, tiled ? 324 : 273)
    const lens = await this.numbers(ifd, tiled ? 325 : 279)
    if (!offs || !lens || offs.length !== lens.length) throw SlideDeidErrors.malformed(`directory at ${ifd.offset} lacks matching data offsets and byte counts`)
    const out: Array<[number, number]> = []
    for (let i = 0; i < offs.length; i++) {
      if (lens[i] === 0) continue
      if (offs[i] + lens[i] > this.src.size) throw SlideDeidErrors.malformed(`image data of the directory at ${ifd.offset} runs past the end of the file`)
      out.push([offs[i], lens[i]])
    }
    return out
  }

  /** A pointer value encoded in the file's byte order and pointer size. */
  pointer(value: number): Uint8Array {
    const b = new Uint8Array(this.pointerSize)
    const dv = view(b)
    if (this.bigTiff) dv.setBigUint64(0, BigInt(value), this.littleEndian)
    else dv.setUint32(0, value, this.littleEndian)
    return b
  }

  private async exact(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.src.size) throw SlideDeidErrors.malformed(`a read of ${length} bytes at ${offset} is past the end of the file (${this.src.size} bytes)`)
    const b = await this.src.read(offset, length)
    if (b.length !== length) throw SlideDeidErrors.malformed(`short read at ${offset}`)
    return b
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

function u64(dv: DataView, pos: number, le: boolean): number {
  const v = dv.getBigUint64(pos, le)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw SlideDeidErrors.malformed('a 64-bit offset beyond 2^53')
  return Number(v)
}
