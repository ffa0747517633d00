import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Tags } from './dictionary.ts'
import { frameRanges } from './frames.ts'
import { readDicomBuffer } from './reader.ts'
import { decodeRleFrame, encodeRleFrame, nativeToSegments, segmentsToNative, type NativeFrameLayout } from './rle.ts'
import { python, TEST_FILES } from './testkit.ts'
import { getNumber } from './values.ts'
import { writeDicom } from './writer.ts'

const RLE = '1.2.840.10008.1.2.5'

/** Deterministic bytes mixing long runs (past 128), short runs of two, and literal stretches (past 128). */
function plane(rows: number, cols: number, seed: number): Uint8Array {
  const p = new Uint8Array(rows * cols)
  let x = seed
  for (let i = 0; i < p.length; i++) {
    const c = i % cols
    x = (x * 1103515245 + 12345) >>> 0
    p[i] = c < 150 ? 7 : c < 300 ? (x >>> 16) & 0xff : c % 4 < 2 ? 9 : (x >>> 24)
  }
  return p
}

/** Walks the PackBits packets of a segment and asserts none crosses a row boundary (PS3.5 G.3.1). */
function assertRowsSeparate(frame: Uint8Array, seg: number, rows: number, cols: number): void {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  const count = dv.getUint32(0, true)
  let i = dv.getUint32(4 + 4 * seg, true)
  const end = seg + 1 < count ? dv.getUint32(8 + 4 * seg, true) : frame.length
  let out = 0
  while (i < end && out < rows * cols) {
    const h = frame[i++]!
    const n = h < 128 ? h + 1 : h > 128 ? 257 - h : 0
    if (n > 0) assert.equal(Math.floor(out / cols), Math.floor((out + n - 1) / cols), `packet at ${out} crosses a row`)
    out += n
    i += h < 128 ? h + 1 : h > 128 ? 1 : 0
  }
  assert.equal(out, rows * cols)
  assert.equal((end - dv.getUint32(4 + 4 * seg, true)) % 2, 0, 'segment length is even')
}

test('RLE round trip: 8/16/32 bit, 1 and 3 samples, odd sizes, runs and literals past 128, rows kept apart', () => {
  for (const [rows, cols, samples, bits] of [[3, 401, 1, 8], [5, 333, 3, 8], [4, 257, 1, 16], [2, 129, 3, 32], [1, 1, 1, 8]] as const) {
    const l = { rows, columns: cols, samples, bitsAllocated: bits }
    const segs = Array.from({ length: samples * (bits / 8) }, (_, s) => plane(rows, cols, s + 1))
    const frame = encodeRleFrame(segs, l)
    assert.equal(frame.length % 2, 0)
    const back = decodeRleFrame(frame, l)
    assert.deepEqual(back, segs, `${rows}x${cols}x${samples}x${bits}`)
    for (let s = 0; s < segs.length; s++) assertRowsSeparate(frame, s, rows, cols)
  }
  // Constant rows compress: 2 bytes per 128.
  const flat = encodeRleFrame([new Uint8Array(1080 * 1920)], { rows: 1080, columns: 1920, samples: 1, bitsAllocated: 8 })
  assert.ok(flat.length < 64 + 1080 * 32, `${flat.length}`)
})

test('native <-> segments: most significant byte first, interleaved and by plane', () => {
  const l: NativeFrameLayout = { rows: 1, columns: 2, samples: 3, bitsAllocated: 16, planar: 0 }
  // Pixels (R,G,B) = (0x0102, 0x0304, 0x0506), (0x0708, 0x090a, 0x0b0c), little endian.
  const native = new Uint8Array([2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11])
  const segs = nativeToSegments(native, l)
  assert.deepEqual(segs.map((s) => [...s]), [[1, 7], [2, 8], [3, 9], [4, 10], [5, 11], [6, 12]])
  assert.deepEqual(segmentsToNative(segs, l), native)
  const planar = segmentsToNative(segs, { ...l, planar: 1 })
  assert.deepEqual([...planar], [2, 1, 8, 7, 4, 3, 10, 9, 6, 5, 12, 11])
  assert.deepEqual(nativeToSegments(planar, { ...l, planar: 1 }), segs)
})

test('malformed RLE frames are refused with DICOM_MALFORMED', () => {
  const l = { rows: 2, columns: 2, samples: 1, bitsAllocated: 8 }
  const good = encodeRleFrame([new Uint8Array([1, 2, 3, 4])], l)
  const code = (e: unknown) => (e as { code?: string }).code === 'DICOM_MALFORMED'
  assert.throws(() => decodeRleFrame(good.subarray(0, 40), l), code)
  assert.throws(() => decodeRleFrame(good, { ...l, samples: 3 }), code)
  assert.throws(() => decodeRleFrame(good.subarray(0, good.length - 2), l), code)
})

test('our decoder matches pydicom on its RLE test files (8/16/32 bit, RGB, multi-frame)', () => {
  const names = ['MR_small_RLE.dcm', 'SC_rgb_rle.dcm', 'SC_rgb_rle_16bit_2frame.dcm', 'SC_rgb_rle_32bit_2frame.dcm', 'rtdose_rle.dcm']
  const paths = names.map((n) => `${TEST_FILES}/${n}`)
  // pydicom's pixel_array, re-laid as native little-endian interleaved bytes (hex) per frame.
  const ref = JSON.parse(python(`
import numpy as np
out = {}
for p in sys.argv[1:]:
    d = pydicom.dcmread(p)
    a = d.pixel_array
    n = int(getattr(d, 'NumberOfFrames', 1) or 1)
    a = a.reshape((n,) + a.shape[-(a.ndim - (1 if n > 1 else 0)):]) if n > 1 else a[None]
    out[p] = [f.astype(f.dtype.newbyteorder('<')).tobytes().hex() for f in a]
print(json.dumps(out))`, paths)) as Record<string, string[]>
  for (const p of paths) {
    const buf = new Uint8Array(readFileSync(p))
    const parsed = readDicomBuffer(buf)
    const ds = parsed.dataset
    const l: NativeFrameLayout = {
      rows: getNumber(ds, Tags.Rows)!, columns: getNumber(ds, Tags.Columns)!, samples: getNumber(ds, Tags.SamplesPerPixel)!,
      bitsAllocated: getNumber(ds, Tags.BitsAllocated)!, planar: 0,
    }
    const ranges = frameRanges(parsed)
    assert.equal(ranges.length, ref[p]!.length, p)
    ranges.forEach((r, f) => {
      const frame = Buffer.concat(r.map((x) => buf.subarray(x.offset, x.offset + x.length)))
      const segs = decodeRleFrame(new Uint8Array(frame), l)
      assert.equal(Buffer.from(segmentsToNative(segs, l)).toString('hex'), ref[p]![f], `${p} frame ${f + 1}`)
      // And our encoding of the same planes decodes back identically.
      assert.deepEqual(decodeRleFrame(encodeRleFrame(segs, l), l), segs)
    })
  }
})

test('pydicom and DCMTK decode what we encode: 16-bit MONOCHROME2 and 3-frame RGB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-rle-'))
  try {
    const cases = [
      { name: 'mono16', rows: 37, cols: 301, samples: 1, bits: 16, frames: 1, pi: 'MONOCHROME2' },
      { name: 'rgb3', rows: 40, cols: 131, samples: 3, bits: 8, frames: 3, pi: 'RGB' },
    ]
    const natives: Record<string, string> = {}
    for (const c of cases) {
      const l: NativeFrameLayout = { rows: c.rows, columns: c.cols, samples: c.samples, bitsAllocated: c.bits, planar: 0 }
      const frames: Uint8Array[] = []
      const native: Uint8Array[] = []
      for (let f = 0; f < c.frames; f++) {
        const segs = Array.from({ length: c.samples * (c.bits / 8) }, (_, s) => plane(c.rows, c.cols, 10 * f + s + 1))
        native.push(segmentsToNative(segs, l))
        frames.push(encodeRleFrame(segs, l))
      }
      natives[c.name] = Buffer.concat(native).toString('hex')
      const file = writeDicom({
        meta: { MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', MediaStorageSOPInstanceUID: '1.2.3' },
        dataset: [
          { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
          { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3' },
          { tag: Tags.SamplesPerPixel, vr: 'US', value: c.samples },
          { tag: Tags.PhotometricInterpretation, vr: 'CS', value: c.pi },
          ...(c.samples === 3 ? [{ tag: Tags.PlanarConfiguration, vr: 'US' as const, value: 0 }] : []),
          { tag: Tags.NumberOfFrames, vr: 'IS', value: String(c.frames) },
          { tag: Tags.Rows, vr: 'US', value: c.rows },
          { tag: Tags.Columns, vr: 'US', value: c.cols },
          { tag: Tags.BitsAllocated, vr: 'US', value: c.bits },
          { tag: 0x00280101, vr: 'US', value: c.bits },
          { tag: 0x00280102, vr: 'US', value: c.bits - 1 },
          { tag: 0x00280103, vr: 'US', value: 0 },
          { tag: Tags.PixelData, vr: 'OB', value: frames },
        ],
      }, { transferSyntaxUID: RLE })
      writeFileSync(join(dir, `${c.name}.dcm`), file)
    }
    const py = JSON.parse(python(`
out = {}
for p in sys.argv[1:]:
    a = pydicom.dcmread(p).pixel_array
    out[p] = a.astype(a.dtype.newbyteorder('<')).tobytes().hex()
print(json.dumps(out))`, cases.map((c) => join(dir, `${c.name}.dcm`)))) as Record<string, string>
    for (const c of cases) {
      assert.equal(py[join(dir, `${c.name}.dcm`)], natives[c.name], `pydicom ${c.name}`)
      const { spawnSync } = await import('node:child_process')
      const r = spawnSync('dcmdrle', [join(dir, `${c.name}.dcm`), join(dir, `${c.name}.raw.dcm`)], { encoding: 'utf8' })
      assert.equal(r.status, 0, `dcmdrle: ${r.stderr}`)
      const raw = new Uint8Array(readFileSync(join(dir, `${c.name}.raw.dcm`)))
      const parsed = readDicomBuffer(raw)
      const px = parsed.dataset.elements.get(Tags.PixelData)!
      assert.equal(Buffer.from(raw.subarray(px.offset, px.offset + natives[c.name]!.length / 2)).toString('hex'), natives[c.name], `dcmdrle ${c.name}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
