/**
 * Codec edge cases the vips/OpenSlide comparisons do not reach: corrupt LZW, and the JPEG
 * splice keeping an APP14 the tile already has.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeLzw } from './lzw.ts'
import { hasSegment, spliceJpeg } from './jpeg.ts'

/** Packs codes MSB-first at the given widths. */
function pack(codes: [number, number][]): Uint8Array {
  let bits = ''
  for (const [c, w] of codes) bits += c.toString(2).padStart(w, '0')
  while (bits.length % 8) bits += '0'
  return Uint8Array.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)))
}

test('LZW: literals, a KwKwK code and EOI decode; a code beyond the table is refused', () => {
  // Clear, 'a', 'b', 258 (= "ab"), 260 (the code being defined: KwKwK, "ab" + "a"), EOI
  const out = decodeLzw(pack([[256, 9], [97, 9], [98, 9], [258, 9], [260, 9], [257, 9]]), 9)
  assert.equal(Buffer.from(out).toString('latin1'), 'abababa\0\0', 'short streams leave zeros')
  assert.throws(() => decodeLzw(pack([[256, 9], [97, 9], [400, 9]]), 10), { code: 'WSI_MALFORMED' })
  assert.throws(() => decodeLzw(pack([[256, 9], [300, 9]]), 10), { code: 'WSI_MALFORMED' })
})

test('JPEG splice: tables between SOI and the frame, no second APP14 when the tile has one', () => {
  const tables = Uint8Array.from([0xff, 0xd8, 0xff, 0xdb, 0x00, 0x03, 0x07, 0xff, 0xd9])
  const tile = Uint8Array.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x02, 0xff, 0xda, 0x00, 0x02, 0x11, 0xff, 0xd9])
  const rgb = spliceJpeg(tile, tables, true)
  assert.deepEqual([...rgb.subarray(0, 4)], [0xff, 0xd8, 0xff, 0xee])
  assert.deepEqual([...rgb.subarray(18, 23)], [0xff, 0xdb, 0x00, 0x03, 0x07])
  assert.deepEqual([...rgb.subarray(23)], [...tile.subarray(2)])
  assert.ok(hasSegment(rgb, 0xee))
  assert.equal(spliceJpeg(rgb, tables, true).length, rgb.length + 5, 'only the tables are added again, not another APP14')
  assert.equal(hasSegment(spliceJpeg(tile, tables, false), 0xee), false)
})
