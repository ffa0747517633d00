/**
 * @module Writes the value of encapsulated Pixel Data (PS3.5 A.4) from frames produced one at a time: the Basic
 * Offset Table item, one fragment item per frame (padded to even length), then the Sequence Delimitation Item.
 *
 * With an empty offset table each frame is written as soon as it is produced, so a multi-frame object is never held
 * whole; readers find frames as one fragment each (PS3.5 A.4: "one fragment per frame" lets the table be empty). A
 * filled table needs every frame's length first, so that mode holds the encoded frames (not the decoded ones).
 */
import { Tags } from './dictionary.ts'
import { DicomErrors } from './errors.ts'

export type OffsetTable = 'empty' | 'basic'

function itemHeader(tag: number, length: number): Uint8Array {
  const b = new Uint8Array(8)
  const dv = new DataView(b.buffer)
  dv.setUint16(0, tag >>> 16, true)
  dv.setUint16(2, tag & 0xffff, true)
  dv.setUint32(4, length >>> 0, true)
  return b
}

const PAD = new Uint8Array(1)

/** Fragment item header, frame bytes and (for odd frames) a zero pad, as chunks. */
function* fragment(frame: Uint8Array): Generator<Uint8Array> {
  const odd = frame.length & 1
  yield itemHeader(Tags.Item, frame.length + odd)
  yield frame
  if (odd) yield PAD
}

/**
 * The encapsulated Pixel Data value (everything after its undefined-length element header), as chunks. `frames`
 * is iterated once; an empty frame, or more than 4 GiB of frames with a filled table, throws DICOM_BAD_VALUE.
 */
export async function* encapsulatedValue(frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, offsetTable: OffsetTable = 'empty'): AsyncGenerator<Uint8Array> {
  if (offsetTable === 'empty') {
    yield itemHeader(Tags.Item, 0)
    let n = 0
    for await (const f of frames) {
      if (f.length === 0) throw DicomErrors.badValue(`encapsulated frame ${n + 1} is empty`)
      n++
      yield* fragment(f)
    }
  } else {
    const held: Uint8Array[] = []
    const offsets: number[] = []
    let at = 0
    for await (const f of frames) {
      if (f.length === 0) throw DicomErrors.badValue(`encapsulated frame ${held.length + 1} is empty`)
      offsets.push(at)
      held.push(f)
      at += 8 + f.length + (f.length & 1)
    }
    // Offsets count from the first fragment's item tag and are 32-bit (PS3.5 A.4, Table A.4-1).
    if (offsets.length > 0 && offsets[offsets.length - 1]! > 0xffffffff) {
      throw DicomErrors.badValue('the frames are too large for a Basic Offset Table (offsets past 4 GiB); write it empty')
    }
    const table = new Uint8Array(4 * offsets.length)
    const dv = new DataView(table.buffer)
    offsets.forEach((o, i) => dv.setUint32(4 * i, o, true))
    yield itemHeader(Tags.Item, table.length)
    if (table.length > 0) yield table
    for (const f of held) yield* fragment(f)
  }
  yield itemHeader(Tags.SequenceDelimitationItem, 0)
}
