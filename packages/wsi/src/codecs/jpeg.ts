/**
 * @module JPEG-in-TIFF to standalone JPEG without decoding: splice the shared JPEGTables into
 * an abbreviated tile stream, and mark RGB-coded streams with an Adobe APP14 marker.
 */

const SOI = [0xff, 0xd8]

/**
 * Adobe APP14 with transform 0 ("no colour transform"). Aperio writes RGB JPEG tiles
 * (Photometric 2) with no JFIF or Adobe marker and component ids 0,1,2, so libjpeg guesses
 * YCbCr and the colours come out wrong; this marker makes every decoder read the components
 * as RGB, matching OpenSlide (openslide-decode-jpeg.c sets jpeg_color_space = JCS_RGB for them).
 */
const APP14_RGB = Uint8Array.from([0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00])

export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0xff && b[1] === 0xd8
}

/**
 * A standalone JPEG from a TIFF tile/strip: SOI, [APP14 when `rgb`], the table segments of
 * `tables` (its SOI and EOI dropped), then the tile after its own SOI.
 */
export function spliceJpeg(tile: Uint8Array, tables: Uint8Array | undefined, rgb: boolean): Uint8Array {
  if (!isJpeg(tile)) throw new Error('tile does not start with a JPEG SOI marker')
  let t = tables && isJpeg(tables) ? tables.subarray(2) : new Uint8Array(0)
  if (t.length >= 2 && t[t.length - 2] === 0xff && t[t.length - 1] === 0xd9) t = t.subarray(0, t.length - 2)
  const app14 = rgb && !hasSegment(tile, 0xee) ? APP14_RGB : new Uint8Array(0)
  const out = new Uint8Array(2 + app14.length + t.length + tile.length - 2)
  out.set(SOI, 0)
  out.set(app14, 2)
  out.set(t, 2 + app14.length)
  out.set(tile.subarray(2), 2 + app14.length + t.length)
  return out
}

/** Whether a marker segment (e.g. 0xee = APP14) appears before the first SOS. */
export function hasSegment(jpeg: Uint8Array, marker: number): boolean {
  let p = 2
  while (p + 4 <= jpeg.length) {
    if (jpeg[p] !== 0xff) return false
    const m = jpeg[p + 1]
    if (m === 0xff) { p++; continue }
    if (m === marker) return true
    if (m === 0xda || m === 0xd9) return false
    p += 2 + ((jpeg[p + 2] << 8) | jpeg[p + 3])
  }
  return false
}
