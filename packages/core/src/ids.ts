/**
 * @module Ids: identifiers generated in TypeScript so both catalog engines accept them.
 */
import { randomBytes } from 'node:crypto'

/**
 * A time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds, then random bits.
 * Rows inserted together get neighbouring keys, so catalog indexes append instead of touching
 * random pages (profiling pointed at random index pages as the largest SQLite write cost;
 * at 2,000 rows the measured gain was within noise: 3,184 → 3,232 stores/s).
 */
export function newId(): string {
  const b = randomBytes(16)
  const ms = Date.now()
  b[0] = Math.floor(ms / 2 ** 40) & 0xff
  b[1] = Math.floor(ms / 2 ** 32) & 0xff
  b[2] = (ms >>> 24) & 0xff
  b[3] = (ms >>> 16) & 0xff
  b[4] = (ms >>> 8) & 0xff
  b[5] = ms & 0xff
  b[6] = (b[6]! & 0x0f) | 0x70 // version 7
  b[8] = (b[8]! & 0x3f) | 0x80 // RFC 9562 variant
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** A DICOM UID under the UUID-derived root 2.25 (PS3.5 B.2), at most 64 characters. */
export function newDicomUid(): string {
  const hex = randomBytes(16).toString('hex')
  return '2.25.' + BigInt('0x' + hex).toString(10)
}
