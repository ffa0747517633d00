import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSource, KuraError, type ByteSource } from '@kura/core'
import { Tags } from './dictionary.ts'
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
