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

/** Bytes of a message to MAC: grown on demand, shared by every pseudonymizer of this thread (all calls are synchronous). */
let scratch = Buffer.alloc(1024)

/**
 * HMAC-SHA256(key, `kura/v1/<purpose>/<collection>/` + value), RFC 2104 spelled out: H((K ^ opad) || H((K ^ ipad) ||
 * m)). The same bytes as createHmac (pseudonym.test.ts compares them on many inputs, lone surrogates included), but
 * the padded key and each purpose's prefix are laid out once, so a MAC is two one-shot hashes of a reused buffer
 * instead of an HMAC context built per value (about half the time per new value: record IDs and image UIDs).
 */
function keyedMac(key: Buffer, collection: string): (purpose: Purpose, value: string) => Buffer {
  const BLOCK = 64
  // Keys longer than the block are hashed first (RFC 2104 section 2); shorter ones are zero-padded.
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key
  const ipad = Buffer.alloc(BLOCK, 0x36)
  const outer = Buffer.alloc(BLOCK + 32, 0x5c)
  for (let i = 0; i < k.length; i++) { ipad[i]! ^= k[i]!; outer[i]! ^= k[i]! }
  const prefixes = new Map<Purpose, Buffer>()
  for (const purpose of ['patient-id', 'person-name', 'uid', 'date-shift'] as const) {
    prefixes.set(purpose, Buffer.concat([ipad, Buffer.from(`kura/v1/${purpose}/${collection}/`, 'utf8')]))
  }
  return (purpose, value) => {
    const prefix = prefixes.get(purpose)!
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units).
    const need = prefix.length + value.length * 3
    if (scratch.length < need) scratch = Buffer.alloc(Math.max(need, scratch.length * 2))
    prefix.copy(scratch, 0)
    const n = prefix.length + scratch.write(value, prefix.length, 'utf8')
    hash('sha256', scratch.subarray(0, n), 'buffer').copy(outer, BLOCK)
    return hash('sha256', outer, 'buffer')
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
