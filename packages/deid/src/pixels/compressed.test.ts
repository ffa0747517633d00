import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { BufferSource, KuraError } from '@kura/core'
import { Tags, encodeRleFrame, frameRanges, getItems, getString, nativeToSegments, readDicomBuffer, readJpegInfo, writeDicom, type WriteElement } from '@kura/dicom'
import { python } from '../../../dicom/src/testkit.ts'
import { deidentify } from '../engine/deidentify.ts'
import { parsePolicy, type Policy } from '../policy/schema.ts'
import { planPixels } from './apply.ts'

const SECRET = new Uint8Array(32).fill(7)
const VL_ENDO = '1.2.840.10008.5.1.4.1.1.77.1.1'
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50'
const JPEG_EXTENDED = '1.2.840.10008.1.2.4.51'
const RLE = '1.2.840.10008.1.2.5'
type Rect = [number, number, number, number]

function policyFor(rows: number, cols: number, rect: Rect): Policy {
  return parsePolicy({
    id: 'px-test', version: '1', profile: 'basic', options: ['cleanPixelData'],
    pixelMasks: [{ match: { Manufacturer: 'OLYMPUS', Rows: rows, Columns: cols }, rects: [rect] }],
  }, 'test')
}

/** A smooth colour gradient (frame-dependent) with white "text" strokes inside `text`. */
function image(rows: number, cols: number, samples: 1 | 3, frame: number, text: Rect): Uint8Array {
  const px = new Uint8Array(rows * cols * samples)
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      const inText = x >= text[0] && x < text[0] + text[2] && y >= text[1] && y < text[1] + text[3] && ((x >> 2) + (y >> 3) + frame) % 3 === 0
      for (let s = 0; s < samples; s++) {
        px[(y * cols + x) * samples + s] = inText ? 255 : 60 + ((x * (s + 1) + y * 2 + frame * 40) >> 3) % 120
      }
    }
  }
  return px
}

async function jpeg(px: Uint8Array, rows: number, cols: number, samples: 1 | 3, opts: { subsampling?: '4:2:0' | '4:4:4'; progressive?: boolean } = {}): Promise<Uint8Array> {
  let s = sharp(px, { raw: { width: cols, height: rows, channels: samples } })
  if (samples === 1) s = s.toColourspace('b-w')
  const b = await s.jpeg({ quality: 90, chromaSubsampling: opts.subsampling ?? '4:2:0', progressive: opts.progressive ?? false, mozjpeg: false }).toBuffer()
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

function build(o: { ts: string; rows: number; cols: number; samples: 1 | 3; pi: string; frames: Uint8Array[]; bits?: number; stored?: number }): Uint8Array {
  const ds: WriteElement[] = [
    { tag: Tags.SOPClassUID, vr: 'UI', value: VL_ENDO },
    { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.5' },
    { tag: 0x00080060, vr: 'CS', value: 'ES' },
    { tag: 0x00080070, vr: 'LO', value: 'OLYMPUS' },
    { tag: Tags.PatientID, vr: 'LO', value: 'P1' },
    { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2.3.4' },
    { tag: 0x00081090, vr: 'LO', value: 'CV-1500' },
    { tag: Tags.SamplesPerPixel, vr: 'US', value: o.samples },
    { tag: Tags.PhotometricInterpretation, vr: 'CS', value: o.pi },
    ...(o.samples === 3 ? [{ tag: Tags.PlanarConfiguration, vr: 'US' as const, value: 0 }] : []),
    ...(o.frames.length > 1 ? [{ tag: Tags.NumberOfFrames, vr: 'IS' as const, value: String(o.frames.length) }] : []),
    { tag: Tags.Rows, vr: 'US', value: o.rows },
    { tag: Tags.Columns, vr: 'US', value: o.cols },
    { tag: Tags.BitsAllocated, vr: 'US', value: o.bits ?? 8 },
    { tag: 0x00280101, vr: 'US', value: o.stored ?? o.bits ?? 8 },
    { tag: 0x00280102, vr: 'US', value: (o.stored ?? o.bits ?? 8) - 1 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: Tags.PixelData, vr: 'OB', value: o.frames },
  ]
  return writeDicom({ meta: { MediaStorageSOPClassUID: VL_ENDO, MediaStorageSOPInstanceUID: '1.2.3.4.5' }, dataset: ds }, { transferSyntaxUID: o.ts })
}

async function run(buf: Uint8Array, policy: Policy): Promise<Uint8Array> {
  const { output } = await deidentify(readDicomBuffer(buf), new BufferSource(buf), { policy, secret: SECRET, collection: 'c' })
  const parts: Uint8Array[] = []
  for await (const p of output) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

interface Stats { photometric: string; maskMax: number; innerMax: number; outsideMae: number[]; sourceMaskMax: number }

/**
 * Decodes `file` with pydicom (after `decompress`, a DCMTK tool, for JPEG) and compares it with the source pixels:
 * the largest value in the mask (and in the mask less a 16-pixel border, where JPEG ringing from outside may reach)
 * and the mean absolute error outside the mask, per frame.
 */
function stats(dir: string, out: Uint8Array, source: Uint8Array[], rows: number, cols: number, rect: Rect, decompress?: string): Stats {
  const file = join(dir, 'out.dcm')
  writeFileSync(file, out)
  let decoded = file
  if (decompress) {
    decoded = join(dir, 'raw.dcm')
    const r = spawnSync(decompress, [file, decoded], { encoding: 'utf8' })
    assert.equal(r.status, 0, `${decompress}: ${r.stderr}`)
  }
  writeFileSync(join(dir, 'src.raw'), Buffer.concat(source))
  return JSON.parse(python(`
import numpy as np
p, src, rows, cols, frames, x, y, w, h = sys.argv[1:]
rows, cols, frames, x, y, w, h = map(int, (rows, cols, frames, x, y, w, h))
d = pydicom.dcmread(p)
a = d.pixel_array.reshape(frames, rows, cols, -1).astype(int)
o = np.fromfile(src, dtype=np.uint8).reshape(frames, rows, cols, -1).astype(int)
m = np.zeros((rows, cols), bool); m[y:y + h, x:x + w] = True
inner = np.zeros((rows, cols), bool); inner[y + 16:y + h - 16, x + 16:x + w - 16] = True
print(json.dumps({'photometric': str(d.PhotometricInterpretation), 'maskMax': int(a[:, m].max()), 'innerMax': int(a[:, inner].max()),
  'outsideMae': [float(np.abs(a[f] - o[f])[~m].mean()) for f in range(frames)], 'sourceMaskMax': int(o[:, m].max())}))`,
  [decoded, join(dir, 'src.raw'), String(rows), String(cols), String(source.length), ...rect.map(String)]))
}

const hasCode = (buf: Uint8Array, code: string): boolean =>
  getItems(readDicomBuffer(buf).dataset, 0x00120064).some((i) => getString(i, 0x00080100) === code)

function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'kura-px-'))
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }))
}

test('JPEG Baseline 1920x1080 YBR_FULL_422: text blacked out, rest close to the source, still 4.50, DCMTK + pydicom + GDCM decode it', () => withTmp(async (dir) => {
  const [rows, cols] = [1080, 1920]
  const rect: Rect = [0, 0, 550, 1080]
  const src = image(rows, cols, 3, 0, [40, 40, 400, 300])
  const out = await run(build({ ts: JPEG_BASELINE, rows, cols, samples: 3, pi: 'YBR_FULL_422', frames: [await jpeg(src, rows, cols, 3)] }), policyFor(rows, cols, rect))
  const parsed = readDicomBuffer(out)
  assert.equal(parsed.transferSyntaxUID, JPEG_BASELINE)
  const ds = parsed.dataset
  assert.equal(getString(ds, Tags.PhotometricInterpretation), 'YBR_FULL_422')
  assert.equal(getString(ds, 0x00282110), '01')
  assert.equal(getString(ds, 0x00280301), 'NO')
  assert.ok(hasCode(out, '113101'))
  const [frame] = frameRanges(parsed)[0]!
  const info = readJpegInfo(out.subarray(frame!.offset, frame!.offset + frame!.length))
  assert.equal(info.sof, 0xc0, 'baseline')
  assert.deepEqual(info.sampling, [[2, 2], [1, 1], [1, 1]], '4:2:0 as the source')
  const s = stats(dir, out, [src], rows, cols, rect, 'dcmdjpeg')
  assert.equal(s.photometric, 'RGB')
  assert.equal(s.sourceMaskMax, 255, 'the source had white text in the mask')
  assert.ok(s.innerMax <= 2, `mask interior max ${s.innerMax}`)
  assert.ok(s.maskMax <= 40, `mask max ${s.maskMax} (edge ringing only)`)
  assert.ok(s.outsideMae[0]! < 2.5, `outside MAE ${s.outsideMae[0]}`)
  // A second, independent decoder (GDCM; its writer aborts on multi-frame VL Endoscopic, so single-frame here).
  const g = spawnSync('gdcmconv', ['--raw', join(dir, 'out.dcm'), join(dir, 'gdcm.dcm')], { encoding: 'utf8' })
  assert.equal(g.status, 0, g.stderr)
}))

test('JPEG: 3-frame object, each frame masked; RGB-declared 4:4:4 source comes out YBR_FULL', () => withTmp(async (dir) => {
  const [rows, cols] = [240, 320]
  const rect: Rect = [0, 0, 96, 240]
  const src = [0, 1, 2].map((f) => image(rows, cols, 3, f, [8, 8 + f * 40, 80, 60]))
  const frames = await Promise.all(src.map((p) => jpeg(p, rows, cols, 3, { subsampling: '4:4:4' })))
  const out = await run(build({ ts: JPEG_BASELINE, rows, cols, samples: 3, pi: 'RGB', frames }), policyFor(rows, cols, rect))
  const parsed = readDicomBuffer(out)
  assert.equal(getString(parsed.dataset, Tags.PhotometricInterpretation), 'YBR_FULL')
  assert.equal(frameRanges(parsed).length, 3)
  for (const r of frameRanges(parsed)) assert.deepEqual(readJpegInfo(out.subarray(r[0]!.offset, r[0]!.offset + r[0]!.length)).sampling, [[1, 1], [1, 1], [1, 1]])
  const s = stats(dir, out, src, rows, cols, rect, 'dcmdjpeg')
  assert.ok(s.innerMax <= 2 && s.maskMax <= 40, `mask ${s.innerMax}/${s.maskMax}`)
  s.outsideMae.forEach((e, f) => assert.ok(e < 2.5, `frame ${f + 1} outside MAE ${e}`))
}))

test('JPEG Extended 8-bit MONOCHROME2: one component in, one out, masked', () => withTmp(async (dir) => {
  const [rows, cols] = [128, 200]
  const rect: Rect = [100, 0, 100, 64]
  const src = image(rows, cols, 1, 0, [110, 4, 80, 50])
  const out = await run(build({ ts: JPEG_EXTENDED, rows, cols, samples: 1, pi: 'MONOCHROME2', frames: [await jpeg(src, rows, cols, 1)] }), policyFor(rows, cols, rect))
  const parsed = readDicomBuffer(out)
  assert.equal(parsed.transferSyntaxUID, JPEG_EXTENDED)
  assert.equal(getString(parsed.dataset, Tags.PhotometricInterpretation), 'MONOCHROME2')
  const [f] = frameRanges(parsed)[0]!
  assert.equal(readJpegInfo(out.subarray(f!.offset, f!.offset + f!.length)).sampling.length, 1)
  const s = stats(dir, out, [src], rows, cols, rect, 'dcmdjpeg')
  assert.ok(s.innerMax <= 2 && s.maskMax <= 40, `mask ${s.innerMax}/${s.maskMax}`)
  assert.ok(s.outsideMae[0]! < 2.5, `outside MAE ${s.outsideMae[0]}`)
}))

test('RLE: 3-frame RGB and 16-bit MONOCHROME2, masked exactly (0 in the mask, every other pixel identical), still RLE', () => withTmp(async (dir) => {
  const [rows, cols] = [120, 161]
  const rect: Rect = [0, 0, 60, 120]
  const src = [0, 1, 2].map((f) => image(rows, cols, 3, f, [4, 10 + f * 20, 50, 40]))
  const l = { rows, columns: cols, samples: 3, bitsAllocated: 8, planar: 0 }
  const frames = src.map((p) => encodeRleFrame(nativeToSegments(p, l), l))
  const out = await run(build({ ts: RLE, rows, cols, samples: 3, pi: 'RGB', frames }), policyFor(rows, cols, rect))
  const parsed = readDicomBuffer(out)
  assert.equal(parsed.transferSyntaxUID, RLE)
  assert.equal(getString(parsed.dataset, Tags.PhotometricInterpretation), 'RGB')
  assert.equal(getString(parsed.dataset, 0x00282110), undefined, 'lossless: Lossy Image Compression not set')
  const s = stats(dir, out, src, rows, cols, rect)
  assert.equal(s.maskMax, 0)
  assert.deepEqual(s.outsideMae, [0, 0, 0])
  const r = spawnSync('dcmdrle', [join(dir, 'out.dcm'), join(dir, 'drle.dcm')], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)

  // 16 bit, one sample: both byte planes of each masked pixel are zeroed.
  const mono = new Uint8Array(rows * cols * 2)
  for (let i = 0; i < rows * cols; i++) mono[2 * i] = i & 0xff, mono[2 * i + 1] = (i >> 8) & 0x0f
  const l16 = { rows, columns: cols, samples: 1, bitsAllocated: 16, planar: 0 }
  const out16 = await run(build({ ts: RLE, rows, cols, samples: 1, pi: 'MONOCHROME2', bits: 16, stored: 12, frames: [encodeRleFrame(nativeToSegments(mono, l16), l16)] }), policyFor(rows, cols, rect))
  writeFileSync(join(dir, 'm16.dcm'), out16)
  const hex = python(`print(pydicom.dcmread(sys.argv[1]).pixel_array.astype('<u2').tobytes().hex())`, [join(dir, 'm16.dcm')]).trim()
  const want = new Uint8Array(mono)
  for (let y = 0; y < rows; y++) want.fill(0, (y * cols) * 2, (y * cols + 60) * 2)
  assert.equal(hex, Buffer.from(want).toString('hex'))
}))

test('compressed syntaxes without a decoder here, 12-bit and progressive JPEG are refused before any output, naming the syntax', async () => {
  const [rows, cols] = [16, 16]
  const policy = policyFor(rows, cols, [0, 0, 8, 16])
  const refused = async (buf: Uint8Array, re: RegExp) =>
    assert.rejects(deidentify(readDicomBuffer(buf), new BufferSource(buf), { policy, secret: SECRET, collection: 'c' }), (e: unknown) => {
      assert.ok(e instanceof KuraError)
      assert.equal(e.code, 'DEID_PIXELS_UNSUPPORTED_SYNTAX')
      assert.match(e.message, re)
      assert.match(e.message, /not sent/)
      return true
    })
  const dummy = [new Uint8Array([0xff, 0xd8, 0xff, 0xd9])]
  for (const ts of ['1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.201']) {
    await refused(build({ ts, rows, cols, samples: 1, pi: 'MONOCHROME2', frames: dummy }), new RegExp(`${ts.replace(/\./g, '\\.')}.*no decoder.*export the images uncompressed`, 'i'))
  }
  await refused(build({ ts: JPEG_EXTENDED, rows, cols, samples: 1, pi: 'MONOCHROME2', bits: 16, stored: 12, frames: dummy }), /12-bit JPEG/)
  const prog = await jpeg(image(rows, cols, 3, 0, [0, 0, 4, 4]), rows, cols, 3, { progressive: true })
  await refused(build({ ts: JPEG_BASELINE, rows, cols, samples: 3, pi: 'YBR_FULL_422', frames: [prog] }), /SOF2/)
})

test('a JPEG frame that cannot be decoded fails the output with DEID_PIXELS_CODEC_FAILED', async () => {
  const [rows, cols] = [64, 64]
  const good = await jpeg(image(rows, cols, 3, 0, [0, 0, 8, 8]), rows, cols, 3)
  const cut = good.slice(0, Math.floor(good.length / 2)) // headers intact, scan truncated
  await assert.rejects(run(build({ ts: JPEG_BASELINE, rows, cols, samples: 3, pi: 'YBR_FULL_422', frames: [cut] }), policyFor(rows, cols, [0, 0, 8, 8])),
    (e: unknown) => e instanceof KuraError && e.code === 'DEID_PIXELS_CODEC_FAILED' && /Frame 1/.test(e.message))
})

test('speed: decode + mask + encode of one 1920x1080 JPEG Baseline frame', async (t) => {
  const [rows, cols] = [1080, 1920]
  const frame = await jpeg(image(rows, cols, 3, 0, [40, 40, 400, 300]), rows, cols, 3)
  const multi = build({ ts: JPEG_BASELINE, rows, cols, samples: 3, pi: 'YBR_FULL_422', frames: Array.from({ length: 5 }, () => frame) })
  const plan = await planPixels(readDicomBuffer(multi), new BufferSource(multi), policyFor(rows, cols, [0, 0, 550, 1080]))
  assert.equal(plan?.kind, 'encapsulated')
  if (plan?.kind !== 'encapsulated') return
  const t0 = performance.now()
  let n = 0
  for await (const f of plan.frames) n += f.length > 0 ? 1 : 0
  const ms = (performance.now() - t0) / n
  t.diagnostic(`1920x1080 JPEG frame: ${ms.toFixed(1)} ms decode+mask+encode (mean of ${n})`)
  assert.equal(n, 5)
})
