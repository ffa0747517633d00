import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BufferSource, FileSource } from '@kura/core'
import { Tags } from './dictionary.ts'
import { toDicomJson } from './json.ts'
import { readDicom, readDicomBuffer } from './reader.ts'
import { python, TEST_FILES } from './testkit.ts'
import { toExplicitVrLittleEndian } from './transcode.ts'

const SOURCES = ['MR_small_implicit.dcm', 'MR_small_bigendian.dcm', 'MR_small_expb.dcm', 'ExplVR_BigEnd.dcm', 'rtdose.dcm', 'rtdose_expb.dcm', 'liver_expb_1frame.dcm', 'image_dfl.dcm', 'rtplan.dcm', 'CT_small.dcm']

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of it) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

test('implicit, big-endian and deflated objects become Explicit VR LE that matches DCMTK’s dcmconv +te and pydicom', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-transcode-'))
  try {
    const ours: string[] = []
    const origs: string[] = []
    for (const name of SOURCES) {
      const path = `${TEST_FILES}/${name}`
      const src = await FileSource.open(path)
      let bytes: Uint8Array
      try {
        bytes = await collect(toExplicitVrLittleEndian(await readDicom(src, { bulkDataThreshold: 16 }), src))
      } finally {
        await src.close()
      }
      const out = join(dir, `ours-${name}`)
      writeFileSync(out, bytes)
      const ref = join(dir, `dcmtk-${name}`)
      const conv = spawnSync('dcmconv', ['+te', path, ref], { encoding: 'utf8' })
      assert.equal(conv.status, 0, conv.stderr)
      const a = readDicomBuffer(bytes, { bulkDataThreshold: Infinity })
      const b = readDicomBuffer(readFileSync(ref), { bulkDataThreshold: Infinity })
      assert.equal(a.transferSyntaxUID, '1.2.840.10008.1.2.1', name)
      assert.equal(a.explicitVr, true)
      // Same attributes with the same values as DCMTK's conversion (JSON inlines binary as little endian).
      const ja = toDicomJson(a.dataset)
      const jb = toDicomJson(b.dataset)
      for (const key of Object.keys(jb)) assert.deepEqual(ja[key], jb[key], `${name} ${key}`)
      // Pixel data identical byte for byte.
      const pa = a.dataset.elements.get(Tags.PixelData)
      const pb = b.dataset.elements.get(Tags.PixelData)
      if (pb) {
        assert.ok(pa, `${name}: pixel data`)
        const got = Buffer.from(bytes.subarray(pa!.offset, pa!.offset + pa!.length))
        if (name === 'rtdose_expb.dcm') {
          // 32-bit OW pixels: DCMTK swaps 16-bit words; the little-endian original (rtdose.dcm) is the truth.
          const orig = readDicomBuffer(readFileSync(`${TEST_FILES}/rtdose.dcm`)).dataset.elements.get(Tags.PixelData)!
          assert.deepEqual(got, readFileSync(`${TEST_FILES}/rtdose.dcm`).subarray(orig.offset, orig.offset + orig.length), `${name}: pixels`)
        } else {
          assert.deepEqual(got, readFileSync(ref).subarray(pb.offset, pb.offset + pb.length), `${name}: pixels`)
        }
      }
      const dump = spawnSync('dcmdump', ['+L', out], { encoding: 'utf8' })
      assert.equal(dump.status, 0, dump.stderr)
      assert.doesNotMatch(dump.stderr, /^(E|W):/m, name)
      ours.push(out)
      origs.push(path)
    }
    // pydicom: same pixel arrays and the same element values as the originals.
    const r = JSON.parse(
      python(
        `n = len(sys.argv[1:]) // 2
out = []
for a, b in zip(sys.argv[1:1 + n], sys.argv[1 + n:]):
    x = pydicom.dcmread(a, force=True); y = pydicom.dcmread(b)
    same_px = ('PixelData' not in x) or bool((x.pixel_array == y.pixel_array).all())
    keys = [k for k in x.keys() if k.element != 0 and k != 0x7FE00010]
    same = all(x[k].value == y[k].value for k in keys if x[k].VR != 'SQ')
    out.append([a, same_px, same, str(y.file_meta.TransferSyntaxUID), y.is_implicit_VR, y.is_little_endian])
print(json.dumps(out))`,
        [...origs, ...ours],
      ),
    ) as [string, boolean, boolean, string, boolean, boolean][]
    for (const [name, samePx, same, ts, implicit, le] of r) {
      assert.ok(samePx, `${name}: pydicom pixel arrays differ`)
      assert.ok(same, `${name}: pydicom element values differ`)
      assert.deepEqual([ts, implicit, le], ['1.2.840.10008.1.2.1', false, true], name)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('compressed objects and partial reads are refused', async () => {
  const jpeg = readFileSync(`${TEST_FILES}/JPEG2000.dcm`)
  await assert.rejects(collect(toExplicitVrLittleEndian(readDicomBuffer(jpeg), new BufferSource(jpeg))), (e: any) => e.code === 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX')
  const ct = readFileSync(`${TEST_FILES}/CT_small.dcm`)
  await assert.rejects(collect(toExplicitVrLittleEndian(readDicomBuffer(ct, { untilTag: Tags.PixelData }), new BufferSource(ct))), (e: any) => e.code === 'DICOM_BAD_VALUE')
})
