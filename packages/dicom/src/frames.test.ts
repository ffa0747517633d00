import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { Tags } from './dictionary.ts'
import { frameRanges } from './frames.ts'
import { newDataset } from './parser.ts'
import { readDicomBuffer } from './reader.ts'
import { python, TEST_FILES } from './testkit.ts'
import type { DicomElement, Fragment, ParsedDicom } from './types.ts'

const SKIP = new Set(['MR_truncated.dcm', 'rtplan_truncated.dcm', 'no_meta.dcm'])
const FILES = readdirSync(TEST_FILES).filter((f) => f.endsWith('.dcm') && !SKIP.has(f)).map((f) => `${TEST_FILES}/${f}`)

test('frames of every sample image are the bytes pydicom returns for them', () => {
  const ref = JSON.parse(
    python(
      `import hashlib
from pydicom.encaps import generate_pixel_data_frame
res = {}
for p in sys.argv[1:]:
    ds = pydicom.dcmread(p, force=True)
    if 'PixelData' not in ds or 'Rows' not in ds:
        continue
    try:
        n = int(ds.get('NumberOfFrames', 1) or 1)
    except ValueError:
        continue
    if ds['PixelData'].is_undefined_length:
        frames = list(generate_pixel_data_frame(ds.PixelData, n))
    else:
        size = len(ds.PixelData) // n if ds.BitsAllocated != 1 else None
        if size is None:
            continue
        frames = [ds.PixelData[i * size:(i + 1) * size] for i in range(n)]
    res[p] = [hashlib.sha1(f).hexdigest() for f in frames]
print(json.dumps(res))`,
      FILES,
    ),
  ) as Record<string, string[]>
  let checked = 0
  for (const [f, hashes] of Object.entries(ref)) {
    const buf = readFileSync(f)
    const p = readDicomBuffer(buf)
    if (p.deflated) continue
    const frames = frameRanges(p)
    assert.equal(frames.length, hashes.length, `${f}: frame count`)
    frames.forEach((ranges, i) => {
      const h = createHash('sha1')
      for (const r of ranges) h.update(buf.subarray(r.offset, r.offset + r.length))
      // Native frames: pydicom slices an even split of the value; ours are exactly Rows×Columns×Samples×Bits.
      const native = !p.dataset.elements.get(Tags.PixelData)!.fragments
      if (native && hashes.length === 1) return
      assert.equal(h.digest('hex'), hashes[i], `${f}: frame ${i}`)
    })
    checked++
  }
  assert.ok(checked > 40, `${checked} files checked`)
  const multi = frameRanges(readDicomBuffer(readFileSync(`${TEST_FILES}/rtdose_rle.dcm`)))
  assert.equal(multi.length, 15)
})

/** A hand-built ParsedDicom with encapsulated pixel data laid out from fragment lengths. */
function encapsulated(frames: number, lengths: number[], opts: { bot?: number[]; eot?: number[]; markers?: number[] } = {}): ParsedDicom {
  const ds = newDataset([], true)
  const el = (tag: number, vr: DicomElement['vr'], bytes: Uint8Array): void => {
    ds.elements.set(tag, { tag, vr, offset: 0, length: bytes.length, undefinedLength: false, bytes })
  }
  el(Tags.NumberOfFrames, 'IS', new TextEncoder().encode(String(frames)))
  const botBytes = new Uint8Array(new Uint32Array(opts.bot ?? []).buffer)
  if (opts.eot) el(Tags.ExtendedOffsetTable, 'OV', new Uint8Array(new BigUint64Array(opts.eot.map(BigInt)).buffer))
  let pos = 1000 + 8
  const fragments: Fragment[] = [{ offset: pos, length: botBytes.length }]
  pos += botBytes.length
  lengths.forEach((len, i) => {
    fragments.push({ offset: pos + 8, length: len, marker: opts.markers?.[i] })
    pos += 8 + len
  })
  ds.elements.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', offset: 1000, length: pos + 8 - 1000, undefinedLength: true, fragments, basicOffsetTable: botBytes })
  return { meta: newDataset([], true), dataset: ds, transferSyntaxUID: '1.2.840.10008.1.2.4.50', datasetOffset: 0, size: pos + 8, hasPreamble: true, explicitVr: true }
}

test('encapsulated frames: Basic Offset Table, Extended Offset Table, one per frame, markers', () => {
  const lens = (r: { length: number }[][]) => r.map((f) => f.map((x) => x.length))
  // BOT: frame 0 = fragments 0-1, frame 1 = fragment 2 (offsets count item headers: 8 + 100 + 8 + 50).
  assert.deepEqual(lens(frameRanges(encapsulated(2, [100, 50, 70], { bot: [0, 166] }))), [[100, 50], [70]])
  assert.deepEqual(lens(frameRanges(encapsulated(2, [100, 50, 70], { eot: [0, 108] }))), [[100], [50, 70]])
  assert.deepEqual(lens(frameRanges(encapsulated(3, [10, 20, 30]))), [[10], [20], [30]])
  assert.deepEqual(lens(frameRanges(encapsulated(1, [10, 20, 30]))), [[10, 20, 30]])
  assert.deepEqual(lens(frameRanges(encapsulated(2, [10, 20, 30], { markers: [0xffd8, 0x1234, 0xffd8] }))), [[10, 20], [30]])
  assert.throws(() => frameRanges(encapsulated(2, [10, 20, 30], { markers: [0xffd8, 0x1234, 0x5678] })), (e: any) => e.code === 'DICOM_MALFORMED')
  assert.throws(() => frameRanges(encapsulated(2, [100, 50], { bot: [0, 60] })), (e: any) => e.code === 'DICOM_MALFORMED')
})

test('native frames: multi-frame, 1-bit packed, and too-short values', () => {
  const p = readDicomBuffer(readFileSync(`${TEST_FILES}/rtdose.dcm`))
  const f = frameRanges(p)
  const px = p.dataset.elements.get(Tags.PixelData)!
  assert.equal(f.length, 15)
  assert.equal(f[1][0].offset - f[0][0].offset, px.length / 15)
  assert.equal(f[14][0].offset + f[14][0].length, px.offset + px.length)
  // 1-bit: 3×3 pixels, 2 frames → frame 1 starts at bit 9 (byte 1) and ends at bit 18 (byte 3).
  const ds = newDataset([], true)
  const us = (tag: number, v: number) => ds.elements.set(tag, { tag, vr: 'US', offset: 0, length: 2, undefinedLength: false, bytes: new Uint8Array([v, 0]) })
  us(Tags.Rows, 3)
  us(Tags.Columns, 3)
  us(Tags.BitsAllocated, 1)
  ds.elements.set(Tags.NumberOfFrames, { tag: Tags.NumberOfFrames, vr: 'IS', offset: 0, length: 2, undefinedLength: false, bytes: new TextEncoder().encode('2 ') })
  ds.elements.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', offset: 500, length: 4, undefinedLength: false })
  const parsed: ParsedDicom = { meta: newDataset([], true), dataset: ds, transferSyntaxUID: '1.2.840.10008.1.2.1', datasetOffset: 0, size: 504, hasPreamble: false, explicitVr: true }
  assert.deepEqual(frameRanges(parsed), [[{ offset: 500, length: 2 }], [{ offset: 501, length: 2 }]])
  us(Tags.Rows, 30)
  assert.throws(() => frameRanges(parsed), (e: any) => e.code === 'DICOM_MALFORMED')
})
