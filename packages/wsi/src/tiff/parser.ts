/**
 * @module TIFF and BigTIFF directory reader over a ByteSource.
 *
 * Reads the header and the IFD chain eagerly (a few small ranged reads) and every value that
 * does not fit inline lazily, one ranged read per tag, cached: a slide's TileOffsets array is
 * fetched once, when a tile of that level is first asked for, and the file is never read whole.
 */
import type { ByteSource } from '@kura/core'
import { WsiErrors } from '../errors.ts'
import { FIELD_TYPE_SIZE, FieldType, Tag } from './tags.ts'

/** Guards against IFD loops and absurd files: real slides have tens of IFDs. */
const MAX_IFDS = 4096
const MAX_ENTRIES = 100_000
/** First read at an IFD; most directories (≤ 340 classic entries) fit, larger ones take a second read. */
const IFD_WINDOW = 4096

export interface TiffEntry {
  readonly tag: number
  readonly type: number
  readonly count: number
  readonly byteLength: number
  /** The value bytes when they fit in the entry itself (≤ 4 bytes, ≤ 8 in BigTIFF). */
  readonly inline: Uint8Array | null
  /** File offset of the value when not inline. */
  readonly valueOffset: number
}

export class TiffFile {
  private constructor(
    readonly source: ByteSource,
    readonly littleEndian: boolean,
    readonly bigTiff: boolean,
    /** The main IFD chain, in file order. */
    readonly ifds: Ifd[],
  ) {}

  /** Parses the header and the main IFD chain. Throws WSI_NOT_TIFF for anything that is not TIFF. */
  static async open(source: ByteSource): Promise<TiffFile> {
    if (source.size < 8) throw WsiErrors.notTiff(`only ${source.size} bytes`)
    const head = await source.read(0, Math.min(16, source.size))
    const order = String.fromCharCode(head[0], head[1])
    if (order !== 'II' && order !== 'MM') throw WsiErrors.notTiff('no II/MM byte-order mark')
    const le = order === 'II'
    const dv = view(head)
    const version = dv.getUint16(2, le)
    let first: number
    let big: boolean
    if (version === 42) {
      big = false
      first = dv.getUint32(4, le)
    } else if (version === 43) {
      if (head.length < 16) throw WsiErrors.truncated(0, 16, source.size)
      if (dv.getUint16(4, le) !== 8 || dv.getUint16(6, le) !== 0) throw WsiErrors.malformed('BigTIFF header has an offset size other than 8')
      big = true
      first = u64(dv, 8, le)
    } else {
      throw WsiErrors.notTiff(`version ${version}, expected 42 (TIFF) or 43 (BigTIFF)`)
    }
    const file = new TiffFile(source, le, big, [])
    file.ifds.push(...(await file.readChain(first, new Set())))
    if (file.ifds.length === 0) throw WsiErrors.malformed('the TIFF has no image directory')
    return file
  }

  /** Follows an IFD chain from `offset`; `seen` is shared so loops through SubIFDs are caught too. */
  async readChain(offset: number, seen: Set<number>): Promise<Ifd[]> {
    const out: Ifd[] = []
    while (offset !== 0) {
      if (seen.has(offset)) throw WsiErrors.malformed(`IFD loop: the directory at offset ${offset} is linked twice`)
      if (seen.size >= MAX_IFDS) throw WsiErrors.malformed(`more than ${MAX_IFDS} image directories`)
      seen.add(offset)
      const ifd = await this.readIfd(offset, seen)
      out.push(ifd)
      offset = ifd.nextOffset
    }
    return out
  }

  async readExact(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.source.size) throw WsiErrors.truncated(offset, length, this.source.size)
    if (length === 0) return new Uint8Array(0)
    const b = await this.source.read(offset, length)
    if (b.length !== length) throw WsiErrors.truncated(offset, length, this.source.size)
    return b
  }

  private async readIfd(offset: number, seen: Set<number>): Promise<Ifd> {
    const countSize = this.bigTiff ? 8 : 2
    const entrySize = this.bigTiff ? 20 : 12
    const ptrSize = this.bigTiff ? 8 : 4
    if (offset + countSize > this.source.size) throw WsiErrors.malformed(`IFD offset ${offset} is past the end of the file`, { offset })
    let buf = await this.readExact(offset, Math.min(IFD_WINDOW, this.source.size - offset))
    const n = this.bigTiff ? u64(view(buf), 0, this.littleEndian) : view(buf).getUint16(0, this.littleEndian)
    if (n > MAX_ENTRIES) throw WsiErrors.malformed(`IFD at ${offset} claims ${n} entries`, { offset })
    const need = countSize + n * entrySize + ptrSize
    if (need > buf.length) buf = await this.readExact(offset, need)
    const dv = view(buf)
    const le = this.littleEndian
    const entries = new Map<number, TiffEntry>()
    for (let i = 0; i < n; i++) {
      const p = countSize + i * entrySize
      const tag = dv.getUint16(p, le)
      const type = dv.getUint16(p + 2, le)
      const count = this.bigTiff ? u64(dv, p + 4, le) : dv.getUint32(p + 4, le)
      const size = FIELD_TYPE_SIZE[type]
      if (size === undefined) continue // unknown field type: skip the entry, as TIFF 6.0 asks readers to
      const byteLength = size * count
      const valuePos = p + (this.bigTiff ? 12 : 8)
      const inline = byteLength <= ptrSize ? buf.slice(valuePos, valuePos + byteLength) : null
      const valueOffset = inline ? 0 : this.bigTiff ? u64(dv, valuePos, le) : dv.getUint32(valuePos, le)
      entries.set(tag, { tag, type, count, byteLength, inline, valueOffset })
    }
    const np = countSize + n * entrySize
    const next = this.bigTiff ? u64(dv, np, le) : dv.getUint32(np, le)
    return new Ifd(this, offset, entries, next, seen)
  }
}

/** One image file directory; values are decoded on first use and cached. */
export class Ifd {
  private readonly cache = new Map<number, Promise<ArrayLike<number> | Uint8Array>>()
  private subs: Promise<Ifd[]> | undefined

  constructor(
    readonly file: TiffFile,
    readonly offset: number,
    readonly entries: ReadonlyMap<number, TiffEntry>,
    readonly nextOffset: number,
    private readonly seen: Set<number>,
  ) {}

  has(tag: number): boolean {
    return this.entries.has(tag)
  }

  /** The value's bytes as stored (file byte order). */
  async bytes(tag: number): Promise<Uint8Array | undefined> {
    const e = this.entries.get(tag)
    if (!e) return undefined
    if (e.inline) return e.inline
    if (e.valueOffset + e.byteLength > this.file.source.size)
      throw WsiErrors.malformed(`tag ${tag} points past the end of the file (offset ${e.valueOffset}, ${e.byteLength} bytes)`, { tag })
    let p = this.cache.get(tag) as Promise<Uint8Array> | undefined
    if (!p) {
      p = this.file.readExact(e.valueOffset, e.byteLength)
      this.cache.set(tag, p)
      p.catch(() => this.cache.delete(tag))
    }
    return p
  }

  /** All values of a numeric tag (RATIONALs as num/den); one ranged read however long the array. */
  async numbers(tag: number): Promise<ArrayLike<number> | undefined> {
    const e = this.entries.get(tag)
    if (!e) return undefined
    const key = -1 - tag // decoded arrays share the cache with raw bytes under a negative key
    let p = this.cache.get(key) as Promise<ArrayLike<number>> | undefined
    if (!p) {
      p = this.bytes(tag).then((b) => decodeNumbers(e, b!, this.file.littleEndian))
      this.cache.set(key, p)
      p.catch(() => this.cache.delete(key))
    }
    return p
  }

  async number(tag: number): Promise<number | undefined> {
    const v = await this.numbers(tag)
    return v && v.length > 0 ? v[0] : undefined
  }

  /** An ASCII value without its trailing NULs (several NUL-separated strings stay joined by NUL). */
  async string(tag: number): Promise<string | undefined> {
    const b = await this.bytes(tag)
    if (!b) return undefined
    let end = b.length
    while (end > 0 && b[end - 1] === 0) end--
    return new TextDecoder('latin1').decode(b.subarray(0, end))
  }

  /** The SubIFDs (tag 330) and their chains, read on first use. */
  subIfds(): Promise<Ifd[]> {
    this.subs ??= (async () => {
      const offs = await this.numbers(Tag.SubIFDs)
      if (!offs) return []
      const out: Ifd[] = []
      for (let i = 0; i < offs.length; i++) out.push(...(await this.file.readChain(offs[i], this.seen)))
      return out
    })()
    return this.subs
  }
}

function decodeNumbers(e: TiffEntry, b: Uint8Array, le: boolean): ArrayLike<number> {
  const dv = view(b)
  const n = e.count
  switch (e.type) {
    case FieldType.BYTE:
    case FieldType.UNDEFINED:
    case FieldType.ASCII:
      return b
    case FieldType.SBYTE:
      return new Int8Array(b.buffer, b.byteOffset, n)
    case FieldType.SHORT: {
      const out = new Uint16Array(n)
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, le)
      return out
    }
    case FieldType.SSHORT: {
      const out = new Int16Array(n)
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, le)
      return out
    }
    case FieldType.LONG:
    case FieldType.IFD: {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = dv.getUint32(i * 4, le)
      return out
    }
    case FieldType.SLONG: {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, le)
      return out
    }
    case FieldType.RATIONAL:
    case FieldType.SRATIONAL: {
      const signed = e.type === FieldType.SRATIONAL
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const num = signed ? dv.getInt32(i * 8, le) : dv.getUint32(i * 8, le)
        const den = signed ? dv.getInt32(i * 8 + 4, le) : dv.getUint32(i * 8 + 4, le)
        out[i] = den === 0 ? NaN : num / den
      }
      return out
    }
    case FieldType.FLOAT: {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, le)
      return out
    }
    case FieldType.DOUBLE: {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, le)
      return out
    }
    case FieldType.LONG8:
    case FieldType.IFD8: {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = u64(dv, i * 8, le)
      return out
    }
    case FieldType.SLONG8: {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(i * 8, le)
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw WsiErrors.malformed(`tag ${e.tag} holds a value beyond 2^53`)
        out[i] = Number(v)
      }
      return out
    }
    default:
      throw WsiErrors.malformed(`tag ${e.tag} has field type ${e.type}, which holds no numbers`)
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

/** Unsigned 64-bit as a JS number: offsets past 2^53 (8 PB) cannot be real. */
function u64(dv: DataView, pos: number, le: boolean): number {
  const v = dv.getBigUint64(pos, le)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw WsiErrors.malformed(`a 64-bit value at ${pos} is beyond 2^53`)
  return Number(v)
}
