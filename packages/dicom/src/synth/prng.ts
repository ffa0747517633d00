/**
 * @module Seeded randomness and UIDs for the synthetic corpus: same seed, same bytes.
 *
 * Each study, patient and image draws from its own stream keyed by (seed, labels), so one
 * study can be regenerated without replaying the ones before it, and adding studies to a
 * corpus does not change the studies already in it.
 */
import { createHash } from 'node:crypto'

/** sfc32: small, fast, and well distributed enough for phantoms and fake demographics. */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0
    this.b = b | 0
    this.c = c | 0
    this.d = d | 0
    // Discard the first outputs: sfc32 mixes poorly right after seeding.
    for (let i = 0; i < 12; i++) this.nextU32()
  }

  /** A stream keyed by the seed and any labels, e.g. `Prng.for(seed, 'study', 3)`. */
  static for(seed: number, ...labels: Array<string | number>): Prng {
    const h = createHash('sha256').update(JSON.stringify([seed, ...labels])).digest()
    return new Prng(h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12))
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296
  }

  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  /** Approximately normal (sum of uniforms): cheap enough to call per pixel. */
  gauss(sigma = 1): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * sigma * 1.7320508
  }
}

/** A UID under 2.25 (PS3.5 B.2) derived from the seed and labels: stable across runs. */
export function synthUid(seed: number, ...labels: Array<string | number>): string {
  const h = createHash('sha256').update(JSON.stringify(['uid', seed, ...labels])).digest('hex')
  // 128 bits as the standard's UUID form allows; at most 39 digits, so 43 characters in all.
  return '2.25.' + BigInt('0x' + h.slice(0, 32)).toString(10)
}
