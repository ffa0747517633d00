/**
 * @module A small baseline JPEG encoder (YCbCr 4:4:4, 8×8 MCUs) for the synthetic slide writers.
 *
 * Why our own: NDPI levels are one JPEG with restart markers and header dimensions past
 * libjpeg's 65,535 px, and SVS/TIFF tiles want abbreviated streams with shared JPEGTables;
 * sharp can do neither. The quantisation and Huffman tables are taken from a JPEG sharp
 * (libjpeg-turbo) writes at the same quality, so our streams use exactly libjpeg's tables.
 */
import sharp from 'sharp'

const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43,
  36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
])
const AAN = [1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.5411961, 0.275899379]

interface Huffman {
  code: Uint16Array
  size: Uint8Array
}

/** Appends bits MSB first, stuffing 0x00 after every 0xFF byte, into a growable buffer. */
class BitWriter {
  buf = new Uint8Array(1 << 16)
  len = 0
  private acc = 0
  private n = 0
  private byte(b: number): void {
    if (this.len + 2 > this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2)
      nb.set(this.buf.subarray(0, this.len))
      this.buf = nb
    }
    this.buf[this.len++] = b
    if (b === 0xff) this.buf[this.len++] = 0
  }
  bits(value: number, count: number): void {
    this.acc = (this.acc << count) | (value & ((1 << count) - 1))
    this.n += count
    while (this.n >= 8) {
      this.n -= 8
      this.byte((this.acc >>> this.n) & 0xff)
    }
    this.acc &= (1 << this.n) - 1
  }
  /** Pads the last byte with 1-bits, as a restart interval or scan end requires. */
  flush(): void {
    if (this.n > 0) this.bits(0x7f, 8 - this.n)
  }
  marker(m: number): void {
    this.byte(0xff)
    this.len-- // a marker's 0xFF is not stuffed
    this.byte(m)
  }
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len)
    this.len = 0
    return out
  }
}

export interface JpegScanResult {
  /** Entropy-coded data (with RSTn markers between intervals when a restart interval is set). */
  data: Uint8Array
  /** Byte offset, within `data`, of each restart interval's first entropy byte (after its RSTn). */
  intervalStarts: number[]
}

export class JpegEncoder {
  private constructor(
    readonly quality: number,
    /** DQT segments (both tables) exactly as libjpeg writes them. */
    private readonly dqt: Uint8Array,
    /** DHT segments (the four standard tables). */
    private readonly dht: Uint8Array,
    private readonly qDiv: [Float64Array, Float64Array],
    private readonly dc: [Huffman, Huffman],
    private readonly ac: [Huffman, Huffman],
  ) {}

  static async create(quality: number): Promise<JpegEncoder> {
    const probe = await sharp(Buffer.alloc(16 * 16 * 3, 128), { raw: { width: 16, height: 16, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: '4:4:4', optimiseCoding: false, progressive: false, mozjpeg: false })
      .toBuffer()
    const dqtParts: Uint8Array[] = []
    const dhtParts: Uint8Array[] = []
    const q: Float64Array[] = []
    const dc: Huffman[] = []
    const ac: Huffman[] = []
    for (let p = 2; p + 4 <= probe.length; ) {
      const m = probe[p + 1]
      const len = (probe[p + 2] << 8) | probe[p + 3]
      const seg = new Uint8Array(probe.subarray(p, p + 2 + len))
      if (m === 0xda) break
      if (m === 0xdb) {
        dqtParts.push(seg)
        for (let i = 4; i < seg.length; ) {
          const id = seg[i] & 15
          if (seg[i] >> 4) throw new Error('16-bit quantisation table from libjpeg')
          const div = new Float64Array(64)
          for (let k = 0; k < 64; k++) {
            const nat = ZIGZAG[k]
            div[nat] = seg[i + 1 + k] * AAN[nat >> 3] * AAN[nat & 7] * 8
          }
          q[id] = div
          i += 65
        }
      } else if (m === 0xc4) {
        dhtParts.push(seg)
        for (let i = 4; i < seg.length; ) {
          const cls = seg[i] >> 4
          const id = seg[i] & 15
          const counts = seg.subarray(i + 1, i + 17)
          let total = 0
          for (const c of counts) total += c
          const vals = seg.subarray(i + 17, i + 17 + total)
          const h: Huffman = { code: new Uint16Array(256), size: new Uint8Array(256) }
          let code = 0
          let k = 0
          for (let len = 1; len <= 16; len++) {
            for (let j = 0; j < counts[len - 1]; j++) {
              h.code[vals[k]] = code++
              h.size[vals[k]] = len
              k++
            }
            code <<= 1
          }
          ;(cls === 0 ? dc : ac)[id] = h
          i += 17 + total
        }
      }
      p += 2 + len
    }
    if (!q[0] || !q[1] || !dc[0] || !dc[1] || !ac[0] || !ac[1]) throw new Error('libjpeg did not write the expected tables')
    return new JpegEncoder(quality, concat(dqtParts), concat(dhtParts), [q[0], q[1]], [dc[0], dc[1]], [ac[0], ac[1]])
  }

  /** SOI + tables + EOI: the TIFF JPEGTables value. */
  tables(): Uint8Array {
    return concat([Uint8Array.of(0xff, 0xd8), this.dqt, this.dht, Uint8Array.of(0xff, 0xd9)])
  }

  /**
   * SOI [JFIF] [tables] SOF0 [DRI] SOS. `width`/`height` over 65,535 are written as 0, as
   * Hamamatsu does (the TIFF tags carry the real size).
   */
  header(width: number, height: number, opts: { tables: boolean; restartInterval?: number; jfif?: boolean }): Uint8Array {
    const parts: Uint8Array[] = [Uint8Array.of(0xff, 0xd8)]
    if (opts.jfif) parts.push(Uint8Array.of(0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0))
    if (opts.tables) parts.push(this.dqt, this.dht)
    const w = width > 0xffff ? 0 : width
    const h = height > 0xffff ? 0 : height
    parts.push(Uint8Array.of(0xff, 0xc0, 0, 17, 8, h >> 8, h & 255, w >> 8, w & 255, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1))
    if (opts.restartInterval) parts.push(Uint8Array.of(0xff, 0xdd, 0, 4, opts.restartInterval >> 8, opts.restartInterval & 255))
    parts.push(Uint8Array.of(0xff, 0xda, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0))
    return concat(parts)
  }

  /** A whole JPEG file of an RGB buffer (tables included). */
  encode(rgb: Uint8Array, width: number, height: number): Uint8Array {
    return concat([this.header(width, height, { tables: true, jfif: true }), this.scan(rgb, width, height).data, Uint8Array.of(0xff, 0xd9)])
  }

  /** An abbreviated JPEG (no tables) for a TIFF tile whose tables live in JPEGTables. */
  encodeAbbreviated(rgb: Uint8Array, width: number, height: number): Uint8Array {
    return concat([this.header(width, height, { tables: false }), this.scan(rgb, width, height).data, Uint8Array.of(0xff, 0xd9)])
  }

  /**
   * Entropy-codes an RGB buffer (width × height × 3, edges replicated to whole MCUs). With
   * `restartInterval`, DC prediction restarts every that many MCUs, each interval ends
   * byte-aligned, and RST markers numbered from `firstRst` (mod 8) separate them.
   */
  scan(rgb: Uint8Array, width: number, height: number, restartInterval = 0, firstRst = 0): JpegScanResult {
    const bw = new BitWriter()
    const starts: number[] = [0]
    const mcuX = Math.ceil(width / 8)
    const mcuY = Math.ceil(height / 8)
    const y = new Float64Array(64)
    const cb = new Float64Array(64)
    const cr = new Float64Array(64)
    const coef = new Int32Array(64)
    const pred = [0, 0, 0]
    let mcu = 0
    let rst = firstRst
    for (let my = 0; my < mcuY; my++) {
      for (let mx = 0; mx < mcuX; mx++) {
        if (restartInterval && mcu > 0 && mcu % restartInterval === 0) {
          bw.flush()
          bw.marker(0xd0 + (rst++ & 7))
          starts.push(bw.len)
          pred[0] = pred[1] = pred[2] = 0
        }
        const p0 = (Math.min(my * 8, height - 1) * width + mx * 8) * 3
        const r0 = rgb[p0]
        const g0 = rgb[p0 + 1]
        const b0 = rgb[p0 + 2]
        let flat = true
        for (let j = 0; j < 8; j++) {
          const sy = Math.min(my * 8 + j, height - 1)
          for (let i = 0; i < 8; i++) {
            const sx = Math.min(mx * 8 + i, width - 1)
            const p = (sy * width + sx) * 3
            const r = rgb[p]
            const g = rgb[p + 1]
            const b = rgb[p + 2]
            if (r !== r0 || g !== g0 || b !== b0) flat = false
            const k = j * 8 + i
            y[k] = 0.299 * r + 0.587 * g + 0.114 * b - 128
            cb[k] = -0.168735892 * r - 0.331264108 * g + 0.5 * b
            cr[k] = 0.5 * r - 0.418687589 * g - 0.081312411 * b
          }
        }
        // A flat block (glass) has only a DC term: skip the DCT, which is exact here (DC = 64 × sample).
        pred[0] = flat ? this.flatBlock(bw, y[0], 0, pred[0]) : this.block(bw, y, coef, 0, pred[0])
        pred[1] = flat ? this.flatBlock(bw, cb[0], 1, pred[1]) : this.block(bw, cb, coef, 1, pred[1])
        pred[2] = flat ? this.flatBlock(bw, cr[0], 1, pred[2]) : this.block(bw, cr, coef, 1, pred[2])
        mcu++
      }
    }
    bw.flush()
    return { data: bw.take(), intervalStarts: starts }
  }

  private flatBlock(bw: BitWriter, v: number, t: 0 | 1, pred: number): number {
    const dc = Math.round((64 * v) / this.qDiv[t][0])
    const diff = dc - pred
    const s = nbits(diff)
    const dcH = this.dc[t]
    bw.bits(dcH.code[s], dcH.size[s])
    if (s) bw.bits(diff < 0 ? diff - 1 : diff, s)
    bw.bits(this.ac[t].code[0], this.ac[t].size[0])
    return dc
  }

  /** FDCT (libjpeg's float AAN), quantise, Huffman-code one block; returns the new DC predictor. */
  private block(bw: BitWriter, d: Float64Array, coef: Int32Array, t: 0 | 1, pred: number): number {
    fdct(d)
    const div = this.qDiv[t]
    for (let k = 0; k < 64; k++) coef[k] = Math.round(d[k] / div[k])
    const dcH = this.dc[t]
    const acH = this.ac[t]
    const diff = coef[0] - pred
    const s = nbits(diff)
    bw.bits(dcH.code[s], dcH.size[s])
    if (s) bw.bits(diff < 0 ? diff - 1 : diff, s)
    let run = 0
    for (let k = 1; k < 64; k++) {
      const v = coef[ZIGZAG[k]]
      if (v === 0) {
        run++
        continue
      }
      while (run > 15) {
        bw.bits(acH.code[0xf0], acH.size[0xf0])
        run -= 16
      }
      const n = nbits(v)
      const sym = (run << 4) | n
      bw.bits(acH.code[sym], acH.size[sym])
      bw.bits(v < 0 ? v - 1 : v, n)
      run = 0
    }
    if (run > 0) bw.bits(acH.code[0], acH.size[0])
    return coef[0]
  }
}

function nbits(v: number): number {
  let a = v < 0 ? -v : v
  let n = 0
  while (a) {
    n++
    a >>= 1
  }
  return n
}

function fdct(d: Float64Array): void {
  for (let pass = 0; pass < 2; pass++) {
    const step = pass === 0 ? 1 : 8
    const stride = pass === 0 ? 8 : 1
    for (let i = 0; i < 8; i++) {
      const o = i * stride
      const d0 = d[o], d1 = d[o + step], d2 = d[o + 2 * step], d3 = d[o + 3 * step]
      const d4 = d[o + 4 * step], d5 = d[o + 5 * step], d6 = d[o + 6 * step], d7 = d[o + 7 * step]
      const t0 = d0 + d7, t7 = d0 - d7, t1 = d1 + d6, t6 = d1 - d6
      const t2 = d2 + d5, t5 = d2 - d5, t3 = d3 + d4, t4 = d3 - d4
      let t10 = t0 + t3
      const t13 = t0 - t3
      let t11 = t1 + t2
      let t12 = t1 - t2
      d[o] = t10 + t11
      d[o + 4 * step] = t10 - t11
      const z1 = (t12 + t13) * 0.707106781
      d[o + 2 * step] = t13 + z1
      d[o + 6 * step] = t13 - z1
      t10 = t4 + t5
      t11 = t5 + t6
      t12 = t6 + t7
      const z5 = (t10 - t12) * 0.382683433
      const z2 = 0.5411961 * t10 + z5
      const z4 = 1.306562965 * t12 + z5
      const z3 = t11 * 0.707106781
      const z11 = t7 + z3
      const z13 = t7 - z3
      d[o + 5 * step] = z13 + z2
      d[o + 3 * step] = z13 - z2
      d[o + step] = z11 + z4
      d[o + 7 * step] = z11 - z4
    }
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}
