import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BufferSource, FileSource, KuraError, type ByteSource } from '@kura/core'
import { Tags } from './dictionary.ts'
import { frameRanges } from './frames.ts'
import { encodeRleFrame, nativeToSegments } from './rle.ts'
import { readDicom, readDicomBuffer } from './reader.ts'
import { rewriteDicom, type RewritePlan } from './rewrite.ts'
import { python, TEST_FILES } from './testkit.ts'
import type { DicomDataset } from './types.ts'
import { getString } from './values.ts'
import { KURA_IMPLEMENTATION_CLASS_UID, writeDicom } from './writer.ts'

const KEEP: RewritePlan = { edit: () => ({ op: 'keep' }) }
const FILES = ['CT_small.dcm', 'MR_small_implicit.dcm', 'SC_rgb_jpeg_dcmtk.dcm', 'rtdose_rle.dcm', 'test-SR.dcm']

async function rewriteFile(path: string, plan: RewritePlan): Promise<Uint8Array> {
  const src = await FileSource.open(path)
  try {
    const parts: Uint8Array[] = []
    // Small threshold and chunks so values really are copied from the source, in several reads.
    for await (const p of rewriteDicom(await readDicom(src, { bulkDataThreshold: 16 }), src, plan, { chunkSize: 1000 })) parts.push(p)
    return new Uint8Array(Buffer.concat(parts))
  } finally {
    await src.close()
  }
}

/** Every element of `a` is in `b` with identical value bytes; sequences compared item by item. */
function assertSameBytes(a: DicomDataset, abuf: Uint8Array, b: DicomDataset, bbuf: Uint8Array, where: string): void {
  const tags = (ds: DicomDataset) => [...ds.elements.keys()].filter((t) => (t & 0xffff) !== 0 && t >>> 16 !== 0x0002)
  assert.deepEqual(tags(b), tags(a), `${where}: same tags in the same order`)
  for (const t of tags(a)) {
    const ea = a.elements.get(t)!
    const eb = b.elements.get(t)!
    const at = `${where}/${t.toString(16).padStart(8, '0')}`
    assert.equal(eb.vr, ea.vr, at)
    if (ea.vr === 'SQ' && ea.items) {
      assert.equal(eb.items?.length, ea.items.length, at)
      ea.items.forEach((item, i) => assertSameBytes(item, abuf, eb.items![i], bbuf, `${at}[${i}]`))
    } else {
      assert.ok(Buffer.from(bbuf.subarray(eb.offset, eb.offset + eb.length)).equals(abuf.subarray(ea.offset, ea.offset + ea.length)), `${at}: bytes`)
    }
  }
}

function dcmdumpClean(path: string): void {
  const r = spawnSync('dcmdump', [path], { encoding: 'utf8' })
  assert.equal(r.status, 0, `dcmdump ${path}: ${r.stderr}`)
  assert.doesNotMatch(r.stdout + r.stderr, /^E:/m, `dcmdump ${path}`)
}

test('keep-everything copies every value byte for byte, in the source transfer syntax, readable by pydicom and DCMTK', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-rewrite-'))
  try {
    const pairs: string[] = []
    for (const name of FILES) {
      const path = `${TEST_FILES}/${name}`
      const bytes = await rewriteFile(path, KEEP)
      const out = join(dir, name)
      writeFileSync(out, bytes)
      const orig = readFileSync(path)
      const a = readDicomBuffer(orig, { bulkDataThreshold: Infinity })
      const b = readDicomBuffer(bytes, { bulkDataThreshold: Infinity })
      assert.equal(b.hasPreamble, true)
      assert.equal(b.transferSyntaxUID, a.transferSyntaxUID, name)
      assert.equal(b.explicitVr, a.explicitVr, name)
      assert.equal(getString(b.meta, Tags.ImplementationClassUID), KURA_IMPLEMENTATION_CLASS_UID)
      assert.equal(getString(b.meta, Tags.MediaStorageSOPInstanceUID), getString(a.dataset, Tags.SOPInstanceUID))
      assertSameBytes(a.dataset, orig, b.dataset, bytes, name)
      dcmdumpClean(out)
      pairs.push(path, out)
    }
    const res = JSON.parse(
      python(
        `import numpy as np
res = []
args = sys.argv[1:]
for i in range(0, len(args), 2):
    a = pydicom.dcmread(args[i]); b = pydicom.dcmread(args[i + 1])
    if 'PixelData' not in a:
        px = 'PixelData' not in b; how = 'none'
    else:
      try:
        px = bool(np.array_equal(a.pixel_array, b.pixel_array)); how = 'pixel_array'
      except Exception:
        px = a.PixelData == b.PixelData; how = 'PixelData'
    res.append([args[i], str(a.PatientName) == str(b.PatientName), px, how, b.file_meta.TransferSyntaxUID == a.file_meta.TransferSyntaxUID])
print(json.dumps(res))`,
        pairs,
      ),
    ) as [string, boolean, boolean, string, boolean][]
    for (const [name, pn, px, how, ts] of res) {
      assert.ok(pn, `${name}: PatientName`)
      assert.ok(px, `${name}: ${how}`)
      assert.ok(ts, `${name}: transfer syntax`)
      if (/CT_small|implicit|rle/.test(name)) assert.equal(how, 'pixel_array', `${name}: pydicom decodes it`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('remove, replace (nested and with a new charset) and insert are applied; pydicom and DCMTK agree', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-rewrite-'))
  try {
    const paths: string[] = []
    for (const name of ['test-SR.dcm', 'SC_rgb_jpeg_dcmtk.dcm', 'MR_small_implicit.dcm']) {
      const seen: number[][] = []
      const plan: RewritePlan = {
        edit: (el, path) => {
          if (el.tag === Tags.SpecificCharacterSet) return { op: 'replace', value: 'ISO_IR 192' }
          if (el.tag === Tags.PatientName) return { op: 'replace', value: '山田^太郎=やまだ^たろう' }
          if (el.tag === 0x00100030) return { op: 'remove' }
          if (el.tag === Tags.SOPInstanceUID) return { op: 'replace', value: '2.25.42' }
          if (el.tag === 0x00081155 && path.length > 1) {
            seen.push([...path])
            return { op: 'replace', value: '2.25.1155' }
          }
          return { op: 'keep' }
        },
        insert: [
          { tag: 0x00120063, vr: 'LO', value: 'Kura rewrite test' },
          { tag: 0x00120062, vr: 'CS', value: 'YES' },
          // Without a (0008,0005) in the source this adds it, so the Japanese name is declared.
          ...(name.includes('implicit') ? [{ tag: Tags.SpecificCharacterSet, vr: 'CS' as const, value: 'ISO_IR 192' }] : []),
        ],
      }
      const bytes = await rewriteFile(`${TEST_FILES}/${name}`, plan)
      if (!name.includes('implicit')) {
        assert.ok(seen.length > 0, `${name}: a nested Referenced SOP Instance UID was offered`)
        assert.ok(seen.every((p) => p.length >= 3 && p.length % 2 === 1), `${name}: paths alternate tag, item index, tag`)
      }
      const b = readDicomBuffer(bytes)
      assert.equal(getString(b.meta, Tags.MediaStorageSOPInstanceUID), '2.25.42')
      const tags = [...b.dataset.elements.keys()]
      assert.deepEqual(tags, [...tags].sort((x, y) => x - y), `${name}: ascending order`)
      const out = join(dir, name)
      writeFileSync(out, bytes)
      dcmdumpClean(out)
      paths.push(out)
    }
    const res = JSON.parse(
      python(
        `res = []
def uids(ds, acc):
    for e in ds:
        if e.VR == 'SQ':
            for it in e.value:
                if 'ReferencedSOPInstanceUID' in it: acc.append(it.ReferencedSOPInstanceUID)
                uids(it, acc)
    return acc
for p in sys.argv[1:]:
    d = pydicom.dcmread(p)
    res.append({'pn': str(d.PatientName), 'birth': 'PatientBirthDate' in d, 'removed': d.get('PatientIdentityRemoved'),
      'method': d.get('DeidentificationMethod'), 'sop': d.SOPInstanceUID, 'msop': d.file_meta.MediaStorageSOPInstanceUID,
      'cs': d.SpecificCharacterSet, 'uids': uids(d, [])})
print(json.dumps(res))`,
        paths,
      ),
    ) as Array<{ pn: string; birth: boolean; removed: string; method: string; sop: string; msop: string; cs: string; uids: string[] }>
    for (const [i, r] of res.entries()) {
      assert.equal(r.pn, '山田^太郎=やまだ^たろう', paths[i])
      assert.equal(r.birth, false, paths[i])
      assert.equal(r.removed, 'YES')
      assert.equal(r.method, 'Kura rewrite test')
      assert.equal(r.sop, '2.25.42')
      assert.equal(r.msop, '2.25.42')
      assert.equal(r.cs, 'ISO_IR 192')
      if (!paths[i].includes('implicit')) {
        assert.ok(r.uids.length > 0, paths[i])
        assert.ok(r.uids.every((u) => u === '2.25.1155'), `${paths[i]}: ${r.uids}`)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('big endian and deflated sources are refused with DICOM_REWRITE_UNSUPPORTED_TRANSFER_SYNTAX', async () => {
  for (const name of ['MR_small_bigendian.dcm', 'image_dfl.dcm']) {
    await assert.rejects(rewriteFile(`${TEST_FILES}/${name}`, KEEP), (e: unknown) => e instanceof KuraError && e.code === 'DICOM_REWRITE_UNSUPPORTED_TRANSFER_SYNTAX', name)
  }
})

class CountingSource implements ByteSource {
  bytesRead = 0
  constructor(private readonly inner: ByteSource) {}
  get size(): number {
    return this.inner.size
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const b = await this.inner.read(offset, length)
    this.bytesRead += b.length
    return b
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

test('a 200 MB pixel data value streams through: each source byte read once, memory flat', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-rewrite-large-'))
  const PIXELS = 200 * 1024 * 1024
  try {
    const input = join(dir, 'in.dcm')
    const fh = await open(input, 'w')
    await fh.write(
      writeDicom({
        dataset: [
          { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7.3' },
          { tag: Tags.SOPInstanceUID, vr: 'UI', value: '2.25.900000000000000000000000000000001' },
          { tag: Tags.PatientName, vr: 'PN', value: 'Large^Object' },
          { tag: Tags.PatientID, vr: 'LO', value: 'LARGE1' },
          { tag: 0x00280010, vr: 'US', value: 10240 },
          { tag: 0x00280011, vr: 'US', value: 10240 },
          { tag: 0x00280100, vr: 'US', value: 16 },
        ],
      }),
    )
    const ph = Buffer.alloc(12)
    ph.writeUInt16LE(0x7fe0, 0)
    ph.writeUInt16LE(0x0010, 2)
    ph.write('OW', 4, 'latin1')
    ph.writeUInt32LE(PIXELS, 8)
    await fh.write(ph)
    const zeros = Buffer.alloc(1024 * 1024)
    for (let o = 0; o < PIXELS - zeros.length; o += zeros.length) await fh.write(zeros)
    const last = Buffer.alloc(zeros.length)
    last.write('THE END OF THE PIXELS', last.length - 21, 'latin1')
    await fh.write(last)
    await fh.close()

    const src = new CountingSource(await FileSource.open(input))
    const output = join(dir, 'out.dcm')
    try {
      const parsed = await readDicom(src)
      const afterParse = src.bytesRead
      assert.ok(afterParse < 1024 * 1024, `parsing read ${afterParse} bytes`)
      const base = process.memoryUsage().rss
      let peak = base
      const oh = await open(output, 'w')
      try {
        const plan: RewritePlan = { edit: (el) => (el.tag === Tags.PatientName ? { op: 'replace', value: 'Anonymous' } : { op: 'keep' }) }
        for await (const chunk of rewriteDicom(parsed, src, plan)) {
          await oh.write(chunk)
          peak = Math.max(peak, process.memoryUsage().rss)
        }
      } finally {
        await oh.close()
      }
      // The pixel value is the only thing read during the rewrite, and only once.
      assert.equal(src.bytesRead - afterParse, PIXELS)
      // With the parser's first window (which overlaps the pixel data's start), the file is read about once.
      assert.ok(src.bytesRead <= src.size + 64 * 1024, `${src.bytesRead} bytes read of ${src.size}`)
      assert.ok(peak - base < 50 * 1024 * 1024, `rss grew ${((peak - base) / 1048576).toFixed(1)} MB`)
    } finally {
      await src.close()
    }

    const out = await FileSource.open(output)
    try {
      const p = await readDicom(out)
      assert.equal(getString(p.dataset, Tags.PatientName), 'Anonymous')
      const px = p.dataset.elements.get(Tags.PixelData)!
      assert.equal(px.length, PIXELS)
      const tail = await out.read(px.offset + px.length - 21, 21)
      assert.equal(Buffer.from(tail).toString('latin1'), 'THE END OF THE PIXELS')
    } finally {
      await out.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

// The encapsulate edit: re-encoded Pixel Data written frame by frame, optionally in a new transfer syntax.

const RLE_TS = '1.2.840.10008.1.2.5'

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of gen) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

/** CT_small re-encoded as RLE by the rewriter: native frame → segments → RLE frame, transfer syntax changed. */
async function ctAsRle(offsetTable: 'empty' | 'basic'): Promise<{ out: Uint8Array; native: Uint8Array }> {
  const path = `${TEST_FILES}/CT_small.dcm`
  const buf = new Uint8Array(readFileSync(path))
  const parsed = readDicomBuffer(buf)
  const px = parsed.dataset.elements.get(Tags.PixelData)!
  const native = buf.subarray(px.offset, px.offset + px.length)
  const l = { rows: 128, columns: 128, samples: 1, bitsAllocated: 16, planar: 0 }
  const plan: RewritePlan = {
    transferSyntaxUID: RLE_TS,
    edit: (el) => (el.tag === Tags.PixelData ? { op: 'encapsulate', frames: [encodeRleFrame(nativeToSegments(native, l), l)], offsetTable } : { op: 'keep' }),
  }
  return { out: await collect(rewriteDicom(parsed, new BufferSource(buf), plan)), native }
}

test('encapsulate: native CT re-encoded as RLE in a new transfer syntax; pydicom decodes the same pixels, DCMTK reads it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-rewrite-enc-'))
  try {
    for (const table of ['empty', 'basic'] as const) {
      const { out, native } = await ctAsRle(table)
      const parsed = readDicomBuffer(out)
      assert.equal(parsed.transferSyntaxUID, RLE_TS)
      const px = parsed.dataset.elements.get(Tags.PixelData)!
      assert.equal(px.vr, 'OB')
      assert.ok(px.undefinedLength)
      assert.equal(px.fragments?.length, 2, 'offset table item + one fragment')
      assert.equal(px.basicOffsetTable?.length ?? 0, table === 'basic' ? 4 : 0)
      const p = join(dir, `ct-${table}.dcm`)
      writeFileSync(p, out)
      dcmdumpClean(p)
      const hex = python(`d = pydicom.dcmread(sys.argv[1])
print(d.file_meta.TransferSyntaxUID, d.pixel_array.astype('<i2').tobytes().hex())`, [p]).trim().split(' ')
      assert.equal(hex[0], RLE_TS)
      assert.equal(hex[1], Buffer.from(native).toString('hex'))
      const r = spawnSync('dcmdrle', [p, join(dir, 'back.dcm')], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('encapsulate streams: frame k+1 is asked for only after frame k has been handed out; odd frames padded; basic table filled', async () => {
  const frames: Uint8Array[] = [new Uint8Array(100_001).fill(1), new Uint8Array(3).fill(2), new Uint8Array(70_000).fill(3)]
  const ds = [
    { tag: Tags.SOPClassUID, vr: 'UI' as const, value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: Tags.SOPInstanceUID, vr: 'UI' as const, value: '1.2.3' },
    { tag: Tags.NumberOfFrames, vr: 'IS' as const, value: '3' },
    { tag: 0x7fe00001, vr: 'OV' as const, value: new Uint8Array(8) },
    { tag: Tags.PixelData, vr: 'OB' as const, value: [new Uint8Array([0xff, 0xd8]), new Uint8Array([0xff, 0xd8]), new Uint8Array([0xff, 0xd8])] },
  ]
  const buf = writeDicom({ meta: { MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', MediaStorageSOPInstanceUID: '1.2.3' }, dataset: ds }, { transferSyntaxUID: RLE_TS })
  const log: string[] = []
  async function* produce(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < frames.length; i++) {
      log.push(`make ${i}`)
      yield frames[i]!
    }
  }
  const plan: RewritePlan = { edit: (el) => (el.tag === Tags.PixelData ? { op: 'encapsulate', frames: produce() } : { op: 'keep' }) }
  const parts: Uint8Array[] = []
  for await (const p of rewriteDicom(readDicomBuffer(buf), new BufferSource(buf), plan)) {
    if (frames.includes(p)) log.push(`out ${frames.indexOf(p)}`)
    parts.push(p)
  }
  // Large frames are handed out as they are (no copy) before the next is made.
  assert.deepEqual(log, ['make 0', 'out 0', 'make 1', 'make 2', 'out 2'])
  const out = readDicomBuffer(new Uint8Array(Buffer.concat(parts)))
  const px = out.dataset.elements.get(Tags.PixelData)!
  assert.deepEqual(px.fragments!.slice(1).map((f) => f.length), [100_002, 4, 70_000])
  assert.equal(out.dataset.elements.has(0x7fe00001), false, 'the Extended Offset Table is dropped')
  assert.deepEqual(frameRanges(out).map((r) => r[0]!.length), [100_002, 4, 70_000])

  // A filled Basic Offset Table: offsets from the first fragment's item tag.
  const basic: RewritePlan = { edit: (el) => (el.tag === Tags.PixelData ? { op: 'encapsulate', frames, offsetTable: 'basic' } : { op: 'keep' }) }
  const out2 = readDicomBuffer(await collect(rewriteDicom(readDicomBuffer(buf), new BufferSource(buf), basic)))
  const bot = out2.dataset.elements.get(Tags.PixelData)!.basicOffsetTable!
  const dv = new DataView(bot.buffer, bot.byteOffset, bot.byteLength)
  assert.deepEqual([0, 1, 2].map((i) => dv.getUint32(4 * i, true)), [0, 100_010, 100_022])
})

test('pixel data that does not fit the output transfer syntax is refused with DICOM_BAD_VALUE', async () => {
  const path = `${TEST_FILES}/CT_small.dcm`
  const buf = new Uint8Array(readFileSync(path))
  const bad = (e: unknown) => e instanceof KuraError && e.code === 'DICOM_BAD_VALUE'
  // Native pixel data kept, declared RLE.
  await assert.rejects(collect(rewriteDicom(readDicomBuffer(buf), new BufferSource(buf), { ...KEEP, transferSyntaxUID: RLE_TS })), bad)
  // Encapsulated into a native syntax.
  const enc: RewritePlan = { edit: (el) => (el.tag === Tags.PixelData ? { op: 'encapsulate', frames: [new Uint8Array(2)] } : { op: 'keep' }) }
  await assert.rejects(collect(rewriteDicom(readDicomBuffer(buf), new BufferSource(buf), enc)), bad)
  // Encapsulated fragments kept, declared native.
  const rle = new Uint8Array(readFileSync(`${TEST_FILES}/MR_small_RLE.dcm`))
  await assert.rejects(collect(rewriteDicom(readDicomBuffer(rle), new BufferSource(rle), { ...KEEP, transferSyntaxUID: '1.2.840.10008.1.2.1' })), bad)
  // A big endian target is refused like a big endian source.
  await assert.rejects(collect(rewriteDicom(readDicomBuffer(buf), new BufferSource(buf), { ...KEEP, transferSyntaxUID: '1.2.840.10008.1.2.2' })),
    (e: unknown) => e instanceof KuraError && e.code === 'DICOM_REWRITE_UNSUPPORTED_TRANSFER_SYNTAX')
})

test('an implicit VR source re-encoded to RLE is written with explicit VRs', async () => {
  const buf = new Uint8Array(readFileSync(`${TEST_FILES}/MR_small_implicit.dcm`))
  const parsed = readDicomBuffer(buf)
  assert.equal(parsed.explicitVr, false)
  const px = parsed.dataset.elements.get(Tags.PixelData)!
  const l = { rows: 64, columns: 64, samples: 1, bitsAllocated: 16, planar: 0 }
  const native = buf.subarray(px.offset, px.offset + px.length)
  const plan: RewritePlan = {
    transferSyntaxUID: RLE_TS,
    edit: (el) => (el.tag === Tags.PixelData ? { op: 'encapsulate', frames: [encodeRleFrame(nativeToSegments(native, l), l)] } : { op: 'keep' }),
  }
  const out = await collect(rewriteDicom(parsed, new BufferSource(buf), plan))
  const back = readDicomBuffer(out)
  assert.equal(back.explicitVr, true)
  assert.equal(getString(back.dataset, Tags.PatientID), getString(parsed.dataset, Tags.PatientID))
  const dir = mkdtempSync(join(tmpdir(), 'kura-rewrite-impl-'))
  try {
    writeFileSync(join(dir, 'a.dcm'), out)
    dcmdumpClean(join(dir, 'a.dcm'))
    const hex = python(`print(pydicom.dcmread(sys.argv[1]).pixel_array.astype('<i2').tobytes().hex())`, [join(dir, 'a.dcm')]).trim()
    assert.equal(hex, Buffer.from(native).toString('hex'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
