import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { frameRanges } from './frames.ts'
import { decodeJpegFrame, encodeJpegFrame, readJpegInfo, subsamplingOf } from './jpeg.ts'
import { readDicomBuffer } from './reader.ts'
import { TEST_FILES } from './testkit.ts'

function firstFrame(name: string): Uint8Array {
  const buf = new Uint8Array(readFileSync(`${TEST_FILES}/${name}`))
  const r = frameRanges(readDicomBuffer(buf))[0]!
  return new Uint8Array(Buffer.concat(r.map((x) => buf.subarray(x.offset, x.offset + x.length))))
}

test('frame headers of third-party JPEGs (pydicom test files): process, precision, size, subsampling', () => {
  const dcmtk = readJpegInfo(firstFrame('SC_rgb_jpeg_dcmtk.dcm'))
  assert.deepEqual([dcmtk.sof, dcmtk.precision, dcmtk.width, dcmtk.height], [0xc0, 8, 100, 100])
  assert.equal(subsamplingOf(dcmtk), '4:4:4')
  const ext = readJpegInfo(firstFrame('JPGExtended.dcm'))
  assert.deepEqual([ext.sof, ext.precision], [0xc1, 12], 'JPEG Extended 12-bit: refused by masking')
  assert.throws(() => readJpegInfo(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])), (e: unknown) => (e as { code?: string }).code === 'DICOM_MALFORMED')
})

test('decode then re-encode keeps size and content (MAE small), writes Baseline with the asked subsampling', async () => {
  const src = firstFrame('SC_rgb_jpeg_dcmtk.dcm')
  const img = await decodeJpegFrame(src, 3)
  assert.deepEqual([img.width, img.height, img.channels, img.data.length], [100, 100, 3, 30000])
  for (const subsampling of ['4:2:0', '4:4:4'] as const) {
    const out = await encodeJpegFrame(img, { quality: 95, subsampling })
    const info = readJpegInfo(out)
    assert.equal(info.sof, 0xc0)
    assert.equal(subsamplingOf(info), subsampling)
    const back = await decodeJpegFrame(out, 3)
    let err = 0
    for (let i = 0; i < back.data.length; i++) err += Math.abs(back.data[i]! - img.data[i]!)
    assert.ok(err / back.data.length < 3, `${subsampling}: MAE ${err / back.data.length}`)
  }
})
