/** @module Tests of WADO-RS rendering: exact output pixels for the grayscale pipeline, color, RLE (against pydicom samples), JPEG, viewport. */
import { test, describe, before } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import sharp from 'sharp'
import { renderFrame, decodeRle, parseWindowParam, parseViewportParam, parseQualityParam, type ImageAttrs, type RenderOptions } from './render.ts'

const EVRLE = '1.2.840.10008.1.2.1'
const RLE = '1.2.840.10008.1.2.5'
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50'

/** Decodes a rendered image back to raw pixels. */
async function pixels(img: Uint8Array): Promise<{ data: Buffer; width: number; height: number; channels: number; format: string }> {
  const meta = await sharp(img).metadata()
  const { data, info } = await sharp(img).toColourspace(meta.channels === 1 ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height, channels: info.channels, format: meta.format! }
}

function gray(attrs: Partial<ImageAttrs> & Pick<ImageAttrs, 'rows' | 'columns'>): ImageAttrs {
  return { samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2', littleEndian: true, ...attrs }
}

function u16(values: number[], le = true): Uint8Array {
  const b = Buffer.alloc(values.length * 2)
  values.forEach((v, i) => (le ? b.writeUInt16LE(v & 0xffff, i * 2) : b.writeUInt16BE(v & 0xffff, i * 2)))
  return b
}

const native = (bytes: Uint8Array) => ({ bytes, encapsulated: false, transferSyntaxUID: EVRLE })
const png: RenderOptions = { format: 'png' }

async function renderGrayValues(values: number[] | Uint8Array, attrs: ImageAttrs, opts: RenderOptions = png): Promise<number[]> {
  const bytes = values instanceof Uint8Array ? values : attrs.bitsAllocated === 8 ? Uint8Array.from(values) : u16(values, attrs.littleEndian)
  const out = await pixels(await renderFrame(native(bytes), attrs, opts))
  assert.equal(out.channels, 1)
  assert.equal(out.format, 'png')
  return [...out.data]
}

/** Independent reference of PS3.3 C.11.2.1.2.1 LINEAR, written out from the standard's pseudo-code. */
function refLinear(x: number, c: number, w: number): number {
  let y: number
  if (x <= c - 0.5 - (w - 1) / 2) y = 0
  else if (x > c - 0.5 + (w - 1) / 2) y = 255
  else y = ((x - (c - 0.5)) / (w - 1) + 0.5) * (255 - 0) + 0
  return Math.min(255, Math.max(0, Math.round(y)))
}

describe('query parameters', () => {
  test('parseWindowParam', () => {
    assert.deepEqual(parseWindowParam('40,400,linear'), { center: 40, width: 400, function: 'LINEAR' })
    assert.deepEqual(parseWindowParam('-600.5, 1500 , LINEAR-EXACT'), { center: -600.5, width: 1500, function: 'LINEAR_EXACT' })
    assert.deepEqual(parseWindowParam('0,0.5,sigmoid'), { center: 0, width: 0.5, function: 'SIGMOID' })
    assert.deepEqual(parseWindowParam('10,20'), { center: 10, width: 20, function: 'LINEAR' })
    for (const bad of ['', '40', '40,', 'a,400', '40,0', '40,-5', '40,0.5,linear', '40,400,cubic', '1,2,linear,4', 'Infinity,3']) {
      assert.throws(() => parseWindowParam(bad), (e: any) => e.code === 'DICOMWEB_BAD_WINDOW' && e.status === 400, bad)
    }
  })
  test('parseViewportParam', () => {
    assert.deepEqual(parseViewportParam('256,128'), { width: 256, height: 128 })
    assert.deepEqual(parseViewportParam('64,64,10,20,30,-40'), { width: 64, height: 64, region: { x: 10, y: 20, width: 30, height: -40 } })
    for (const bad of ['', '256', '0,10', '10,0', '1.5,2', 'a,b', '99999,10', '10,10,1,2,3', '10,10,-1,0,5,5', '10,10,0,0,0,5']) {
      assert.throws(() => parseViewportParam(bad), (e: any) => e.code === 'DICOMWEB_BAD_VIEWPORT' && e.status === 400, bad)
    }
  })
  test('parseQualityParam', () => {
    assert.equal(parseQualityParam('75'), 75)
    assert.equal(parseQualityParam(' 1 '), 1)
    for (const bad of ['0', '101', '7.5', 'x', '']) assert.throws(() => parseQualityParam(bad), (e: any) => e.code === 'DICOMWEB_BAD_QUALITY', bad)
  })
})

describe('grayscale pipeline (PS3.3 C.11)', () => {
  test('no stored window: the frame min..max is stretched to 0..255', async () => {
    const a = gray({ rows: 1, columns: 4, bitsAllocated: 8, bitsStored: 8 })
    assert.deepEqual(await renderGrayValues([10, 20, 30, 40], a), [0, 85, 170, 255])
  })
  test('flat frame without window is black, not NaN', async () => {
    const a = gray({ rows: 2, columns: 2 })
    assert.deepEqual(await renderGrayValues([7, 7, 7, 7], a), [0, 0, 0, 0])
  })
  test('stored window is used (first of several)', async () => {
    const a = gray({ rows: 1, columns: 5, windowCenter: [100, 9999], windowWidth: [101, 1] })
    // LINEAR c=100 w=101: [49.5, 149.5] -> 0..255
    const vals = [0, 50, 100, 149, 200]
    assert.deepEqual(await renderGrayValues(vals, a), vals.map((x) => refLinear(x, 100, 101)))
    assert.deepEqual(await renderGrayValues(vals, a), [0, 1, 129, 254, 255])
  })
  test('requested window overrides the stored one', async () => {
    const a = gray({ rows: 1, columns: 3, windowCenter: [100], windowWidth: [101] })
    // LINEAR c=10 w=21: ((x - 9.5) / 20 + 0.5) * 255 inside [-0.5, 19.5]
    const out = await renderGrayValues([0, 10, 20], a, { format: 'png', window: { center: 10, width: 21 } })
    assert.deepEqual(out, [6, 134, 255])
    assert.deepEqual(out, [0, 10, 20].map((x) => refLinear(x, 10, 21)))
  })
  test('MONOCHROME1 is inverted', async () => {
    const vals = [0, 50, 100, 149, 200]
    const a = gray({ rows: 1, columns: 5, windowCenter: [100], windowWidth: [101] })
    const m2 = await renderGrayValues(vals, a)
    const m1 = await renderGrayValues(vals, { ...a, photometricInterpretation: 'MONOCHROME1' })
    assert.deepEqual(m1, m2.map((v) => 255 - v))
    assert.deepEqual(m1, [255, 254, 126, 1, 0])
  })
  test('signed 12-in-16 data: masked to Bits Stored, sign-extended', async () => {
    // -1000 in 12 bits is 0xC18; garbage in the 4 unused high bits must be ignored.
    const raw = [0xf000 | 0xc18, 0x0000, 0xa000 | 1000, 0x7ff, 0x800]
    const a = gray({ rows: 1, columns: 5, bitsStored: 12, highBit: 11, pixelRepresentation: 1 })
    const out = await renderGrayValues(raw, a, { format: 'png', window: { center: 0, width: 2001 } })
    const stored = [-1000, 0, 1000, 2047, -2048]
    assert.deepEqual(out, stored.map((x) => refLinear(x, 0, 2001)))
    assert.deepEqual(out.slice(0, 3), [0, 128, 255])
  })
  test('signed 8-bit data', async () => {
    const a = gray({ rows: 1, columns: 3, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 1 })
    // 0x80 = -128, 0xff = -1, 0x7f = 127: min..max stretch
    assert.deepEqual(await renderGrayValues([0x80, 0xff, 0x7f], a), [0, 127, 255])
  })
  test('High Bit below Bits Allocated - 1 shifts the stored bits down', async () => {
    // 8 bits stored in bits 4..11
    const a = gray({ rows: 1, columns: 3, bitsStored: 8, highBit: 11, windowCenter: [128], windowWidth: [256] })
    const out = await renderGrayValues([0x00 << 4, (0x80 << 4) | 0xf, 0xf000 | (0xff << 4)], a)
    assert.deepEqual(out, [0, 128, 255].map((x) => refLinear(x, 128, 256)))
  })
  test('rescale slope/intercept is applied before the window', async () => {
    // HU = 2 * stored - 1024; window on HU
    const a = gray({ rows: 1, columns: 4, rescaleSlope: 2, rescaleIntercept: -1024, windowCenter: [40], windowWidth: [400] })
    const stored = [0, 412, 532, 1000]
    assert.deepEqual(await renderGrayValues(stored, a), stored.map((s) => refLinear(2 * s - 1024, 40, 400)))
  })
  test('negative slope with the default window still maps min..max', async () => {
    const a = gray({ rows: 1, columns: 3, rescaleSlope: -1, rescaleIntercept: 0 })
    assert.deepEqual(await renderGrayValues([0, 50, 100], a), [255, 128, 0])
  })
  test('big endian 16-bit', async () => {
    const vals = [0, 300, 600, 1200, 65535]
    const le = await renderGrayValues(vals, gray({ rows: 1, columns: 5, windowCenter: [600], windowWidth: [1200] }))
    const be = await renderGrayValues(vals, gray({ rows: 1, columns: 5, windowCenter: [600], windowWidth: [1200], littleEndian: false }))
    assert.deepEqual(be, le)
    assert.deepEqual(le, vals.map((x) => refLinear(x, 600, 1200)))
  })
  test('LINEAR_EXACT and SIGMOID (PS3.3 C.11.2.1.3)', async () => {
    const a = gray({ rows: 1, columns: 5 })
    const vals = [0, 25, 50, 75, 100]
    const exact = await renderGrayValues(vals, a, { format: 'png', window: { center: 50, width: 100, function: 'LINEAR_EXACT' } })
    assert.deepEqual(exact, [0, 64, 128, 191, 255])
    const sig = await renderGrayValues(vals, a, { format: 'png', window: { center: 50, width: 100, function: 'SIGMOID' } })
    assert.deepEqual(sig, vals.map((x) => Math.round(255 / (1 + Math.exp((-4 * (x - 50)) / 100)))))
    // the stored VOI LUT Function is honoured with the stored window
    const stored = await renderGrayValues(vals, { ...a, windowCenter: [50], windowWidth: [100], voiLutFunction: 'SIGMOID' })
    assert.deepEqual(stored, sig)
  })
  test('16-bit frame with a wide value range matches the reference pixel by pixel', async () => {
    const n = 64 * 64
    const vals: number[] = []
    let s = 12345
    for (let i = 0; i < n; i++) vals.push((s = (s * 1103515245 + 12345) >>> 0) & 0xffff)
    const a = gray({ rows: 64, columns: 64, pixelRepresentation: 1, rescaleSlope: 0.5, rescaleIntercept: 100, windowCenter: [0], windowWidth: [20000] })
    const out = await renderGrayValues(vals, a)
    const expected = vals.map((v) => refLinear(((v << 16) >> 16) * 0.5 + 100, 0, 20000))
    assert.deepEqual(out, expected)
  })
  test('32-bit signed and unsigned', async () => {
    const b = Buffer.alloc(12)
    b.writeInt32LE(-2_000_000_000, 0)
    b.writeInt32LE(0, 4)
    b.writeInt32LE(2_000_000_000, 8)
    const a = gray({ rows: 1, columns: 3, bitsAllocated: 32, bitsStored: 32, pixelRepresentation: 1 })
    assert.deepEqual(await renderGrayValues(b, a), [0, 128, 255])
    const u = Buffer.alloc(12)
    u.writeUInt32LE(0, 0)
    u.writeUInt32LE(2_147_483_648, 4)
    u.writeUInt32LE(4_294_967_295, 8)
    assert.deepEqual(await renderGrayValues(u, { ...a, pixelRepresentation: 0 }), [0, 128, 255])
  })
  test('1-bit data (bits packed LSB first)', async () => {
    const a = gray({ rows: 1, columns: 10, bitsAllocated: 1, bitsStored: 1, highBit: 0 })
    // pixels 0..9 = 1,0,1,1,0,0,0,1 | 0,1
    const out = await renderGrayValues(Uint8Array.from([0b10001101, 0b10]), a)
    assert.deepEqual(out, [1, 0, 1, 1, 0, 0, 0, 1, 0, 1].map((v) => v * 255))
  })
  test('short pixel data is reported, not read past', async () => {
    const a = gray({ rows: 4, columns: 4 })
    await assert.rejects(renderFrame(native(new Uint8Array(10)), a, png), (e: any) => e.code === 'DICOMWEB_RENDER_BAD_PIXEL_DATA')
    await assert.rejects(renderFrame(native(new Uint8Array(32)), { ...a, bitsStored: 17 }, png), (e: any) => e.code === 'DICOMWEB_RENDER_BAD_PIXEL_DATA')
  })
})

describe('color', () => {
  const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 0, 0, 0]
  const attrs: ImageAttrs = { rows: 2, columns: 3, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, photometricInterpretation: 'RGB', planarConfiguration: 0, littleEndian: true }

  test('RGB interleaved', async () => {
    const out = await pixels(await renderFrame(native(Uint8Array.from(rgb)), attrs, png))
    assert.equal(out.channels, 3)
    assert.deepEqual([...out.data], rgb)
  })
  test('RGB planar (Planar Configuration 1)', async () => {
    const planar: number[] = []
    for (let s = 0; s < 3; s++) for (let p = 0; p < 6; p++) planar.push(rgb[p * 3 + s]!)
    const out = await pixels(await renderFrame(native(Uint8Array.from(planar)), { ...attrs, planarConfiguration: 1 }, png))
    assert.deepEqual([...out.data], rgb)
  })
  test('RGB 16-bit is scaled to 8 bits', async () => {
    const b = u16(rgb.map((v) => v * 257))
    const out = await pixels(await renderFrame(native(b), { ...attrs, bitsAllocated: 16, bitsStored: 16 }, png))
    assert.deepEqual([...out.data], rgb)
  })
  test('YBR_FULL native is converted to RGB', async () => {
    // Forward transform of PS3.3 C.7.6.3.1.2 applied to the RGB test pixels.
    const ybr: number[] = []
    for (let p = 0; p < 6; p++) {
      const [r, g, b] = [rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!]
      ybr.push(Math.round(0.299 * r + 0.587 * g + 0.114 * b), Math.round(-0.1687 * r - 0.3313 * g + 0.5 * b + 128), Math.round(0.5 * r - 0.4187 * g - 0.0813 * b + 128))
    }
    const out = await pixels(await renderFrame(native(Uint8Array.from(ybr.map((v) => Math.min(255, v)))), { ...attrs, photometricInterpretation: 'YBR_FULL' }, png))
    out.data.forEach((v, i) => assert.ok(Math.abs(v - rgb[i]!) <= 3, `sample ${i}: ${v} vs ${rgb[i]}`))
  })
  test('YBR_FULL_422 native (Y1 Y2 Cb Cr)', async () => {
    const a = { ...attrs, rows: 1, columns: 2, photometricInterpretation: 'YBR_FULL_422' }
    const out = await pixels(await renderFrame(native(Uint8Array.from([100, 200, 128, 128])), a, png))
    assert.deepEqual([...out.data], [100, 100, 100, 200, 200, 200])
  })
  test('PALETTE COLOR is not supported', async () => {
    await assert.rejects(
      renderFrame(native(new Uint8Array(6)), { ...attrs, samplesPerPixel: 1, photometricInterpretation: 'PALETTE COLOR' }, png),
      (e: any) => e.code === 'DICOMWEB_RENDER_UNSUPPORTED' && e.status === 406,
    )
  })
})

/** PackBits encoder (PS3.5 G.3.1), written independently to round-trip the decoder. */
function packBits(src: Uint8Array): number[] {
  const out: number[] = []
  let i = 0
  while (i < src.length) {
    let run = 1
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++
    if (run >= 2) {
      out.push(257 - run, src[i]!)
      i += run
      continue
    }
    let lit = 1
    while (i + lit < src.length && lit < 128 && !(i + lit + 1 < src.length && src[i + lit] === src[i + lit + 1])) lit++
    out.push(lit - 1, ...src.subarray(i, i + lit))
    i += lit
  }
  if (out.length % 2) out.push(128) // pad segment to even length with a no-op
  return out
}

function encodeRle(nativeLe: Uint8Array, pixelsN: number, spp: number, bps: number): Uint8Array {
  const segments: number[][] = []
  for (let s = 0; s < spp; s++) {
    for (let b = 0; b < bps; b++) {
      const plane = new Uint8Array(pixelsN)
      for (let p = 0; p < pixelsN; p++) plane[p] = nativeLe[(p * spp + s) * bps + (bps - 1 - b)]!
      segments.push(packBits(plane))
    }
  }
  const header = Buffer.alloc(64)
  header.writeUInt32LE(segments.length, 0)
  let off = 64
  segments.forEach((seg, i) => {
    header.writeUInt32LE(off, 4 + 4 * i)
    off += seg.length
  })
  return Buffer.concat([header, ...segments.map((s) => Buffer.from(s))])
}

describe('RLE Lossless (PS3.5 Annex G)', () => {
  test('round trip with an independent encoder: 8-bit gray, 16-bit gray, 8-bit RGB, 16-bit RGB', () => {
    let seed = 7
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24
    for (const [spp, bps] of [[1, 1], [1, 2], [3, 1], [3, 2]] as const) {
      const rows = 17
      const columns = 13
      const n = rows * columns
      const data = new Uint8Array(n * spp * bps)
      // runs and noise
      for (let i = 0; i < data.length; i++) data[i] = i % 50 < 25 ? 42 : rnd()
      const enc = encodeRle(data, n, spp, bps)
      const dec = decodeRle(enc, { rows, columns, samplesPerPixel: spp, bitsAllocated: bps * 8 })
      assert.ok(Buffer.from(data).equals(dec), `spp ${spp} bps ${bps}`)
    }
  })
  test('hand-made segment: literal, replicate and no-op runs', () => {
    const header = Buffer.alloc(64)
    header.writeUInt32LE(1, 0)
    header.writeUInt32LE(64, 4)
    // literal 3 bytes, no-op, replicate 0x09 four times (-3 = 253), then padding
    const seg = Buffer.from([2, 1, 2, 3, 128, 253, 9, 0])
    const out = decodeRle(Buffer.concat([header, seg]), { rows: 1, columns: 7, samplesPerPixel: 1, bitsAllocated: 8 })
    assert.deepEqual([...out], [1, 2, 3, 9, 9, 9, 9])
  })
  test('corrupt data is reported', () => {
    const header = Buffer.alloc(64)
    header.writeUInt32LE(1, 0)
    header.writeUInt32LE(64, 4)
    const attrs = { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 8 }
    const bad = (b: Uint8Array) => assert.throws(() => decodeRle(b, attrs), (e: any) => e.code === 'DICOMWEB_RENDER_BAD_PIXEL_DATA')
    bad(Buffer.alloc(10)) // no header
    bad(Buffer.concat([header, Buffer.from([0, 1])])) // too few bytes
    const twoSeg = Buffer.from(header)
    twoSeg.writeUInt32LE(2, 0)
    bad(Buffer.concat([twoSeg, Buffer.from([3, 1, 2, 3, 4])])) // segment count does not match
    const far = Buffer.from(header)
    far.writeUInt32LE(9999, 4)
    bad(Buffer.concat([far, Buffer.from([3, 1, 2, 3, 4])])) // offset past the end
  })
})

// ---------------------------------------------------------------------------------------------
// Against pydicom's sample files: pydicom (and Pillow for JPEG) decode, we compare.

const PY = '/usr/bin/python3'
const FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
const DUMP = `
import sys, json, base64
import pydicom
from pydicom.encaps import generate_pixel_data_frame
out = {}
for name in sys.argv[1:]:
    ds = pydicom.dcmread(name)
    ts = ds.file_meta.TransferSyntaxUID
    nf = int(ds.get('NumberOfFrames', 1) or 1)
    if ts.is_compressed:
        frame = next(generate_pixel_data_frame(ds.PixelData, nf))
    else:
        frame = ds.PixelData[: ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8]
    def floats(v):
        if v is None: return None
        try: return [float(x) for x in v]
        except TypeError: return [float(v)]
    r = dict(ts=str(ts), frame=base64.b64encode(frame).decode(), rows=ds.Rows, columns=ds.Columns,
             samplesPerPixel=ds.SamplesPerPixel, bitsAllocated=ds.BitsAllocated, bitsStored=ds.BitsStored,
             highBit=ds.HighBit, pixelRepresentation=ds.PixelRepresentation,
             photometricInterpretation=ds.PhotometricInterpretation, planarConfiguration=ds.get('PlanarConfiguration'),
             windowCenter=floats(ds.get('WindowCenter')), windowWidth=floats(ds.get('WindowWidth')),
             littleEndian=ds.is_little_endian)
    try:
        arr = ds.pixel_array
        if nf > 1: arr = arr[0]
        r['pixels'] = base64.b64encode(arr.astype(arr.dtype.newbyteorder('<')).tobytes()).decode()
    except Exception as e:
        r['pixelsError'] = str(e)
    out[name.split('/')[-1]] = r
print(json.dumps(out))
`

interface Sample extends ImageAttrs {
  ts: string
  frame: string
  pixels?: string
}

let samples: Record<string, Sample> | undefined
const sampleNames = ['MR_small.dcm', 'MR_small_RLE.dcm', 'MR_small_bigendian.dcm', 'SC_rgb_rle.dcm', 'SC_rgb_rle_16bit.dcm', 'SC_rgb_rle_32bit.dcm', 'rtdose_rle_1frame.dcm', 'SC_rgb_jpeg_dcmtk.dcm', 'SC_rgb_small_odd.dcm']
const havePydicom = existsSync(PY) && existsSync(`${FILES}/MR_small_RLE.dcm`)

function attrsOf(s: Sample): ImageAttrs {
  const { ts: _ts, frame: _f, pixels: _p, ...rest } = s
  const a = { ...rest } as ImageAttrs & Record<string, unknown>
  for (const k of Object.keys(a)) if (a[k] === null) delete a[k]
  return a
}
const frameOf = (s: Sample) => Buffer.from(s.frame, 'base64')

describe('pydicom sample files', { skip: havePydicom ? false : 'python3-pydicom test files not installed' }, () => {
  before(() => {
    const r = spawnSync(PY, ['-c', DUMP, ...sampleNames.map((n) => `${FILES}/${n}`)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    assert.equal(r.status, 0, r.stderr)
    samples = JSON.parse(r.stdout)
  })

  test('RLE decode of MR_small_RLE equals the native pixel data of MR_small', () => {
    const rle = samples!['MR_small_RLE.dcm']!
    const nat = samples!['MR_small.dcm']!
    assert.equal(rle.ts, RLE)
    const dec = decodeRle(frameOf(rle), attrsOf(rle))
    assert.equal(dec.length, 64 * 64 * 2)
    assert.ok(dec.equals(frameOf(nat)))
  })
  test('RLE decode of 8/16/32-bit RGB equals pydicom', () => {
    for (const name of ['SC_rgb_rle.dcm', 'SC_rgb_rle_16bit.dcm', 'SC_rgb_rle_32bit.dcm']) {
      const s = samples![name]!
      const dec = decodeRle(frameOf(s), attrsOf(s))
      assert.ok(dec.equals(Buffer.from(s.pixels!, 'base64')), name)
    }
  })
  test('MR_small rendered with its stored window matches the reference, whatever the encoding', async () => {
    const nat = samples!['MR_small.dcm']!
    const ref = new Int16Array(new Uint8Array(Buffer.from(nat.pixels!, 'base64')).buffer)
    const expected = [...ref].map((v) => refLinear(v, nat.windowCenter![0]!, nat.windowWidth![0]!))
    for (const name of ['MR_small.dcm', 'MR_small_RLE.dcm', 'MR_small_bigendian.dcm']) {
      const s = samples![name]!
      const out = await pixels(await renderFrame({ bytes: frameOf(s), encapsulated: s.ts === RLE, transferSyntaxUID: s.ts }, attrsOf(s), png))
      assert.equal(out.width, 64)
      assert.deepEqual([...out.data], expected, name)
    }
    assert.equal(samples!['MR_small_bigendian.dcm']!.littleEndian, false)
  })
  test('32-bit unsigned RLE dose grid renders min..max', async () => {
    const s = samples!['rtdose_rle_1frame.dcm']!
    const ref = new Uint32Array(new Uint8Array(Buffer.from(s.pixels!, 'base64')).buffer)
    let min = Infinity
    let max = -Infinity
    for (const v of ref) {
      min = Math.min(min, v)
      max = Math.max(max, v)
    }
    const out = await pixels(await renderFrame({ bytes: frameOf(s), encapsulated: true, transferSyntaxUID: RLE }, attrsOf(s), png))
    assert.deepEqual([...out.data], [...ref].map((v) => refLinear(v, (min + max) / 2 + 0.5, max - min + 1)))
  })
  test('RGB RLE renders the exact pixels; odd-sized native RGB too', async () => {
    for (const name of ['SC_rgb_rle.dcm', 'SC_rgb_rle_16bit.dcm', 'SC_rgb_small_odd.dcm']) {
      const s = samples![name]!
      const out = await pixels(await renderFrame({ bytes: frameOf(s), encapsulated: s.ts === RLE, transferSyntaxUID: s.ts }, attrsOf(s), png))
      const ref = Buffer.from(s.pixels!, 'base64')
      const ref8 = s.bitsAllocated === 16 ? Buffer.from([...new Uint16Array(new Uint8Array(ref).buffer)].map((v) => Math.round(v / 257))) : ref
      assert.equal(out.channels, 3)
      assert.ok(out.data.equals(ref8), name)
    }
  })
  test('JPEG Baseline: sent unchanged as JPEG, decoded for PNG (close to the lossless original)', async () => {
    const s = samples!['SC_rgb_jpeg_dcmtk.dcm']!
    const frame = { bytes: frameOf(s), encapsulated: true, transferSyntaxUID: JPEG_BASELINE }
    const same = await renderFrame(frame, attrsOf(s), { format: 'jpeg' })
    assert.ok(Buffer.from(same).equals(frameOf(s)))
    const out = await pixels(await renderFrame(frame, attrsOf(s), png))
    const lossless = Buffer.from(samples!['SC_rgb_rle.dcm']!.pixels!, 'base64')
    assert.equal(out.channels, 3)
    let worst = 0
    out.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - lossless[i]!))))
    assert.ok(worst <= 12, `max deviation ${worst}`)
    // a viewport forces a re-encode
    const small = await pixels(await renderFrame(frame, attrsOf(s), { format: 'jpeg', viewport: { width: 50, height: 50 } }))
    assert.equal(small.format, 'jpeg')
    assert.deepEqual([small.width, small.height], [50, 50])
  })
})

describe('JPEG Baseline frames (synthetic)', () => {
  const w = 16
  const h = 8
  const grayRaw = Buffer.alloc(w * h)
  for (let i = 0; i < grayRaw.length; i++) grayRaw[i] = i % w < 8 ? 40 : 200
  let jpeg: Buffer
  before(async () => {
    jpeg = await sharp(grayRaw, { raw: { width: w, height: h, channels: 1 } }).jpeg({ quality: 100 }).toBuffer()
  })
  const attrs = (pi: string): ImageAttrs => ({ rows: h, columns: w, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, photometricInterpretation: pi, littleEndian: true })

  test('MONOCHROME2 to PNG keeps the values (no stretching of display-ready data)', async () => {
    const out = await pixels(await renderFrame({ bytes: jpeg, encapsulated: true, transferSyntaxUID: JPEG_BASELINE }, attrs('MONOCHROME2'), png))
    assert.equal(out.channels, 1)
    out.data.forEach((v, i) => assert.ok(Math.abs(v - grayRaw[i]!) <= 3, `${i}: ${v}`))
  })
  test('MONOCHROME1 is never passed through: it is inverted', async () => {
    const r = await renderFrame({ bytes: jpeg, encapsulated: true, transferSyntaxUID: JPEG_BASELINE }, attrs('MONOCHROME1'), { format: 'jpeg' })
    assert.ok(!Buffer.from(r).equals(jpeg))
    const out = await pixels(r)
    out.data.forEach((v, i) => assert.ok(Math.abs(v - (255 - grayRaw[i]!)) <= 6, `${i}: ${v}`))
  })
  test('JPEG requested with a window is re-encoded, not passed through', async () => {
    const r = await renderFrame({ bytes: jpeg, encapsulated: true, transferSyntaxUID: JPEG_BASELINE }, attrs('MONOCHROME2'), { format: 'jpeg', window: { center: 120, width: 100 } })
    assert.ok(!Buffer.from(r).equals(jpeg))
    const out = await pixels(r)
    out.data.forEach((v, i) => assert.ok(Math.abs(v - (grayRaw[i]! < 100 ? 0 : 255)) <= 8, `${i}: ${v}`))
  })
  test('a requested window is applied to the decoded values', async () => {
    const out = await pixels(await renderFrame({ bytes: jpeg, encapsulated: true, transferSyntaxUID: JPEG_BASELINE }, attrs('MONOCHROME2'), { format: 'png', window: { center: 120, width: 100 } }))
    out.data.forEach((v, i) => assert.equal(v, grayRaw[i]! < 100 ? 0 : 255, `${i}`))
  })
  test('a corrupt JPEG is reported as bad pixel data', async () => {
    await assert.rejects(
      renderFrame({ bytes: Buffer.from([0xff, 0xd8, 1, 2, 3]), encapsulated: true, transferSyntaxUID: JPEG_BASELINE }, attrs('MONOCHROME2'), png),
      (e: any) => e.code === 'DICOMWEB_RENDER_BAD_PIXEL_DATA',
    )
  })
})

describe('unsupported syntaxes, viewport, formats', () => {
  const a = gray({ rows: 32, columns: 64, bitsAllocated: 8, bitsStored: 8, windowCenter: [128], windowWidth: [256] })
  const ramp = Uint8Array.from({ length: 32 * 64 }, (_, i) => (i % 64) * 4)

  test('JPEG 2000, JPEG-LS, lossless JPEG: DICOMWEB_RENDER_UNSUPPORTED (406) naming the syntax', async () => {
    for (const ts of ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.70', '1.2.3.4.5']) {
      await assert.rejects(
        renderFrame({ bytes: new Uint8Array(100), encapsulated: true, transferSyntaxUID: ts }, a, png),
        (e: any) => e.code === 'DICOMWEB_RENDER_UNSUPPORTED' && e.status === 406 && e.message.includes(ts),
        ts,
      )
    }
  })
  test('viewport fits inside, keeping the aspect ratio', async () => {
    const out = await pixels(await renderFrame(native(ramp), a, { format: 'png', viewport: { width: 16, height: 16 } }))
    assert.deepEqual([out.width, out.height], [16, 8])
    const up = await pixels(await renderFrame(native(ramp), a, { format: 'png', viewport: { width: 1000, height: 64 } }))
    assert.deepEqual([up.width, up.height], [128, 64])
  })
  test('viewport source region crops (and flips with a negative width)', async () => {
    const expectedRow = [...Array(64).keys()].map((x) => refLinear(x * 4, 128, 256))
    const out = await pixels(await renderFrame(native(ramp), a, { format: 'png', viewport: { width: 4, height: 2, region: { x: 10, y: 5, width: 4, height: 2 } } }))
    assert.deepEqual([out.width, out.height], [4, 2])
    assert.deepEqual([...out.data.subarray(0, 4)], expectedRow.slice(10, 14))
    const flipped = await pixels(await renderFrame(native(ramp), a, { format: 'png', viewport: { width: 4, height: 2, region: { x: 14, y: 5, width: -4, height: 2 } } }))
    assert.deepEqual([...flipped.data.subarray(0, 4)], expectedRow.slice(10, 14).reverse())
    await assert.rejects(
      renderFrame(native(ramp), a, { format: 'png', viewport: { width: 4, height: 2, region: { x: 62, y: 0, width: 4, height: 2 } } }),
      (e: any) => e.code === 'DICOMWEB_BAD_VIEWPORT',
    )
  })
  test('JPEG output honours quality', async () => {
    const noisy = Uint8Array.from({ length: 32 * 64 }, (_, i) => (i * 7919) % 251)
    const hi = await renderFrame(native(noisy), a, { format: 'jpeg', quality: 100 })
    const lo = await renderFrame(native(noisy), a, { format: 'jpeg', quality: 5 })
    assert.equal((await pixels(hi)).format, 'jpeg')
    assert.ok(lo.length < hi.length, `${lo.length} < ${hi.length}`)
  })
})
