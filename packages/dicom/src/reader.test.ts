import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BufferSource, FileSource, type ByteSource } from '@kura/core'
import { Tags } from './dictionary.ts'
import { frameRanges } from './frames.ts'
import { toDicomJson } from './json.ts'
import { readDicom, readDicomBuffer } from './reader.ts'
import { CHARSET_FILES, python, TEST_FILES } from './testkit.ts'
import { getNumber, getString } from './values.ts'
import { writeDicom, type WriteElement } from './writer.ts'

/** Files pydicom reads without complaint; the truncated and junk ones are tested separately. */
const BROKEN = new Set(['MR_truncated.dcm', 'rtplan_truncated.dcm', 'no_meta.dcm'])
const FILES = [TEST_FILES, CHARSET_FILES].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.dcm') && !BROKEN.has(f)).map((f) => `${d}/${f}`))

/** Counts what a reader pulls from the source. */
class CountingSource implements ByteSource {
  bytesRead = 0
  reads = 0
  constructor(private readonly inner: ByteSource) {}
  get size(): number {
    return this.inner.size
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const b = await this.inner.read(offset, length)
    this.bytesRead += b.length
    this.reads++
    return b
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

interface PyInfo {
  n: number
  meta: number
  ts: string | null
  implicit: boolean
  le: boolean
  bot?: number
  frags?: number[]
}

const reference = JSON.parse(
  python(
    `from pydicom.encaps import generate_pixel_data_fragment, get_frame_offsets
from pydicom.filebase import DicomBytesIO
res = {}
for p in sys.argv[1:]:
    ds = pydicom.dcmread(p, force=True)
    fm = getattr(ds, 'file_meta', None)
    info = {'n': len(ds), 'meta': len(fm) if fm is not None else 0, 'ts': str(fm.TransferSyntaxUID) if fm is not None and 'TransferSyntaxUID' in fm else None,
            'implicit': ds.is_implicit_VR, 'le': ds.is_little_endian}
    if 'PixelData' in ds and ds['PixelData'].is_undefined_length:
        fp = DicomBytesIO(ds.PixelData); fp.is_little_endian = True
        has_bot, offsets = get_frame_offsets(fp)
        info['bot'] = len(offsets) * 4 if has_bot else 0
        info['frags'] = [len(f) for f in generate_pixel_data_fragment(fp)]
    res[p] = info
print(json.dumps(res))`,
    FILES,
  ),
) as Record<string, PyInfo>

test('every sample file parses to the same element counts, byte order and fragments as pydicom', () => {
  assert.ok(FILES.length > 70, `found ${FILES.length} sample files`)
  for (const f of FILES) {
    const name = f.split('/').pop()
    const p = readDicomBuffer(readFileSync(f))
    const ref = reference[f]
    assert.equal(p.dataset.elements.size, ref.n, `${name}: dataset elements`)
    assert.equal(p.meta.elements.size, ref.meta, `${name}: meta elements`)
    assert.equal(p.dataset.littleEndian, ref.le, `${name}: byte order`)
    if (ref.ts) assert.equal(p.declaredTransferSyntaxUID ?? p.transferSyntaxUID, ref.ts, `${name}: transfer syntax`)
    const px = p.dataset.elements.get(Tags.PixelData)
    if (ref.frags) {
      assert.ok(px?.fragments, `${name}: fragments`)
      assert.equal(px!.fragments![0].length, ref.bot, `${name}: basic offset table`)
      assert.deepEqual(px!.fragments!.slice(1).map((fr) => fr.length), ref.frags, `${name}: fragment lengths`)
    } else if (px) {
      assert.equal(px.fragments, undefined, `${name}: native pixel data`)
    }
    if (!p.deflated) assert.equal(p.size, readFileSync(f).length, `${name}: size covers the file`)
  }
})

test('the windowed reader over a file gives exactly what the in-memory parser gives', async () => {
  for (const f of FILES) {
    const fromBuffer = readDicomBuffer(readFileSync(f))
    const src = await FileSource.open(f)
    try {
      const fromFile = await readDicom(src)
      assert.deepEqual(toDicomJson(fromFile.dataset), toDicomJson(fromBuffer.dataset), f)
      assert.equal(fromFile.size, fromBuffer.size)
      assert.deepEqual(fromFile.dataset.elements.get(Tags.PixelData)?.fragments, fromBuffer.dataset.elements.get(Tags.PixelData)?.fragments)
    } finally {
      await src.close()
    }
  }
})

test('values are views into the input, not copies', () => {
  const buf = readFileSync(`${TEST_FILES}/CT_small.dcm`)
  const p = readDicomBuffer(buf)
  const el = p.dataset.elements.get(Tags.PatientName)!
  assert.equal(el.bytes!.buffer, buf.buffer)
  assert.equal(Buffer.from(buf.subarray(el.offset, el.offset + el.length)).toString('latin1'), Buffer.from(el.bytes!).toString('latin1'))
})

test('pixel data and large binary values are located, not loaded', () => {
  const p = readDicomBuffer(readFileSync(`${TEST_FILES}/CT_small.dcm`))
  const px = p.dataset.elements.get(Tags.PixelData)!
  assert.equal(px.bytes, undefined)
  assert.equal(px.length, 128 * 128 * 2)
  assert.ok(px.offset + px.length <= p.size)
  const small = readDicomBuffer(readFileSync(`${TEST_FILES}/waveform_ecg.dcm`), { bulkDataThreshold: 64 })
  const wf = small.dataset.elements.get(0x54000100)!.items![0].elements.get(0x54001010)!
  assert.equal(wf.bytes, undefined)
  assert.ok(wf.length > 64)
  const all = readDicomBuffer(readFileSync(`${TEST_FILES}/waveform_ecg.dcm`), { bulkDataThreshold: Infinity })
  assert.equal(all.dataset.elements.get(0x54000100)!.items![0].elements.get(0x54001010)!.bytes!.length, wf.length)
})

test('implicit VR, big endian, deflate and missing meta are all read', () => {
  const implicit = readDicomBuffer(readFileSync(`${TEST_FILES}/MR_small_implicit.dcm`))
  const explicit = readDicomBuffer(readFileSync(`${TEST_FILES}/MR_small.dcm`))
  const big = readDicomBuffer(readFileSync(`${TEST_FILES}/MR_small_bigendian.dcm`))
  assert.equal(implicit.explicitVr, false)
  assert.equal(big.dataset.littleEndian, false)
  for (const tag of [Tags.Rows, Tags.Columns, Tags.BitsAllocated]) {
    assert.equal(getNumber(implicit.dataset, tag), getNumber(explicit.dataset, tag))
    assert.equal(getNumber(big.dataset, tag), getNumber(explicit.dataset, tag))
  }
  assert.equal(getString(big.dataset, Tags.PatientName), getString(explicit.dataset, Tags.PatientName))

  const dfl = readDicomBuffer(readFileSync(`${TEST_FILES}/image_dfl.dcm`))
  assert.equal(dfl.deflated, true)
  assert.ok(dfl.inflated && dfl.inflated.length > readFileSync(`${TEST_FILES}/image_dfl.dcm`).length - dfl.datasetOffset)
  assert.equal(getString(dfl.dataset, Tags.Modality), python(`print(pydicom.dcmread(sys.argv[1]).Modality)`, [`${TEST_FILES}/image_dfl.dcm`]).trim())

  const noMeta = readDicomBuffer(readFileSync(`${TEST_FILES}/ExplVR_BigEndNoMeta.dcm`))
  assert.equal(noMeta.hasPreamble, false)
  assert.equal(noMeta.meta.elements.size, 0)
  assert.equal(noMeta.transferSyntaxUID, '1.2.840.10008.1.2.2')
})

test('a transfer syntax contradicted by the data is detected and reported', () => {
  // Meta says JPEG Baseline (explicit VR); the dataset is implicit VR (pydicom warns the same).
  const p = readDicomBuffer(readFileSync(`${TEST_FILES}/SC_rgb_jpeg.dcm`))
  assert.equal(p.explicitVr, false)
  assert.equal(p.declaredTransferSyntaxUID, '1.2.840.10008.1.2.4.50')
  assert.equal(p.dataset.elements.get(Tags.PixelData)!.vr, 'OB')
  // Meta without a Transfer Syntax UID.
  const m = readDicomBuffer(readFileSync(`${TEST_FILES}/meta_missing_tsyntax.dcm`))
  assert.equal(m.transferSyntaxUID, '1.2.840.10008.1.2')
  assert.equal(m.dataset.elements.get(0x00010001)!.items!.length, 1)
})

test('UN of undefined length is parsed as an implicit VR little endian sequence (PS3.5 6.2.2)', () => {
  const p = readDicomBuffer(readFileSync(`${TEST_FILES}/UN_sequence.dcm`))
  const el = p.dataset.elements.get(0x4453100c)!
  assert.equal(el.undefinedLength, true)
  const inner = el.items![0].elements.get(0x00081115)!.items![0].elements.get(0x00081199)!.items![0]
  assert.equal(getString(inner, 0x00081150), '1.2.840.10008.5.1.4.1.1.2')
})

test('untilTag stops before the tag and reads only what precedes it', async () => {
  const f = `${TEST_FILES}/CT_small.dcm`
  const p = readDicomBuffer(readFileSync(f), { untilTag: Tags.PixelData })
  assert.equal(p.stoppedAt, Tags.PixelData)
  assert.equal(p.dataset.elements.has(Tags.PixelData), false)
  const full = readDicomBuffer(readFileSync(f))
  assert.equal(p.dataset.elements.size, [...full.dataset.elements.keys()].filter((t) => t < Tags.PixelData).length)
  assert.equal(p.size, full.dataset.elements.get(Tags.PixelData)!.offset - 12)
  const src = new CountingSource(await FileSource.open(f))
  const q = await readDicom(src, { untilTag: 0x00100000 })
  await src.close()
  assert.ok([...q.dataset.elements.keys()].every((t) => t < 0x00100000))
  assert.ok(q.dataset.elements.size > 5)
})

test('truncated objects fail with DICOM_TRUNCATED and the offset', async () => {
  for (const name of ['MR_truncated.dcm', 'rtplan_truncated.dcm']) {
    const buf = readFileSync(`${TEST_FILES}/${name}`)
    assert.throws(() => readDicomBuffer(buf), (e: any) => e.code === 'DICOM_TRUNCATED' && typeof e.details.offset === 'number' && e.status === 400, name)
    await assert.rejects(readDicom(new BufferSource(buf)), (e: any) => e.code === 'DICOM_TRUNCATED', name)
  }
  // Cut a good file anywhere in its header: always DICOM_TRUNCATED, never a crash or a silent success.
  const good = readFileSync(`${TEST_FILES}/rtplan.dcm`)
  // A cut exactly between two top-level elements leaves a valid (shorter) object.
  const boundaries = new Set([...readDicomBuffer(good).dataset.elements.values()].map((e) => e.offset + e.length))
  for (let cut = 140; cut < good.length - 1; cut += 37) {
    if (boundaries.has(cut)) continue
    assert.throws(() => readDicomBuffer(good.subarray(0, cut)), (e: any) => e.code === 'DICOM_TRUNCATED', `cut at ${cut}`)
  }
})

test('non-DICOM bytes fail with DICOM_NOT_DICOM', async () => {
  const cases = [new Uint8Array(0), new TextEncoder().encode('%PDF-1.7\n' + 'x'.repeat(300)), readFileSync(`${TEST_FILES}/../test_files/zipMR.gz`)]
  for (const b of cases) {
    assert.throws(() => readDicomBuffer(b), (e: any) => e.code === 'DICOM_NOT_DICOM')
    await assert.rejects(readDicom(new BufferSource(b)), (e: any) => e.code === 'DICOM_NOT_DICOM')
  }
  // pydicom's no_meta.dcm starts with a stray byte, so its first "tag" is (0820,0500): not a dataset.
  assert.throws(() => readDicomBuffer(readFileSync(`${TEST_FILES}/no_meta.dcm`)), (e: any) => e.code === 'DICOM_NOT_DICOM')
})


function header(extra: WriteElement[] = []): WriteElement[] {
  return [
    { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
    { tag: Tags.SOPInstanceUID, vr: 'UI', value: '2.25.42' },
    { tag: Tags.PatientName, vr: 'PN', value: 'Large^Object' },
    { tag: Tags.Rows, vr: 'US', value: 512 },
    { tag: Tags.Columns, vr: 'US', value: 512 },
    { tag: Tags.BitsAllocated, vr: 'US', value: 16 },
    { tag: Tags.SamplesPerPixel, vr: 'US', value: 1 },
    ...extra,
  ]
}

test('a 300 MB native object is parsed reading under 1 MB of it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-dicom-large-'))
  try {
    const frames = 600 // 600 × 512 × 512 × 2 bytes = 314,572,800 bytes of pixel data
    const pixelBytes = frames * 512 * 512 * 2
    const small = writeDicom({ dataset: [...header([{ tag: Tags.NumberOfFrames, vr: 'IS', value: frames }]), { tag: Tags.PixelData, vr: 'OW', value: new Uint8Array(2) }] })
    const px = readDicomBuffer(small).dataset.elements.get(Tags.PixelData)!
    const head = Buffer.from(small.subarray(0, px.offset))
    head.writeUInt32LE(pixelBytes, px.offset - 4)
    const path = join(dir, 'large.dcm')
    const fd = openSync(path, 'w')
    writeSync(fd, head)
    ftruncateSync(fd, px.offset + pixelBytes) // sparse: nothing is written for the pixels
    closeSync(fd)
    const src = new CountingSource(await FileSource.open(path))
    const p = await readDicom(src)
    await src.close()
    assert.ok(src.bytesRead < 1024 * 1024, `read ${src.bytesRead} bytes`)
    assert.equal(p.size, px.offset + pixelBytes)
    assert.equal(getString(p.dataset, Tags.PatientName), 'Large^Object')
    const f = frameRanges(p)
    assert.equal(f.length, frames)
    assert.equal(f[frames - 1][0].offset + f[frames - 1][0].length, p.size)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a 300 MB encapsulated object is parsed from its item headers alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-dicom-large-'))
  try {
    const frames = 1000
    const fragLen = 300_000
    const small = writeDicom(
      { dataset: [...header([{ tag: Tags.NumberOfFrames, vr: 'IS', value: frames }]), { tag: Tags.PixelData, vr: 'OB', value: [new Uint8Array([0xff, 0xd8])] }] },
      { transferSyntaxUID: '1.2.840.10008.1.2.4.50' },
    )
    const px = readDicomBuffer(small).dataset.elements.get(Tags.PixelData)!
    const path = join(dir, 'large-jpeg.dcm')
    const fd = openSync(path, 'w')
    let pos = px.fragments![1].offset - 8 // first fragment item, after the empty offset table
    writeSync(fd, small.subarray(0, pos), 0, pos, 0)
    const item = Buffer.alloc(10)
    for (let i = 0; i < frames; i++) {
      item.writeUInt16LE(0xfffe, 0)
      item.writeUInt16LE(0xe000, 2)
      item.writeUInt32LE(fragLen, 4)
      item[8] = 0xff
      item[9] = 0xd8
      writeSync(fd, item, 0, 10, pos)
      pos += 8 + fragLen
    }
    const delim = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])
    writeSync(fd, delim, 0, 8, pos)
    closeSync(fd)
    const src = new CountingSource(await FileSource.open(path))
    const p = await readDicom(src)
    await src.close()
    assert.ok(src.bytesRead < 1024 * 1024, `read ${src.bytesRead} bytes in ${src.reads} reads`)
    const el = p.dataset.elements.get(Tags.PixelData)!
    assert.equal(el.fragments!.length, frames + 1)
    assert.ok(el.fragments!.slice(1).every((f) => f.length === fragLen && f.marker === 0xffd8))
    assert.equal(el.offset + el.length, p.size)
    assert.equal(frameRanges(p).length, frames)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('headers larger than a read window (long text, big sequences) read the same windowed and in memory', async () => {
  const items: WriteElement[][] = []
  for (let i = 0; i < 400; i++) items.push([{ tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' }, { tag: 0x00081155, vr: 'UI', value: `2.25.${i}${'7'.repeat(40)}` }, { tag: 0x00081160, vr: 'IS', value: i }])
  const bytes = writeDicom({
    dataset: [
      ...header([{ tag: 0x00081140, vr: 'SQ', value: items }, { tag: 0x00204000, vr: 'LT', value: 'x'.repeat(60000) }, { tag: 0x00091010, vr: 'UN', value: new Uint8Array(200_000) }]),
      { tag: Tags.PixelData, vr: 'OW', value: new Uint8Array(512 * 512 * 2) },
    ],
  })
  const mem = readDicomBuffer(bytes)
  const src = new CountingSource(new BufferSource(bytes))
  const win = await readDicom(src)
  assert.deepEqual(toDicomJson(win.dataset), toDicomJson(mem.dataset))
  assert.equal(win.dataset.elements.get(0x00081140)!.items!.length, 400)
  assert.equal(getString(win.dataset, 0x00204000)!.length, 60000)
  // The UN value (bulk) and the pixels were skipped, not read.
  assert.ok(src.bytesRead < bytes.length - 500_000, `read ${src.bytesRead} of ${bytes.length}`)
})
