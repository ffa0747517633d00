/**
 * @module Synchronous element parser over a window of the source (PS3.5 Section 7), shared by the
 * in-memory fast path and the windowed async reader.
 *
 * Offsets are absolute positions in the source. When the parser needs bytes past its window it throws
 * NeedMore; the async driver then loads a larger window starting at `topPos` (the start of the
 * top-level element being parsed) and calls again, so a top-level element is parsed whole or not at all.
 * Values are kept as views into the window (no copies, no string decoding).
 */
import { DicomErrors } from './errors.ts'
import { entryOf, isPrivateCreator, isPrivateTag, Tags } from './dictionary.ts'
import type { DicomDataset, DicomElement, Fragment, Tag, Vr } from './types.ts'
import { BULK_VRS, LONG_LENGTH_VRS, vrFromBytes } from './vr.ts'

/** Thrown (not an Error: it is control flow) when the window lacks bytes the source has. */
export class NeedMore {
  constructor(readonly offset: number, readonly length: number) {}
}

/** Thrown when a top-level encapsulated Pixel Data element should be scanned by the async driver. */
export class DeferFragments {
  constructor(readonly element: DicomElement, readonly itemsOffset: number) {}
}

export interface ParseOptions {
  bulkDataThreshold: number
  untilTag?: Tag
}

export interface MutableDataset extends DicomDataset {
  charset: readonly string[]
}

const UNDEFINED = 0xffffffff
const ITEM = Tags.Item
const ITEM_DELIM = Tags.ItemDelimitationItem
const SEQ_DELIM = Tags.SequenceDelimitationItem
const MAX_DEPTH = 64
const NO_CHARSET: readonly string[] = []

export function newDataset(charset: readonly string[], littleEndian: boolean): MutableDataset {
  return { elements: new Map(), charset, littleEndian }
}

/** Pixel data values are always left in the source, whatever their size. */
function isPixelDataTag(tag: Tag): boolean {
  return tag === Tags.PixelData || tag === Tags.FloatPixelData || tag === Tags.DoubleFloatPixelData
}

/** Splits a Specific Character Set value (CS, ASCII) into its values; value 1 may be empty (PS3.3 C.12.1.1.2). */
export function parseCharsetValue(bytes: Uint8Array | undefined): readonly string[] {
  if (!bytes || bytes.length === 0) return NO_CHARSET
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i])
  const parts = s.split('\\').map((v) => v.replace(/[\0 ]+$/, '').trim())
  if (parts.every((p) => p === '')) return NO_CHARSET
  return parts
}

export class Parser {
  /** Window bytes; b[0] is at absolute offset `base`. */
  b: Uint8Array
  base: number
  /** Absolute offset where the next top-level element starts (progress survives NeedMore). */
  topPos = 0
  /** Set when parsing stopped at opts.untilTag. */
  stoppedAt: Tag | undefined
  /** Hand top-level encapsulated pixel data to the async driver instead of scanning the window. */
  deferFragments = false

  constructor(
    b: Uint8Array,
    base: number,
    /** Total bytes in the source (the parser never reads past this). */
    readonly size: number,
    readonly opts: ParseOptions,
  ) {
    this.b = b
    this.base = base
  }

  setWindow(b: Uint8Array, base: number): void {
    this.b = b
    this.base = base
  }

  /** Ensures [pos, pos+n) is in the window. */
  need(pos: number, n: number): void {
    if (pos + n > this.base + this.b.length) {
      if (pos + n > this.size) throw DicomErrors.truncated(pos, n, this.size)
      throw new NeedMore(pos, n)
    }
  }

  u16(pos: number, le: boolean): number {
    const i = pos - this.base
    const b = this.b
    return le ? b[i] | (b[i + 1] << 8) : (b[i] << 8) | b[i + 1]
  }

  u32(pos: number, le: boolean): number {
    const i = pos - this.base
    const b = this.b
    return le
      ? (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0
      : ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0
  }

  tag(pos: number, le: boolean): Tag {
    const i = pos - this.base
    const b = this.b
    return le
      ? ((b[i + 1] << 24) | (b[i] << 16) | (b[i + 3] << 8) | b[i + 2]) >>> 0
      : ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0
  }

  /**
   * Parses elements from `pos` until `end` (a defined length) or, for an undefined-length item,
   * until its Item Delimitation Item. Returns the position after the last byte consumed.
   * `onlyGroup` stops before the first element of another group (File Meta, group 0002).
   */
  parseElements(ds: MutableDataset, pos: number, end: number, explicit: boolean, le: boolean, depth: number, onlyGroup = -1): number {
    if (depth > MAX_DEPTH) throw DicomErrors.malformed(pos, 'sequences are nested too deeply')
    const top = depth === 0 && onlyGroup < 0
    const untilTag = top ? this.opts.untilTag : undefined
    const size = this.size
    while (pos < end) {
      if (pos + 8 > size) {
        // Top level: tolerate a few bytes of zero padding after the last element, as DCMTK and pydicom do.
        if (top && end >= size && this.isZeroTail(pos)) return size
        throw DicomErrors.truncated(pos, 8, size)
      }
      this.need(pos, 8)
      const tag = this.tag(pos, le)
      if (onlyGroup >= 0 && tag >>> 16 !== onlyGroup) return pos
      if (tag >>> 16 === 0xfffe) {
        if (tag === ITEM_DELIM && end === Infinity) return pos + 8
        // A sequence delimiter where an item should end: the writer forgot the item delimiter.
        if (tag === SEQ_DELIM && end === Infinity) return pos
        // Stray delimiters elsewhere carry no data (length 0); skip them as DCMTK does.
        if (tag === ITEM_DELIM || tag === SEQ_DELIM) {
          pos += 8
          if (top) this.topPos = pos
          continue
        }
        throw DicomErrors.malformed(pos, `unexpected item tag ${tag.toString(16)} inside a dataset`)
      }
      if (untilTag !== undefined && tag >= untilTag) {
        this.stoppedAt = tag
        return pos
      }
      pos = this.parseElement(ds, tag, pos, explicit, le, depth)
      if (top) this.topPos = pos
    }
    return pos
  }

  private isZeroTail(pos: number): boolean {
    this.need(pos, this.size - pos)
    for (let i = pos - this.base; i < this.size - this.base; i++) if (this.b[i] !== 0) return false
    return true
  }

  /** Parses one element whose 8 header bytes are in the window; returns the position after it. */
  private parseElement(ds: MutableDataset, tag: Tag, pos: number, explicit: boolean, le: boolean, depth: number): number {
    let vr: Vr | undefined
    let len: number
    let hdr = 8
    if (explicit) {
      const i = pos - this.base
      vr = vrFromBytes(this.b[i + 4], this.b[i + 5])
      if (vr === undefined) {
        // Not a VR. DCMTK's rule: zero reserved bytes mean a 4-byte length follows, as for UN.
        if (this.u16(pos + 6, le) === 0) {
          this.need(pos, 12)
          len = this.u32(pos + 8, le)
          hdr = 12
        } else {
          len = this.u16(pos + 6, le)
        }
        vr = 'UN'
      } else if (LONG_LENGTH_VRS.has(vr)) {
        this.need(pos, 12)
        len = this.u32(pos + 8, le)
        hdr = 12
      } else {
        len = this.u16(pos + 6, le)
      }
    } else {
      vr = this.implicitVr(tag, ds)
      len = this.u32(pos + 4, le)
    }
    const vp = pos + hdr
    const undef = len === UNDEFINED

    // UN of a known standard attribute: use the dictionary VR, as pydicom does; a UN value is
    // Implicit VR Little Endian (PS3.5 6.2.2), which matters when the real VR is SQ.
    let unAsImplicit = false
    if (vr === 'UN' && explicit) {
      if (isPrivateCreator(tag)) {
        if (!undef) vr = 'LO'
      } else if (!isPrivateTag(tag)) {
        const e = entryOf(tag)
        if (e && e.vr !== 'UN') {
          vr = e.ambiguous === 'US/SS' ? this.implicitVr(tag, ds) : e.vr
          unAsImplicit = true
        }
      }
    }

    const el: DicomElement = {
      tag,
      vr,
      offset: vp,
      length: len,
      undefinedLength: undef,
      bytes: undefined,
      items: undefined,
      fragments: undefined,
    }

    if (undef && isPixelDataTag(tag)) {
      // Encapsulated pixel data is OB (PS3.5 A.4) where the stream does not say otherwise (implicit, UN).
      if (!explicit || vr === 'UN') el.vr = 'OB'
      if (depth === 0 && this.deferFragments) throw new DeferFragments(el, vp)
      const r = this.scanFragments(vp)
      el.fragments = r.fragments
      el.basicOffsetTable = r.bot
      el.length = r.end - vp
      ds.elements.set(tag, el)
      return r.end
    }

    if (vr === 'SQ' || undef) {
      // Undefined length on anything but pixel data can only be a sequence; a UN one is encoded
      // as Implicit VR Little Endian (PS3.5 6.2.2).
      const implicitItems = vr === 'UN' || unAsImplicit
      const itemExplicit = implicitItems ? false : explicit
      const itemLe = implicitItems ? true : le
      const r = this.parseItems(ds, vp, undef ? Infinity : vp + len, itemExplicit, itemLe, depth)
      el.items = r.items
      if (undef) el.length = r.end - vp
      ds.elements.set(tag, el)
      return undef ? r.end : vp + len
    }

    if (vp + len > this.size) throw DicomErrors.truncated(vp, len, this.size)
    const bulk = isPixelDataTag(tag) || (BULK_VRS.has(vr) && len > this.opts.bulkDataThreshold &&
      tag !== Tags.ExtendedOffsetTable && tag !== Tags.ExtendedOffsetTableLengths)
    if (!bulk) {
      this.need(vp, len)
      const i = vp - this.base
      el.bytes = this.b.subarray(i, i + len)
      if (tag === Tags.SpecificCharacterSet) ds.charset = parseCharsetValue(el.bytes)
    }
    ds.elements.set(tag, el)
    return vp + len
  }

  /** VR for an implicit-VR element: dictionary, LO for private creators, else UN; resolves US/SS by Pixel Representation. */
  implicitVr(tag: Tag, ds: DicomDataset): Vr {
    const e = entryOf(tag)
    if (e === undefined) return isPrivateCreator(tag) ? 'LO' : 'UN'
    if (e.ambiguous === 'US/SS') {
      const pr = ds.elements.get(Tags.PixelRepresentation)?.bytes
      const signed = pr !== undefined && pr.length >= 2 && (ds.littleEndian ? pr[0] | (pr[1] << 8) : (pr[0] << 8) | pr[1]) === 1
      return signed ? 'SS' : 'US'
    }
    return e.vr
  }

  private parseItems(parent: DicomDataset, pos: number, end: number, explicit: boolean, le: boolean, depth: number): { items: DicomDataset[]; end: number } {
    const items: DicomDataset[] = []
    while (pos < end) {
      this.need(pos, 8)
      const tag = this.tag(pos, le)
      const ilen = this.u32(pos + 4, le)
      if (tag === SEQ_DELIM) {
        pos += 8
        if (end === Infinity) return { items, end: pos }
        continue
      }
      if (tag !== ITEM) {
        // Tolerate a stray item delimiter after a defined-length item.
        if (tag === ITEM_DELIM) {
          pos += 8
          continue
        }
        throw DicomErrors.malformed(pos, `expected a sequence item, found tag ${tag.toString(16).padStart(8, '0')}`)
      }
      // Items inherit the Specific Character Set unless they carry their own (PS3.5 6.1.2.5.3 / PS3.3 C.12.1.1.2).
      const item = newDataset(parent.charset, le)
      if (ilen === UNDEFINED) {
        pos = this.parseElements(item, pos + 8, Infinity, explicit, le, depth + 1)
      } else {
        const itemEnd = pos + 8 + ilen
        if (itemEnd > this.size) throw DicomErrors.truncated(pos + 8, ilen, this.size)
        this.parseElements(item, pos + 8, itemEnd, explicit, le, depth + 1)
        pos = itemEnd
      }
      items.push(item)
    }
    if (end !== Infinity && pos > end) throw DicomErrors.malformed(end, 'a sequence item runs past the end of its sequence')
    return { items, end: pos }
  }

  /**
   * Reads the item headers of encapsulated pixel data (PS3.5 A.4) without reading fragment values;
   * the first item is the Basic Offset Table, whose bytes are kept.
   */
  scanFragments(pos: number): { fragments: Fragment[]; bot: Uint8Array | undefined; end: number } {
    const fragments: Fragment[] = []
    let bot: Uint8Array | undefined
    for (;;) {
      this.need(pos, 8)
      const tag = this.tag(pos, true)
      const len = this.u32(pos + 4, true)
      if (tag === SEQ_DELIM) return { fragments, bot, end: pos + 8 }
      if (tag !== ITEM || len === UNDEFINED) throw DicomErrors.malformed(pos, 'encapsulated Pixel Data has a bad item')
      if (pos + 8 + len > this.size) throw DicomErrors.truncated(pos + 8, len, this.size)
      const frag: Fragment = { offset: pos + 8, length: len }
      if (fragments.length === 0) {
        this.need(pos + 8, len)
        const i = pos + 8 - this.base
        bot = this.b.subarray(i, i + len)
      } else if (len >= 2) {
        this.need(pos + 8, 2)
        frag.marker = this.u16(pos + 8, false)
      }
      fragments.push(frag)
      pos += 8 + len
    }
  }
}
