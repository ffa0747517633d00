/**
 * TIFF/BigTIFF directory parsing on hand-built files (both byte orders, every field type),
 * and corrupt structure (loops, truncation, bad version) giving clear errors.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BufferSource } from '@kura/core'
import { TiffFile } from './parser.ts'
import { FIELD_TYPE_SIZE, FieldType as T } from './tags.ts'

interface E { tag: number; type: number; values: number[] | string }

/** Writes a one- or two-IFD TIFF; `link` makes the last IFD point back to the first (a loop). */
function build(le: boolean, big: boolean, ifds: E[][], link = false): Uint8Array {
  const buf = new Uint8Array(65536)
  const dv = new DataView(buf.buffer)
  const put = (p: number, size: number, v: number | bigint, type?: number) => {
    if (type === T.FLOAT) return dv.setFloat32(p, Number(v), le)
    if (type === T.DOUBLE) return dv.setFloat64(p, Number(v), le)
    if (size === 1) dv.setUint8(p, Number(v) & 0xff)
    else if (size === 2) dv.setUint16(p, Number(v) & 0xffff, le)
    else if (size === 4) dv.setUint32(p, Number(v) >>> 0, le)
    else dv.setBigUint64(p, BigInt.asUintN(64, BigInt(v)), le)
  }
  buf[0] = buf[1] = le ? 0x49 : 0x4d
  put(2, 2, big ? 43 : 42)
  if (big) { put(4, 2, 8); put(6, 2, 0) }
  let p = big ? 16 : 8
  const firstPtr = big ? 8 : 4
  let prevNext = firstPtr
  const offs: number[] = []
  for (const entries of ifds) {
    put(prevNext, big ? 8 : 4, p)
    offs.push(p)
    const cs = big ? 8 : 2, es = big ? 20 : 12, ps = big ? 8 : 4
    put(p, cs, entries.length)
    let data = p + cs + entries.length * es + ps
    entries.forEach((e, i) => {
      const q = p + cs + i * es
      const vals = typeof e.values === 'string' ? [...Buffer.from(e.values + '\0', 'latin1')] : e.values
      const sz = FIELD_TYPE_SIZE[e.type] ?? 1 // unknown types: write one byte per value
      const n = e.type === T.RATIONAL || e.type === T.SRATIONAL ? vals.length / 2 : vals.length
      put(q, 2, e.tag); put(q + 2, 2, e.type); put(q + 4, big ? 8 : 4, n)
      let at = q + (big ? 12 : 8)
      if (sz * n > ps) { put(at, ps, data); at = data; data += sz * n + ((sz * n) & 1) }
      const step = e.type === T.RATIONAL || e.type === T.SRATIONAL ? 4 : sz
      vals.forEach((v, j) => put(at + j * step, step, v, e.type))
    })
    prevNext = p + cs + entries.length * es
    p = data
  }
  if (link) put(prevNext, big ? 8 : 4, offs[0])
  return buf.subarray(0, p)
}

const ENTRIES: E[] = [
  { tag: 256, type: T.SHORT, values: [640] },
  { tag: 257, type: T.LONG, values: [480] },
  { tag: 258, type: T.SHORT, values: [8, 8, 8] },
  { tag: 270, type: T.ASCII, values: 'a description longer than eight bytes' },
  { tag: 282, type: T.RATIONAL, values: [300, 1, 1, 4] },
  { tag: 40000, type: T.SSHORT, values: [-5, 7] },
  { tag: 40001, type: T.SLONG, values: [-70000] },
  { tag: 40002, type: T.DOUBLE, values: [Math.PI] },
  { tag: 40003, type: T.FLOAT, values: [1.5] },
  { tag: 40004, type: T.SBYTE, values: [-1, 2] },
  { tag: 40005, type: T.UNDEFINED, values: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
  { tag: 40006, type: T.SRATIONAL, values: [-1, 2] },
  { tag: 40007, type: 99, values: [1] }, // unknown field type: skipped
]

for (const le of [true, false])
  for (const big of [false, true]) {
    test(`${le ? 'little' : 'big'}-endian ${big ? 'BigTIFF' : 'TIFF'}: every field type decodes`, async () => {
      const extra: E[] = big ? [{ tag: 324, type: T.LONG8, values: [2 ** 40 + 3, 5] }, { tag: 330, type: T.IFD8, values: [0] }] : [{ tag: 330, type: T.IFD, values: [0] }]
      const f = await TiffFile.open(new BufferSource(build(le, big, [[...ENTRIES, ...extra].filter((e) => e.tag !== 330)])))
      assert.equal(f.littleEndian, le)
      assert.equal(f.bigTiff, big)
      assert.equal(f.ifds.length, 1)
      const d = f.ifds[0]
      assert.equal(await d.number(256), 640)
      assert.equal(await d.number(257), 480)
      assert.deepEqual(Array.from((await d.numbers(258))!), [8, 8, 8])
      assert.equal(await d.string(270), 'a description longer than eight bytes')
      assert.deepEqual(Array.from((await d.numbers(282))!), [300, 0.25])
      assert.deepEqual(Array.from((await d.numbers(40000))!), [-5, 7])
      assert.equal(await d.number(40001), -70000)
      assert.equal(await d.number(40002), Math.PI)
      assert.equal(await d.number(40003), 1.5)
      assert.deepEqual(Array.from((await d.numbers(40004))!), [-1, 2])
      assert.deepEqual(Array.from((await d.bytes(40005))!), [1, 2, 3, 4, 5, 6, 7, 8, 9])
      assert.equal(await d.number(40006), -0.5)
      assert.equal(d.has(40007), false)
      if (big) assert.deepEqual(Array.from((await d.numbers(324))!), [2 ** 40 + 3, 5])
    })
  }

test('two chained IFDs are both read; an IFD loop is refused by name', async () => {
  const two = [[{ tag: 256, type: T.SHORT, values: [1] }], [{ tag: 256, type: T.SHORT, values: [2] }]] as E[][]
  const f = await TiffFile.open(new BufferSource(build(true, false, two)))
  assert.deepEqual(await Promise.all(f.ifds.map((d) => d.number(256))), [1, 2])
  await assert.rejects(TiffFile.open(new BufferSource(build(true, false, two, true))), (e: Error & { code?: string }) => e.code === 'WSI_MALFORMED' && /loop/.test(e.message))
})

test('not a TIFF, a bad version and a truncated directory give clear errors', async () => {
  await assert.rejects(TiffFile.open(new BufferSource(Buffer.from('GIF89a....'))), { code: 'WSI_NOT_TIFF' })
  const b = build(true, false, [ENTRIES])
  const bad = b.slice()
  bad[2] = 41
  await assert.rejects(TiffFile.open(new BufferSource(bad)), /version 41/)
  await assert.rejects(TiffFile.open(new BufferSource(b.subarray(0, 40))), (e: Error & { code?: string }) => e.code === 'WSI_TRUNCATED' || e.code === 'WSI_MALFORMED')
  // A value pointing past the end fails when read, not at open.
  const f = await TiffFile.open(new BufferSource(b.subarray(0, b.length - 40)))
  await assert.rejects(f.ifds[0].bytes(40005), { code: 'WSI_MALFORMED' })
})
