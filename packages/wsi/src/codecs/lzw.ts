/**
 * @module TIFF LZW decoder (TIFF 6.0 §13): MSB-first codes of 9–12 bits, Clear 256, EOI 257,
 * and the "early change" libtiff writes (the code width grows one code before the table fills).
 */
import { WsiErrors } from '../errors.ts'

const CLEAR = 256
const EOI = 257

/** Decodes into exactly `expected` bytes; a short stream leaves zeros, extra output is dropped. */
export function decodeLzw(src: Uint8Array, expected: number): Uint8Array {
  if (src.length >= 2 && src[0] === 0 && (src[1] & 1) === 1) throw WsiErrors.malformed('old-style (pre-TIFF 6.0, LSB-first) LZW is not supported')
  const out = new Uint8Array(expected)
  const prefix = new Int32Array(4096)
  const suffix = new Uint8Array(4096)
  const first = new Uint8Array(4096)
  const len = new Int32Array(4096)
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1
    suffix[i] = i
    first[i] = i
    len[i] = 1
  }
  let next = 258
  let width = 9
  let old = -1
  let op = 0
  let acc = 0
  let bits = 0
  let ip = 0

  const emit = (code: number): void => {
    const l = len[code]
    let c = code
    for (let j = l - 1; j >= 0; j--) {
      if (op + j < expected) out[op + j] = suffix[c]
      c = prefix[c]
    }
    op += l
  }

  while (op < expected) {
    while (bits < width) {
      if (ip >= src.length) return out
      acc = ((acc << 8) | src[ip++]) >>> 0
      bits += 8
    }
    const code = (acc >>> (bits - width)) & ((1 << width) - 1)
    bits -= width
    acc &= (1 << bits) - 1
    if (code === EOI) break
    if (code === CLEAR) {
      next = 258
      width = 9
      old = -1
      continue
    }
    if (old === -1) {
      if (code > 255) throw WsiErrors.malformed(`LZW stream starts with code ${code}, not a literal`)
      emit(code)
      old = code
      continue
    }
    let k: number
    if (code < next) {
      emit(code)
      k = first[code]
    } else if (code === next) {
      emit(old)
      if (op < expected) out[op] = first[old]
      op++
      k = first[old]
    } else {
      throw WsiErrors.malformed(`LZW code ${code} is beyond the table (${next})`)
    }
    if (next < 4096) {
      prefix[next] = old
      suffix[next] = k
      first[next] = first[old]
      len[next] = len[old] + 1
      next++
    }
    old = code
    if (next >= (1 << width) - 1 && width < 12) width++
  }
  return out
}
