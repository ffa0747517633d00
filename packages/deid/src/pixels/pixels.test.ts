import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BufferSource, KuraError } from '@kura/core'
import { Tags, frameRanges, getItems, getString, readDicomBuffer, writeDicom, type WriteElement } from '@kura/dicom'
import { loadPolicy, BASIC_POLICY } from '../policy/policy.ts'
import { parsePolicy } from '../policy/schema.ts'
import type { Policy } from '../policy/schema.ts'
import { deidentify } from '../engine/deidentify.ts'
import { findMask, needsMask } from './masks.ts'
import { maskNative } from './apply.ts'

const POLICY_FILE = new URL('../../policies/olympus-cv1500.json', import.meta.url).pathname
const OLYMPUS = loadPolicy(POLICY_FILE)
const SECRET = new Uint8Array(32).fill(7)
const VL_ENDO = '1.2.840.10008.5.1.4.1.1.77.1.1'
const CT = '1.2.840.10008.5.1.4.1.1.2'
const ROWS = 1080
const COLS = 1920

function rgbImage(): Uint8Array {
  const px = new Uint8Array(ROWS * COLS * 3).fill(200)
  for (let y = 40; y < 120; y++) for (let x = 20; x <= 300; x++) px.fill(255, (y * COLS + x) * 3, (y * COLS + x) * 3 + 3)
  return px
}

function build(opts: { sop: string; modality: string; model?: string; burned?: string; pixels: Uint8Array; rows: number; cols: number; spp: number }): Uint8Array {
  const ds: WriteElement[] = [
    { tag: Tags.SOPClassUID, vr: 'UI', value: opts.sop },
    { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.5' },
    { tag: 0x00080060, vr: 'CS', value: opts.modality },
    { tag: 0x00080070, vr: 'LO', value: 'OLYMPUS' },
    { tag: Tags.PatientID, vr: 'LO', value: 'P1' },
    { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2.3.4' },
    { tag: 0x00081090, vr: 'LO', value: opts.model ?? 'CV-1500' },
    { tag: Tags.SamplesPerPixel, vr: 'US', value: opts.spp },
    { tag: Tags.PhotometricInterpretation, vr: 'CS', value: opts.spp === 3 ? 'RGB' : 'MONOCHROME2' },
    ...(opts.spp === 3 ? [{ tag: Tags.PlanarConfiguration, vr: 'US' as const, value: 0 }] : []),
    { tag: Tags.Rows, vr: 'US', value: opts.rows },
    { tag: Tags.Columns, vr: 'US', value: opts.cols },
    { tag: Tags.BitsAllocated, vr: 'US', value: 8 },
    { tag: 0x00280101, vr: 'US', value: 8 },
    { tag: 0x00280102, vr: 'US', value: 7 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    ...(opts.burned ? [{ tag: 0x00280301, vr: 'CS' as const, value: opts.burned }] : []),
    { tag: Tags.PixelData, vr: 'OB', value: opts.pixels },
  ]
  return writeDicom({ meta: { MediaStorageSOPClassUID: opts.sop, MediaStorageSOPInstanceUID: '1.2.3.4.5' }, dataset: ds })
}

const endo = (model?: string) => build({ sop: VL_ENDO, modality: 'ES', model, pixels: rgbImage(), rows: ROWS, cols: COLS, spp: 3 })

async function run(buf: Uint8Array, policy: Policy): Promise<Uint8Array> {
  const { output } = await deidentify(readDicomBuffer(buf), new BufferSource(buf), { policy, secret: SECRET, collection: 'c' })
  const parts: Uint8Array[] = []
  for await (const p of output) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

const hasCode = (buf: Uint8Array, code: string): boolean =>
  getItems(readDicomBuffer(buf).dataset, 0x00120064).some((i) => getString(i, 0x00080100) === code)

const rejects = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: unknown) => e instanceof KuraError && e.code === code)

test('the example policy selects Clean Pixel Data and matches CV-1500 at 1920x1080', () => {
  assert.ok(OLYMPUS.options.has('cleanPixelData'))
  const ds = readDicomBuffer(endo()).dataset
  assert.ok(needsMask(ds, OLYMPUS.options))
  assert.deepEqual(findMask(ds, OLYMPUS)?.rects, [[0, 0, 550, 1080]])
  assert.equal(findMask(readDicomBuffer(endo('CV-290')).dataset, OLYMPUS), undefined)
})

test('VL Endoscopic CV-1500: x < 550 is zeroed in every sample, the rest is unchanged, BIA NO, DCM 113101', async () => {
  const src = rgbImage()
  const out = await run(endo(), OLYMPUS)
  const parsed = readDicomBuffer(out)
  const [range] = frameRanges(parsed)[0]!
  const px = out.subarray(range!.offset, range!.offset + range!.length)
  assert.equal(px.length, src.length)
  let bad = 0
  for (let y = 0; y < ROWS; y++) {
    for (let x = 0; x < COLS; x++) {
      for (let s = 0; s < 3; s++) {
        const i = (y * COLS + x) * 3 + s
        if (px[i] !== (x < 550 ? 0 : src[i])) bad++
      }
    }
  }
  assert.equal(bad, 0)
  assert.equal(getString(parsed.dataset, 0x00280301), 'NO')
  assert.ok(hasCode(out, '113101'))
})

test('unmatched model, and BIA YES without a mask, are refused with DEID_PIXELS_NO_MASK naming the device', async () => {
  await assert.rejects(run(endo('CV-290'), OLYMPUS), (e: unknown) => {
    assert.ok(e instanceof KuraError)
    assert.equal(e.code, 'DEID_PIXELS_NO_MASK')
    assert.equal(e.status, 422)
    assert.match(e.message, /CV-290/)
    assert.match(e.message, /pixelMasks/)
    return true
  })
  const ct = build({ sop: CT, modality: 'CT', burned: 'YES', pixels: new Uint8Array(64 * 64), rows: 64, cols: 64, spp: 1 })
  await rejects(run(ct, BASIC_POLICY), 'DEID_PIXELS_NO_MASK')
  await rejects(run(ct, OLYMPUS), 'DEID_PIXELS_NO_MASK')
})

test('a plain CT without Burned In Annotation is unaffected', async () => {
  const pixels = new Uint8Array(64 * 64).map((_, i) => i & 0xff)
  const ct = build({ sop: CT, modality: 'CT', pixels, rows: 64, cols: 64, spp: 1 })
  for (const policy of [BASIC_POLICY, OLYMPUS]) {
    const out = await run(ct, policy)
    const parsed = readDicomBuffer(out)
    const [range] = frameRanges(parsed)[0]!
    assert.ok(Buffer.from(out.subarray(range!.offset, range!.offset + range!.length)).equals(Buffer.from(pixels)))
    assert.equal(getString(parsed.dataset, 0x00280301), undefined)
    // The example policy selects cleanPixelData, so its code is listed whether or not pixels were touched.
    assert.equal(hasCode(out, '113101'), policy.options.has('cleanPixelData'))
  }
})

test('BIA YES with a matching mask but no cleanPixelData option: masked, BIA NO, 113101 added', async () => {
  const policy = parsePolicy({
    id: 'm', version: '1', profile: 'basic',
    pixelMasks: [{ match: { Manufacturer: 'OLYMPUS', Rows: 4, Columns: 4 }, rects: [[0, 0, 2, 4]] }],
  }, 'test')
  const ct = build({ sop: CT, modality: 'CT', burned: 'YES', pixels: new Uint8Array(16).fill(9), rows: 4, cols: 4, spp: 1 })
  const out = await run(ct, policy)
  const parsed = readDicomBuffer(out)
  const [range] = frameRanges(parsed)[0]!
  assert.deepEqual([...out.subarray(range!.offset, range!.offset + 16)], [0, 0, 9, 9, 0, 0, 9, 9, 0, 0, 9, 9, 0, 0, 9, 9])
  assert.equal(getString(parsed.dataset, 0x00280301), 'NO')
  assert.ok(hasCode(out, '113101'))
  const codes = getItems(parsed.dataset, 0x00120064).map((i) => getString(i, 0x00080100))
  assert.deepEqual(codes, [...codes].sort())
})

test('maskNative: planar RGB, 16 bit, several frames, rectangles clipped', () => {
  const mask = { match: {}, rects: [[1, 1, 10, 1]] as const }
  // 2 frames of 3x2, RGB planar, 16 bit.
  const b = new Uint8Array(2 * 3 * 2 * 3 * 2).fill(1)
  maskNative(b, { rows: 2, columns: 3, samples: 3, bitsAllocated: 16, planar: 1, frames: 2, photometric: 'RGB' }, mask)
  const zeroed: number[] = []
  b.forEach((v, i) => { if (v === 0) zeroed.push(i) })
  // Per plane (12 bytes): row 1, columns 1..2 -> bytes 8..11.
  const want: number[] = []
  for (let f = 0; f < 2; f++) for (let s = 0; s < 3; s++) for (let k = 8; k < 12; k++) want.push(f * 36 + s * 12 + k)
  assert.deepEqual(zeroed, want)
  assert.throws(() => maskNative(new Uint8Array(8), { rows: 2, columns: 2, samples: 1, bitsAllocated: 32, planar: 0, frames: 1, photometric: 'MONOCHROME2' }, mask),
    (e: unknown) => e instanceof KuraError && e.code === 'DEID_PIXELS_UNSUPPORTED_LAYOUT')
})

test('encapsulated JPEG Baseline whose frame has no JPEG frame header is refused up front with DEID_PIXELS_UNSUPPORTED_LAYOUT', async () => {
  const ds: WriteElement[] = [
    { tag: Tags.SOPClassUID, vr: 'UI', value: VL_ENDO },
    { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.6' },
    { tag: 0x00080060, vr: 'CS', value: 'ES' },
    { tag: 0x00080070, vr: 'LO', value: 'OLYMPUS' },
    { tag: Tags.PatientID, vr: 'LO', value: 'P1' },
    { tag: 0x00081090, vr: 'LO', value: 'CV-1500' },
    { tag: Tags.SamplesPerPixel, vr: 'US', value: 3 },
    { tag: Tags.PhotometricInterpretation, vr: 'CS', value: 'YBR_FULL_422' },
    { tag: Tags.Rows, vr: 'US', value: ROWS },
    { tag: Tags.Columns, vr: 'US', value: COLS },
    { tag: Tags.BitsAllocated, vr: 'US', value: 8 },
    { tag: Tags.PixelData, vr: 'OB', value: [new Uint8Array([0xff, 0xd8, 0xff, 0xd9])] },
  ]
  const buf = writeDicom({ meta: { MediaStorageSOPClassUID: VL_ENDO, MediaStorageSOPInstanceUID: '1.2.3.4.6' }, dataset: ds }, { transferSyntaxUID: '1.2.840.10008.1.2.4.50' })
  // Refused by deidentify itself (planPixels), before any output is produced. Masking of valid JPEG: compressed.test.ts.
  await assert.rejects(run(buf, OLYMPUS), (e: unknown) => e instanceof KuraError && e.code === 'DEID_PIXELS_UNSUPPORTED_LAYOUT' && /frame 1 is not a readable JPEG/.test(e.message))
})

