/**
 * @module The record key of a de-identified record (docs/upload-protocol.md): lowercase hex SHA-256 of its
 * canonical JSON (keys sorted at every level, no whitespace, `undefined` members omitted). The canonical form is
 * @kura/core's, the one the hub recomputes on receipt, so the two sides can never disagree about a key; this is
 * the same function written for the record stage's hot path (one string built in place, no per-level arrays),
 * and canonical-json.test.ts holds it to core's output for any JSON value.
 */
import { hash } from 'node:crypto'

/** JSON with object keys sorted at every depth: byte for byte @kura/core's canonicalJson. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null)
  if (Array.isArray(value)) {
    let s = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) s += ','
      s += canonicalJson(value[i])
    }
    return `${s}]`
  }
  const obj = value as Record<string, unknown>
  const keys = sortKeys(Object.keys(obj))
  let s = '{'
  let first = true
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    const v = obj[k]
    if (v === undefined) continue
    if (!first) s += ','
    first = false
    s += quotedKey(k)
    s += canonicalJson(v)
  }
  return `${s}}`
}

/**
 * `keys` sorted in place by UTF-16 code units, as Array#sort with no comparator sorts them (keys are distinct, so
 * the order is the same). A record's objects have a handful of keys: an insertion sort allocates nothing, where
 * Array#sort copies into work arrays per call (≈ 8 KB per record, the stage's largest single source of garbage).
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 24) return keys.sort()
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!
    let j = i - 1
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!
      j--
    }
    keys[j + 1] = k
  }
  return keys
}

/** `"key":` for each key seen: records reuse a few dozen keys, so each is quoted once, not once per object. */
const QUOTED = new Map<string, string>()
function quotedKey(k: string): string {
  let q = QUOTED.get(k)
  if (q === undefined) {
    q = `${JSON.stringify(k)}:`
    // Bounded: free-form keys (a vendor's extension map) stop being remembered, never being quoted right.
    if (QUOTED.size < 4096) QUOTED.set(k, q)
  }
  return q
}

/** Lowercase hex SHA-256 of the canonical JSON text. */
export function recordKey(canonical: string): string {
  return hash('sha256', canonical, 'hex')
}
