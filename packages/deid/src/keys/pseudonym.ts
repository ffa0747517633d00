/** @module Keyed, deterministic pseudonyms (PS3.15 E.3.6 / E.3.9 style replacement): patient IDs, names, UIDs and per-subject date shifts. */
import { hash } from 'node:crypto'
import { KeyErrors } from './errors.ts'
import { MIN_SECRET_BYTES } from './secret.ts'

/** Crockford base32: no I, L, O, U, so a pseudonym read aloud or retyped is unambiguous. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** Crockford base32 without padding, most significant bit first; the last digit carries the leftover bits. */
export function base32Crockford(bytes: Uint8Array): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | bytes[i]!) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += CROCKFORD[(acc >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += CROCKFORD[(acc << (5 - bits)) & 31]
  return out
}

export interface DateShiftRange {
  /** Smallest offset in days, inclusive. */
  readonly min: number
  /** Largest offset in days, inclusive. */
  readonly max: number
}

/** Default: up to a year into the past, never zero, so no shifted date equals the real one (PS3.15 E.3.6 "modified dates"). */
export const DEFAULT_DATE_SHIFT: DateShiftRange = { min: -365, max: -1 }

export interface Pseudonymizer {
  /** `K` + 16 Crockford base32 digits (80 bits) = 17 characters, fits LO (64). */
  patientId(original: string): string
  /** patientId(original), not kept in the memo: for a value used once (a record's ID), which would push out those that recur. */
  patientIdOnce(original: string): string
  /** `ANON^` + 13 Crockford base32 digits (64 bits): a valid PN whose family name says it is a pseudonym. */
  personName(original: string): string
  /** `2.25.` + the decimal of a v8 UUID built from the HMAC (PS3.5 B.2), at most 44 characters. */
  uid(original: string): string
  /** The subject's whole-day offset within the configured range, never 0. Pass the original PatientID. */
  dateShiftDays(subjectKey: string): number
}

export interface PseudonymOptions {
  readonly dateShift?: DateShiftRange
}

type Purpose = 'patient-id' | 'person-name' | 'uid' | 'date-shift'

const MEMO_MAX = 1 << 14
const CACHE = new WeakMap<Uint8Array, Array<{ copy: Buffer; collection: string; min: number; max: number; p: Pseudonymizer }>>()

// Insignificant padding must not split one patient into two pseudonyms: LO/PN/UI values may carry trailing
// spaces (PS3.5 6.2) and UI a trailing NUL; PN trailing empty components are insignificant too (PS3.5 6.2.1).
function normText(s: string): string {
  // Most values have no padding: returned as they are, without running the pattern.
  if (typeof s !== 'string') return (s as string).replace(/^[ \0]+|[ \0]+$/g, '')
  const a = s.charCodeAt(0)
  const z = s.charCodeAt(s.length - 1)
  if (a !== 0x20 && a !== 0 && z !== 0x20 && z !== 0) return s
  return s.replace(/^[ \0]+|[ \0]+$/g, '')
}
const normName = (s: string): string => normText(s).replace(/[\^=]+$/, '')

// SHA-256 (FIPS 180-4) in JavaScript, for HMAC only: a MAC of a short value is two or three compressions from the
// key's padded blocks, compressed once per pseudonymizer (the RFC 2104 precomputation), where node's one-shot
// hash() cost two native calls and two allocations of about 3 µs each (a record takes 2–3 new MACs: its ID, image
// UIDs). pseudonym.test.ts compares every output with createHmac.
const K256 = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
const SHA256_IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])
/** The message schedule, shared (all calls are synchronous). */
const W = new Int32Array(64)

/** Compresses the 64-byte block of `b` at `at` into `state` (8 words). */
function compress(state: Int32Array, b: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++, at += 4) W[i] = (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!
    const y = W[i - 2]!
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  let a = state[0]!, c1 = state[1]!, c2 = state[2]!, d = state[3]!, e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K256[i]! + W[i]!) | 0
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (S0 + ((a & c1) ^ (a & c2) ^ (c1 & c2))) | 0
    h = g; g = f; f = e; e = (d + t1) | 0
    d = c2; c2 = c1; c1 = a; a = (t1 + t2) | 0
  }
  state[0] = (state[0]! + a) | 0; state[1] = (state[1]! + c1) | 0; state[2] = (state[2]! + c2) | 0; state[3] = (state[3]! + d) | 0
  state[4] = (state[4]! + e) | 0; state[5] = (state[5]! + f) | 0; state[6] = (state[6]! + g) | 0; state[7] = (state[7]! + h) | 0
}

/** The state after the one block `block` (a padded HMAC key), from SHA-256's initial value. */
function stateAfter(block: Uint8Array): Int32Array {
  const state = Int32Array.from(SHA256_IV)
  compress(state, block, 0)
  return state
}

/**
 * Finishes a hash whose state `state` has taken `before` bytes (whole blocks), over `b[0, n)`: pads `b` in place
 * (it must have 72 bytes to spare after `n`) and compresses its blocks into `state`.
 */
function finish(state: Int32Array, before: number, b: Uint8Array, n: number): void {
  const bits = (before + n) * 8
  let end = n + 1
  b[n] = 0x80
  while (end % 64 !== 56) b[end++] = 0
  // Bit length, big-endian in 8 bytes: messages here are far below 2^32 bits.
  b[end++] = 0; b[end++] = 0; b[end++] = 0; b[end++] = 0
  b[end++] = bits >>> 24; b[end++] = (bits >>> 16) & 0xff; b[end++] = (bits >>> 8) & 0xff; b[end++] = bits & 0xff
  for (let at = 0; at < end; at += 64) compress(state, b, at)
}

function writeState(state: Int32Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++, at += 4) {
    const x = state[i]!
    out[at] = x >>> 24; out[at + 1] = (x >>> 16) & 0xff; out[at + 2] = (x >>> 8) & 0xff; out[at + 3] = x & 0xff
  }
}

/** Bytes of a message to MAC (less the key block): grown on demand, shared by every pseudonymizer of this thread. */
let scratch = Buffer.alloc(1024)
const innerState = new Int32Array(8)
const outerState = new Int32Array(8)
const outerBlock = new Uint8Array(128)

/**
 * HMAC-SHA256(key, `kura/v1/<purpose>/<collection>/` + value), RFC 2104 spelled out: H((K ^ opad) || H((K ^ ipad) ||
 * m)), with the states after the two padded key blocks computed once (the same bytes as createHmac: pseudonym.test.ts
 * compares them on many inputs, lone surrogates included). Each call returns a new 32-byte buffer.
 */
function keyedMac(key: Buffer, collection: string): (purpose: Purpose, value: string) => Buffer {
  const BLOCK = 64
  // Keys longer than the block are hashed first (RFC 2104 section 2); shorter ones are zero-padded.
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key
  const ipad = Buffer.alloc(BLOCK, 0x36)
  const opad = Buffer.alloc(BLOCK, 0x5c)
  for (let i = 0; i < k.length; i++) { ipad[i]! ^= k[i]!; opad[i]! ^= k[i]! }
  const inner = stateAfter(ipad)
  const outer = stateAfter(opad)
  const prefixes = new Map<Purpose, Buffer>()
  for (const purpose of ['patient-id', 'person-name', 'uid', 'date-shift'] as const) prefixes.set(purpose, Buffer.from(`kura/v1/${purpose}/${collection}/`, 'utf8'))
  return (purpose, value) => {
    const prefix = prefixes.get(purpose)!
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units), and padding up to 72.
    const need = prefix.length + value.length * 3 + 72
    if (scratch.length < need) scratch = Buffer.alloc(Math.max(need, scratch.length * 2))
    prefix.copy(scratch, 0)
    let n = prefix.length
    // ASCII (IDs, UIDs: almost every value) is copied unit by unit; anything else is encoded by Buffer.write.
    let ascii = true
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      if (c >= 0x80) { ascii = false; break }
      scratch[n + i] = c
    }
    n = ascii ? n + value.length : n + scratch.write(value, n, 'utf8')
    innerState.set(inner)
    finish(innerState, BLOCK, scratch, n)
    writeState(innerState, outerBlock, 0)
    outerState.set(outer)
    finish(outerState, BLOCK, outerBlock, 32)
    const out = Buffer.allocUnsafe(32)
    writeState(outerState, out, 0)
    return out
  }
}

/**
 * Keyed pseudonyms for one collection. Every value is HMAC-SHA256(secret, `kura/v1/<purpose>/<collection>/` + value):
 * the purpose separates domains (a patient ID's pseudonym never equals its name's or UID's), the collection keeps
 * two collections from being linked by pseudonym, and the secret never leaves the site, so only the site can
 * re-identify. Same secret + collection + value always gives the same output, across runs and gateways.
 */
export function pseudonymizer(secret: Uint8Array, collection: string, opts: PseudonymOptions = {}): Pseudonymizer {
  if (secret.length < MIN_SECRET_BYTES) throw KeyErrors.secretTooShort(secret.length)
  if (collection.length === 0 || collection.includes('/')) throw KeyErrors.badCollection(collection)
  const { min, max } = opts.dateShift ?? DEFAULT_DATE_SHIFT
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max || (min === 0 && max === 0)) throw KeyErrors.badRange(min, max)
  // One pseudonymizer per secret (by content) + collection + range, reused across objects with its memo.
  const cached = CACHE.get(secret)?.find((c) => c.collection === collection && c.min === min && c.max === max && c.copy.equals(secret))
  if (cached) return cached.p
  const copy = Buffer.from(secret)
  const mac = keyedMac(copy, collection)
  // Memo of outputs per purpose (originals repeat across the objects of a study); bounded, all cleared when full.
  // One map per purpose, looked up before any closure or key string is made: most calls are hits.
  const ids = new Map<string, string>()
  const names = new Map<string, string>()
  const uids = new Map<string, string>()
  const shifts = new Map<string, number>()
  let memoSize = 0
  const remember = <V extends string | number>(memo: Map<string, V>, original: string, v: V): V => {
    if (memoSize >= MEMO_MAX) { ids.clear(); names.clear(); uids.clear(); shifts.clear(); memoSize = 0 }
    memo.set(original, v)
    memoSize++
    return v
  }
  // Non-zero days in [min, max]: the count of candidates, and the index→day map that skips 0.
  const zeroInside = min <= 0 && max >= 0
  const choices = max - min + 1 - (zeroInside ? 1 : 0)

  const p: Pseudonymizer = {
    patientId: (original) => ids.get(original) ?? remember(ids, original, `K${base32Crockford(mac('patient-id', normText(original)).subarray(0, 10))}`),
    patientIdOnce: (original) => `K${base32Crockford(mac('patient-id', normText(original)).subarray(0, 10))}`,
    personName: (original) => names.get(original) ?? remember(names, original, `ANON^${base32Crockford(mac('person-name', normName(original)).subarray(0, 8))}`),
    uid: (original) => {
      const hit = uids.get(original)
      if (hit !== undefined) return hit
      const b = mac('uid', normText(original)).subarray(0, 16)
      // RFC 9562 5.8 UUIDv8: version nibble 8, variant bits 10; 122 keyed bits remain, ample for one collection.
      b[6] = (b[6]! & 0x0f) | 0x80
      b[8] = (b[8]! & 0x3f) | 0x80
      // The 128 bits as one unsigned integer, read as two big-endian halves (no hex string to parse).
      return remember(uids, original, `2.25.${((b.readBigUInt64BE(0) << 64n) | b.readBigUInt64BE(8)).toString(10)}`)
    },
    dateShiftDays: (subjectKey) => {
      const hit = shifts.get(subjectKey)
      if (hit !== undefined) return hit
      // 64 bits modulo a range of at most a few thousand days: the bias is below 2^-50, immaterial here.
      const n = Number(mac('date-shift', normText(subjectKey)).readBigUInt64BE(0) % BigInt(choices))
      const day = min + n
      return remember(shifts, subjectKey, zeroInside && day >= 0 ? day + 1 : day)
    },
  }
  const list = CACHE.get(secret) ?? []
  if (list.length >= 8) list.shift()
  list.push({ copy, collection, min, max, p })
  CACHE.set(secret, list)
  return p
}
