/**
 * @module Reads a DICOM object (PS3.10 file or bare dataset) from a ByteSource in windows, or from memory.
 *
 * Only the header and the item headers of encapsulated pixel data are read: bulk values (pixel data,
 * large OB/OW/UN…) are recorded by offset and length, so a multi-gigabyte object costs a few reads.
 */
import { inflateRawSync } from 'node:zlib'
import type { ByteSource } from '@kura/core'
import { entryOf, Tags } from './dictionary.ts'
import { DicomErrors } from './errors.ts'
import { DeferFragments, NeedMore, newDataset, Parser, type MutableDataset, type ParseOptions } from './parser.ts'
import { TransferSyntax, transferSyntaxInfo } from './transfer-syntax.ts'
import type { Fragment, ParsedDicom, Tag } from './types.ts'
import { vrFromBytes } from './vr.ts'

export interface ReadOptions {
  /**
   * Binary values (OB, OW, OF, OD, OL, OV, UN) longer than this many bytes are not loaded, only located.
   * Pixel Data (7FE0,0010/0008/0009) is never loaded. Default 1024, pydicom's and most DICOMweb servers' choice.
   */
  bulkDataThreshold?: number
  /** Stop before the first top-level element with this tag or higher (e.g. Tags.PixelData for the header only). */
  untilTag?: Tag
}

export const DEFAULT_BULK_DATA_THRESHOLD = 1024
const WINDOW = 64 * 1024
const FRAGMENT_WINDOW = 64 * 1024

/** The read state machine: sync steps that throw NeedMore/DeferFragments when driven over a window. */
class ReadJob {
  phase: 'start' | 'meta' | 'dataset' | 'done' = 'start'
  hasPreamble = false
  metaStart = 0
  meta: MutableDataset = newDataset([], true)
  datasetOffset = 0
  ts = ''
  declaredTs: string | undefined
  explicit = true
  le = true
  deflated = false
  dataset: MutableDataset = newDataset([], true)

  constructor(readonly p: Parser) {}

  /** Where a retry of the current phase starts: the next window must begin here. */
  restartPos(): number {
    if (this.phase === 'start') return 0
    if (this.phase === 'meta') return this.metaStart
    return this.p.topPos
  }

  run(): void {
    const p = this.p
    if (this.phase === 'start') {
      this.detectStart()
      this.phase = 'meta'
    }
    if (this.phase === 'meta') {
      this.meta = newDataset([], true)
      this.readMeta()
      this.phase = 'dataset'
      p.topPos = this.datasetOffset
      if (this.deflated) return // the driver inflates and parses the rest
    }
    if (this.phase === 'dataset') {
      p.topPos = p.parseElements(this.dataset, p.topPos, p.size, this.explicit, this.le, 0)
      this.phase = 'done'
    }
  }

  private detectStart(): void {
    const p = this.p
    const size = p.size
    if (size >= 132) {
      p.need(0, 132)
      const b = p.b
      if (b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d) {
        this.hasPreamble = true
        this.metaStart = 132
        return
      }
    }
    if (size < 8) throw DicomErrors.notDicom(`only ${size} bytes`)
    this.metaStart = 0
  }

  private readMeta(): void {
    const p = this.p
    let pos = this.metaStart
    if (pos + 8 > p.size) throw this.hasPreamble ? DicomErrors.truncated(pos, 8, p.size) : DicomErrors.notDicom('too short')
    p.need(pos, 8)
    const hasMeta = p.tag(pos, true) >>> 16 === 0x0002
    if (hasMeta) {
      // File Meta is always Explicit VR Little Endian (PS3.10 7.1); some writers used implicit anyway.
      const explicit = vrFromBytes(p.b[pos - p.base + 4], p.b[pos - p.base + 5]) !== undefined
      if (!explicit && !this.hasPreamble && p.u32(pos + 4, true) > p.size) throw DicomErrors.notDicom('no preamble and no valid File Meta')
      pos = p.parseElements(this.meta, pos, p.size, explicit, true, 0, 0x0002)
    }
    this.datasetOffset = pos
    const tsEl = this.meta.elements.get(Tags.TransferSyntaxUID)
    const declared = tsEl?.bytes ? trimUid(tsEl.bytes) : ''
    if (pos >= p.size) {
      // Meta only (or empty dataset): nothing to detect.
      this.ts = declared || TransferSyntax.ExplicitVRLittleEndian
      this.applyTs(this.ts)
      return
    }
    if (!hasMeta && !this.hasPreamble) this.checkLooksLikeDataset(pos)
    const info = declared ? transferSyntaxInfo(declared) : undefined
    if (info?.deflated) {
      this.ts = declared
      this.applyTs(declared)
      return
    }
    // Peek at the first dataset element: the declared syntax may be missing or wrong (pydicom does the same).
    const guess = this.guessEncoding(pos, info?.explicitVr ?? true, info?.littleEndian ?? true)
    if (info && guess.explicit === info.explicitVr && guess.le === info.littleEndian) {
      this.ts = declared
    } else {
      // The data contradicts (or there is no) declared syntax: report what was found, remember what was declared.
      this.ts = guess.le ? (guess.explicit ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian) : TransferSyntax.ExplicitVRBigEndian
      if (declared) this.declaredTs = declared
    }
    this.explicit = guess.explicit
    this.le = guess.le
    this.dataset = newDataset([], this.le)
  }

  private applyTs(uid: string): void {
    const info = transferSyntaxInfo(uid)
    this.explicit = info.explicitVr
    this.le = info.littleEndian
    this.deflated = info.deflated
    this.dataset = newDataset([], this.le)
  }

  /** Endianness from the group bytes, explicitness from whether the VR position holds a VR. */
  private guessEncoding(pos: number, explicitHint: boolean, leHint: boolean): { explicit: boolean; le: boolean } {
    const p = this.p
    p.need(pos, 8)
    const i = pos - p.base
    const b = p.b
    // A big-endian group 0008 reads 00 08; little-endian 08 00. Groups are < 0x0100 at the start.
    let le = leHint
    if (b[i] === 0 && b[i + 1] !== 0) le = false
    else if (b[i] !== 0 && b[i + 1] === 0) le = true
    const vr = vrFromBytes(b[i + 4], b[i + 5])
    if (vr === undefined) return { explicit: false, le }
    if (explicitHint) return { explicit: true, le }
    // Declared implicit but the bytes spell a VR: explicit if the dictionary agrees or the implicit length is absurd.
    const tag = p.tag(pos, le)
    const implicitLen = p.u32(pos + 4, le)
    const dictVr = entryOf(tag)?.vr
    const explicit = dictVr === vr || (implicitLen !== 0xffffffff && pos + 8 + implicitLen > p.size)
    return { explicit, le }
  }

  /** Without preamble or meta, accept only data that starts like a dataset (low, even group). */
  private checkLooksLikeDataset(pos: number): void {
    const p = this.p
    p.need(pos, 8)
    const b = p.b
    const i = pos - p.base
    const le = !(b[i] === 0 && b[i + 1] !== 0)
    const tag = p.tag(pos, le)
    const group = tag >>> 16
    if (group > 0x0010 || (group & 1) === 1) throw DicomErrors.notDicom('no preamble, no File Meta and no dataset at the start')
    const vr = vrFromBytes(b[i + 4], b[i + 5])
    if (vr === undefined) {
      const len = p.u32(pos + 4, le)
      if (entryOf(tag) === undefined || (len !== 0xffffffff && pos + 8 + len > p.size)) {
        throw DicomErrors.notDicom('no preamble, no File Meta and no dataset at the start')
      }
    }
  }

  result(size: number): ParsedDicom {
    const out: ParsedDicom = {
      meta: this.meta,
      dataset: this.dataset,
      transferSyntaxUID: this.ts,
      datasetOffset: this.datasetOffset,
      size,
      hasPreamble: this.hasPreamble,
      explicitVr: this.explicit,
    }
    if (this.declaredTs !== undefined) out.declaredTransferSyntaxUID = this.declaredTs
    if (this.p.stoppedAt !== undefined) out.stoppedAt = this.p.stoppedAt
    return out
  }
}

function trimUid(bytes: Uint8Array): string {
  let end = bytes.length
  while (end > 0 && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--
  let s = ''
  for (let i = 0; i < end; i++) s += String.fromCharCode(bytes[i])
  return s.trim()
}

function options(opts: ReadOptions | undefined): ParseOptions {
  return { bulkDataThreshold: opts?.bulkDataThreshold ?? DEFAULT_BULK_DATA_THRESHOLD, untilTag: opts?.untilTag }
}

/** Parses the inflated dataset of a deflated object (PS3.5 A.5: raw deflate after the File Meta). */
function parseDeflated(job: ReadJob, deflatedBytes: Uint8Array, opts: ParseOptions, sourceSize: number): ParsedDicom {
  let inflated: Uint8Array
  try {
    inflated = inflateRawSync(deflatedBytes)
  } catch (cause) {
    throw DicomErrors.badTransferSyntax(job.ts, `the deflated dataset does not inflate: ${(cause as Error).message}`)
  }
  const p = new Parser(inflated, 0, inflated.length, opts)
  const ds = newDataset([], true)
  const explicit = inflated.length < 6 || vrFromBytes(inflated[4], inflated[5]) !== undefined
  p.parseElements(ds, 0, inflated.length, explicit, true, 0)
  job.dataset = ds
  const out = job.result(sourceSize)
  out.deflated = true
  out.inflated = inflated
  out.explicitVr = explicit
  if (p.stoppedAt !== undefined) out.stoppedAt = p.stoppedAt
  return out
}

/**
 * Parses an object held in memory, synchronously (the hot path for small files). Values are views into
 * `buf`: do not modify it while the result is in use.
 */
export function readDicomBuffer(buf: Uint8Array, opts?: ReadOptions): ParsedDicom {
  const o = options(opts)
  // Values are views: a plain Uint8Array's native subarray costs a fraction of Buffer's (a JS wrapper per view).
  if (Buffer.isBuffer(buf)) buf = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  const p = new Parser(buf, 0, buf.length, o)
  const job = new ReadJob(p)
  job.run()
  if (job.deflated) return parseDeflated(job, buf.subarray(job.datasetOffset), o, buf.length)
  return job.result(p.stoppedAt !== undefined ? p.topPos : Math.max(p.topPos, job.datasetOffset))
}

/**
 * Parses an object from a ByteSource, reading windows of 64 KiB (larger only when one top-level element
 * needs it) and item headers of encapsulated pixel data; bulk values are never read.
 */
export async function readDicom(src: ByteSource, opts?: ReadOptions): Promise<ParsedDicom> {
  const o = options(opts)
  const size = src.size
  const first = await src.read(0, Math.min(size, WINDOW))
  const p = new Parser(first, 0, size, o)
  p.deferFragments = true
  const job = new ReadJob(p)
  let winStart = 0
  let winLen = first.length
  for (;;) {
    try {
      job.run()
      break
    } catch (e) {
      if (e instanceof NeedMore) {
        const start = job.restartPos()
        const needEnd = e.offset + e.length
        const grow = start === winStart ? winLen * 2 : WINDOW
        const len = Math.min(size - start, Math.max(needEnd - start, grow))
        const b = await src.read(start, len)
        if (b.length < needEnd - start) throw DicomErrors.truncated(e.offset, e.length, start + b.length)
        p.setWindow(b, start)
        winStart = start
        winLen = b.length
      } else if (e instanceof DeferFragments) {
        const r = await scanFragmentsAsync(src, e.itemsOffset, size)
        e.element.fragments = r.fragments
        e.element.basicOffsetTable = r.bot
        e.element.length = r.end - e.itemsOffset
        ;(job.dataset.elements as Map<Tag, typeof e.element>).set(e.element.tag, e.element)
        p.topPos = r.end
      } else {
        throw e
      }
    }
  }
  if (job.deflated) {
    const rest = await src.read(job.datasetOffset, size - job.datasetOffset)
    return parseDeflated(job, rest, o, size)
  }
  return job.result(p.stoppedAt !== undefined ? p.topPos : Math.max(p.topPos, job.datasetOffset))
}

/** Reads encapsulated pixel data item headers (PS3.5 A.4) through windows; fragment values are skipped. */
async function scanFragmentsAsync(src: ByteSource, pos: number, size: number): Promise<{ fragments: Fragment[]; bot: Uint8Array | undefined; end: number }> {
  const fragments: Fragment[] = []
  let bot: Uint8Array | undefined
  let win: Uint8Array = new Uint8Array(0)
  let winStart = 0
  let lastLen = 0
  const load = async (at: number, n: number): Promise<void> => {
    if (at + n > size) throw DicomErrors.truncated(at, n, size)
    // After a fragment larger than a window the next header is far away: read just it, so a
    // 2 GB multi-frame object costs a few bytes a frame, not a window a frame.
    const want = lastLen >= FRAGMENT_WINDOW ? n : Math.max(n, FRAGMENT_WINDOW)
    win = await src.read(at, Math.min(size - at, want))
    winStart = at
  }
  for (;;) {
    if (pos + 8 > size) throw DicomErrors.truncated(pos, 8, size)
    // Header plus the fragment's first two bytes (its marker), when the fragment has them.
    if (pos < winStart || pos + 10 > winStart + win.length) await load(pos, Math.min(10, size - pos))
    const i = pos - winStart
    const tag = ((win[i + 1] << 24) | (win[i] << 16) | (win[i + 3] << 8) | win[i + 2]) >>> 0
    const len = (win[i + 4] | (win[i + 5] << 8) | (win[i + 6] << 16) | (win[i + 7] << 24)) >>> 0
    if (tag === Tags.SequenceDelimitationItem) return { fragments, bot, end: pos + 8 }
    if (tag !== Tags.Item || len === 0xffffffff) throw DicomErrors.malformed(pos, 'encapsulated Pixel Data has a bad item')
    if (pos + 8 + len > size) throw DicomErrors.truncated(pos + 8, len, size)
    const frag: Fragment = { offset: pos + 8, length: len }
    if (fragments.length === 0) {
      if (pos + 8 + len > winStart + win.length) await load(pos, 8 + len)
      const j = pos + 8 - winStart
      bot = new Uint8Array(win.subarray(j, j + len)) // a copy, so the window can be freed
    } else if (len >= 2) {
      frag.marker = (win[i + 8] << 8) | win[i + 9]
    }
    fragments.push(frag)
    pos += 8 + len
    lastLen = len
  }
}

