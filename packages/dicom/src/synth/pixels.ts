/**
 * @module Phantom images for the synthetic corpus: a CT torso, an MR head, an endoscope frame.
 *
 * Crude anatomy, but with real intensity ranges (Hounsfield units, 12-bit MR signal, RGB
 * mucosa), so windowing, thumbnails and rendered frames look like what a radiologist or
 * endoscopist expects rather than noise, and a broken decoder shows up at a glance.
 */
import type { Prng } from './prng.ts'

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The bytes of a 16-bit array in little-endian order (DICOM's), whatever the host order. */
function littleEndianBytes(a: Int16Array | Uint16Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  if (!LITTLE_ENDIAN_HOST) {
    for (let i = 0; i < bytes.length; i += 2) {
      const t = bytes[i]
      bytes[i] = bytes[i + 1]
      bytes[i + 1] = t
    }
  }
  return bytes
}

/**
 * Unit-normal noise, looked up rather than computed: one PRNG draw per pixel instead of four
 * keeps a 512×512 slice fast. The table is fixed; which entries a pixel gets depends on the seed.
 */
const NOISE = (() => {
  const t = new Float32Array(65536)
  const rng = new (class {
    s = 0x9e3779b9
    next(): number {
      // xorshift32: only fills this table, so quality needs are modest.
      this.s ^= this.s << 13
      this.s ^= this.s >>> 17
      this.s ^= this.s << 5
      return (this.s >>> 0) / 4294967296
    }
  })()
  for (let i = 0; i < t.length; i++) t[i] = (rng.next() + rng.next() + rng.next() + rng.next() - 2) * 1.7320508
  return t
})()

function noise(rng: Prng, sigma: number): number {
  return NOISE[rng.nextU32() >>> 16] * sigma
}

/** (u/a)² + (v/b)² for an ellipse centred at (cu, cv): ≤ 1 inside. */
function ell(u: number, v: number, cu: number, cv: number, a: number, b: number): number {
  const du = (u - cu) / a
  const dv = (v - cv) / b
  return du * du + dv * dv
}

/** CT air outside the body, and the value scanners put outside the reconstruction circle. */
const HU_AIR = -1000
const HU_OUTSIDE_FOV = -2048

/**
 * One axial CT slice in stored values (HU + 1024, signed 16-bit), with `t` running from
 * mid-chest (0) to pelvis (1): lungs shrink and give way to liver and kidneys, and the ribs
 * turn as the slice moves, so a series scrolls like a real one.
 */
export function ctSlice(rows: number, cols: number, t: number, rng: Prng): Uint8Array {
  const out = new Int16Array(rows * cols)
  const lung = Math.max(0, 1 - t / 0.55) // lung size: full at mid-chest, gone below the diaphragm
  const abdomen = Math.min(1, Math.max(0, (t - 0.35) / 0.3))
  const ribPhase = t * 9
  for (let y = 0; y < rows; y++) {
    const v = (y + 0.5) / rows * 2 - 1
    for (let x = 0; x < cols; x++) {
      const u = (x + 0.5) / cols * 2 - 1
      let hu: number
      if (u * u + v * v > 1) {
        hu = HU_OUTSIDE_FOV
      } else {
        const body = ell(u, v, 0, 0.02, 0.8 - 0.04 * abdomen, 0.56 + 0.03 * abdomen)
        if (body > 1) {
          // The couch under the patient: a curved board.
          const couch = v - (0.74 + 0.08 * u * u)
          hu = couch > 0 && couch < 0.035 && Math.abs(u) < 0.85 ? 250 : HU_AIR
        } else if (body > 0.84) {
          hu = -100 // subcutaneous fat
        } else {
          hu = 40 // soft tissue
          // Ribs: a dashed bony ring just inside the fat.
          const rib = ell(u, v, 0, 0.02, 0.7, 0.48)
          if (rib > 0.86 && rib < 1 && abdomen < 0.9) {
            const ang = Math.atan2(v, u)
            if (Math.sin(ang * 11 + ribPhase) > 0.2) hu = 650
          }
          if (lung > 0.05) {
            if (ell(u, v, -0.34, -0.02, 0.26 * lung + 0.04, 0.36 * lung + 0.04) <= 1) hu = -850
            if (ell(u, v, 0.36, -0.02, 0.25 * lung + 0.04, 0.35 * lung + 0.04) <= 1) hu = -850
            // Vessels: small dots scattered through the lungs, moving from slice to slice.
            if (hu === -850 && Math.sin(u * 41 + t * 23 + 3 * Math.sin(v * 7.3)) * Math.sin(v * 37 - t * 17 + 3 * Math.sin(u * 5.1)) > 0.985) hu = 30
            if (ell(u, v, 0.06, 0.02, 0.17 * lung, 0.15 * lung) <= 1) hu = 45 // heart
          }
          if (abdomen > 0) {
            // Liver on the patient's right, which is the image's left.
            if (ell(u, v, -0.3, 0.0, 0.33 * abdomen, 0.3 * abdomen) <= 1) hu = 62
            if (ell(u, v, -0.3, 0.28, 0.09 * abdomen, 0.12 * abdomen) <= 1) hu = 32 // kidneys
            if (ell(u, v, 0.3, 0.28, 0.09 * abdomen, 0.12 * abdomen) <= 1) hu = 32
            if (ell(u, v, 0.28, -0.12, 0.16 * abdomen, 0.12 * abdomen) <= 1) hu = -200 // gas in the bowel
          }
          if (ell(u, v, 0.02, 0.22, 0.045, 0.045) <= 1) hu = 150 // aorta (with contrast)
          const spine = ell(u, v, 0, 0.38, 0.1, 0.09)
          if (spine <= 1) hu = spine > 0.6 ? 800 : 280 // cortical rim, cancellous centre
          if (ell(u, v, 0, 0.52, 0.04, 0.035) <= 1) hu = 15 // spinal canal
        }
        hu += noise(rng, 6)
      }
      out[y * cols + x] = Math.round(hu) + 1024
    }
  }
  return littleEndianBytes(out)
}

export type MrWeighting = 'T1' | 'T2' | 'FLAIR'

/**
 * One axial MR head slice, unsigned 12-bit, `t` from skull base (0) to vertex (1). Tissue
 * contrast follows the weighting: CSF dark on T1 and FLAIR, bright on T2.
 */
export function mrSlice(rows: number, cols: number, t: number, weighting: MrWeighting, rng: Prng): Uint8Array {
  const out = new Uint16Array(rows * cols)
  const size = Math.sqrt(Math.max(0.05, 1 - (2 * t - 1) * (2 * t - 1) * 0.75))
  const vent = Math.max(0, 1 - Math.abs(t - 0.55) / 0.25)
  const sig = {
    T1: { fat: 1800, bone: 60, csf: 250, gray: 900, white: 1200 },
    T2: { fat: 1200, bone: 60, csf: 2600, gray: 1300, white: 900 },
    FLAIR: { fat: 1000, bone: 50, csf: 150, gray: 1300, white: 1000 },
  }[weighting]
  for (let y = 0; y < rows; y++) {
    const v = (y + 0.5) / rows * 2 - 1
    for (let x = 0; x < cols; x++) {
      const u = (x + 0.5) / cols * 2 - 1
      const head = ell(u, v, 0, 0.02, 0.7 * size, 0.86 * size)
      let s: number
      if (head > 1) s = Math.abs(noise(rng, 25)) // background: Rician-like noise
      else {
        if (head > 0.87) s = sig.fat // scalp
        else if (head > 0.74) s = sig.bone // skull
        else if (head > 0.68) s = sig.csf
        else if (head > 0.38) s = sig.gray
        else s = sig.white
        if (vent > 0) {
          if (ell(u, v, -0.09, -0.05, 0.06 * vent, 0.25 * vent) <= 1) s = sig.csf
          if (ell(u, v, 0.09, -0.05, 0.06 * vent, 0.25 * vent) <= 1) s = sig.csf
        }
        // Gentle coil shading: brighter near the surface, as with a head array coil.
        s *= 0.85 + 0.25 * Math.min(1, head)
        s += noise(rng, 20)
      }
      out[y * cols + x] = Math.max(0, Math.min(4095, Math.round(s)))
    }
  }
  return littleEndianBytes(out)
}

/**
 * One endoscope frame, interleaved RGB 8-bit: a black screen with text-like blocks burned in
 * on the left, as video processors print patient and scope details (no real text here), and
 * an octagonal field of pink mucosa with folds, a dark lumen and specular highlights.
 */
export function esFrame(rows: number, cols: number, rng: Prng): Uint8Array {
  const out = new Uint8Array(rows * cols * 3)
  // The burned-in "text": a few lines of character-sized blocks.
  const panel = Math.floor(cols * 0.27)
  const charW = Math.max(2, Math.round(cols / 110))
  const charH = Math.max(3, Math.round(rows / 40))
  const lineStarts = [0.06, 0.11, 0.16, 0.21, 0.26, 0.78, 0.83, 0.88].map((f) => Math.floor(f * rows))
  for (const y0 of lineStarts) {
    let x = Math.floor(cols * 0.02)
    const end = Math.min(panel - charW, x + rng.int(6, 18) * (charW + 2))
    while (x < end) {
      if (rng.chance(0.85)) {
        for (let y = y0; y < Math.min(rows, y0 + charH); y++) {
          for (let xx = x; xx < x + charW; xx++) {
            const o = (y * cols + xx) * 3
            out[o] = out[o + 1] = out[o + 2] = 235
          }
        }
      }
      x += charW + 2
    }
  }
  // The endoscopic field: an octagon right of the panel.
  const cx = panel + (cols - panel) / 2
  const cy = rows / 2
  const hw = (cols - panel) * 0.47
  const hh = rows * 0.47
  const cut = 0.3 // corner cut, as a fraction of the half-size
  const lumenU = rng.next() * 0.8 - 0.4
  const lumenV = rng.next() * 0.8 - 0.4
  const foldPhase = rng.next() * Math.PI * 2
  const foldFreq = 10 + rng.next() * 8
  // Specular highlights as (u, v, r²) triples in a flat array: checked for every pixel.
  const nh = rng.int(3, 8)
  const highlights = new Float64Array(nh * 3)
  for (let i = 0; i < nh; i++) {
    highlights[i * 3] = rng.next() * 1.6 - 0.8
    highlights[i * 3 + 1] = rng.next() * 1.6 - 0.8
    highlights[i * 3 + 2] = (0.01 + rng.next() * 0.03) ** 2
  }
  const tint = rng.next() * 30
  for (let y = 0; y < rows; y++) {
    const v = (y - cy) / hh
    if (Math.abs(v) > 1) continue
    for (let x = panel; x < cols; x++) {
      const u = (x - cx) / hw
      if (Math.abs(u) > 1 || Math.abs(u) + Math.abs(v) > 2 - cut * 2) continue
      const du = u - lumenU
      const dv = v - lumenV
      const r = Math.sqrt(du * du + dv * dv)
      // sin(3θ) from sin θ = dv/r, without atan2: folds wrap around the lumen in three lobes.
      const sn = r > 0 ? dv / r : 0
      const sin3 = 3 * sn - 4 * sn * sn * sn
      // Light falls off with distance from the tip: the lumen is dark, the near wall bright.
      const light = Math.min(1, r * 1.6) * (1 - 0.35 * Math.min(1, Math.sqrt(u * u + v * v) / 1.3))
      const fold = 0.78 + 0.22 * Math.sin(r * foldFreq + sin3 * 0.8 + foldPhase)
      let red = (205 + tint) * light * fold
      let green = (95 + tint * 0.5) * light * fold
      let blue = (85 + tint * 0.3) * light * fold
      for (let h = 0; h < highlights.length; h += 3) {
        const hu = u - highlights[h]
        const hv = v - highlights[h + 1]
        if (hu * hu + hv * hv < highlights[h + 2]) red = green = blue = 250
      }
      const n = noise(rng, 3)
      const o = (y * cols + x) * 3
      out[o] = clamp8(red + n)
      out[o + 1] = clamp8(green + n)
      out[o + 2] = clamp8(blue + n)
    }
  }
  return out
}

function clamp8(x: number): number {
  return x < 0 ? 0 : x > 255 ? 255 : Math.round(x)
}

/**
 * Baseline JPEG (ISO 10918-1 process 1) from interleaved RGB, for the encapsulated endoscopy
 * images: 4:2:0 chroma like the processors, so the DICOM photometric is YBR_FULL_422.
 */
export async function encodeBaselineJpeg(rgb: Uint8Array, rows: number, cols: number, quality = 90): Promise<Uint8Array> {
  const { default: sharp } = await import('sharp')
  const buf = await sharp(rgb, { raw: { width: cols, height: rows, channels: 3 } })
    .jpeg({ quality, progressive: false, chromaSubsampling: '4:2:0', mozjpeg: false, optimiseScans: false, trellisQuantisation: false, overshootDeringing: false })
    .toBuffer()
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}
