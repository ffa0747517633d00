/** @module Keyed, deterministic pseudonyms (PS3.15 E.3.6 / E.3.9 style replacement): patient IDs, names, UIDs and per-subject date shifts. */
import { createHmac } from 'node:crypto'
import { KeyErrors } from './errors.ts'
import { MIN_SECRET_BYTES } from './secret.ts'

/** Crockford base32: no I, L, O, U, so a pseudonym read aloud or retyped is unambiguous. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** Crockford base32 without padding, most significant bit first; the last digit carries the leftover bits. */
export function base32Crockford(bytes: Uint8Array): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff
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
const normText = (s: string): string => s.replace(/^[ \0]+|[ \0]+$/g, '')
const normName = (s: string): string => normText(s).replace(/[\^=]+$/, '')

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
  // The key as bytes, not a KeyObject: createHmac takes either and gives the same MAC, and a KeyObject costs ~2 µs
  // more per MAC (one per new UID, i.e. at least one per object). `copy` is held here either way.
  const mac = (purpose: Purpose, value: string): Buffer =>
    createHmac('sha256', copy).update(`kura/v1/${purpose}/${collection}/`, 'utf8').update(value, 'utf8').digest()
  // Memo of outputs per purpose (originals repeat across the objects of a study); bounded, cleared when full.
  const memo = new Map<string, string | number>()
  const memoized = <V extends string | number>(purpose: Purpose, value: string, f: () => V): V => {
    const k = `${purpose}/${value}`
    const hit = memo.get(k)
    if (hit !== undefined) return hit as V
    const v = f()
    if (memo.size >= MEMO_MAX) memo.clear()
    memo.set(k, v)
    return v
  }
  // Non-zero days in [min, max]: the count of candidates, and the index→day map that skips 0.
  const zeroInside = min <= 0 && max >= 0
  const choices = max - min + 1 - (zeroInside ? 1 : 0)

  const p: Pseudonymizer = {
    patientId: (original) => memoized('patient-id', original, () => `K${base32Crockford(mac('patient-id', normText(original)).subarray(0, 10))}`),
    personName: (original) => memoized('person-name', original, () => `ANON^${base32Crockford(mac('person-name', normName(original)).subarray(0, 8))}`),
    uid: (original) => memoized('uid', original, () => {
      const b = mac('uid', normText(original)).subarray(0, 16)
      // RFC 9562 5.8 UUIDv8: version nibble 8, variant bits 10; 122 keyed bits remain, ample for one collection.
      b[6] = (b[6]! & 0x0f) | 0x80
      b[8] = (b[8]! & 0x3f) | 0x80
      return `2.25.${BigInt(`0x${b.toString('hex')}`).toString(10)}`
    }),
    dateShiftDays: (subjectKey) => memoized('date-shift', subjectKey, () => {
      // 64 bits modulo a range of at most a few thousand days: the bias is below 2^-50, immaterial here.
      const n = Number(mac('date-shift', normText(subjectKey)).readBigUInt64BE(0) % BigInt(choices))
      const day = min + n
      return zeroInside && day >= 0 ? day + 1 : day
    }),
  }
  const list = CACHE.get(secret) ?? []
  if (list.length >= 8) list.shift()
  list.push({ copy, collection, min, max, p })
  CACHE.set(secret, list)
  return p
}
