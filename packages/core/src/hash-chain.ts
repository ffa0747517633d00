/**
 * @module Hash chains: append-only logs whose every entry commits to the one before it.
 *
 * Each entry's hash is SHA-256 over the previous hash and the entry's canonical JSON (keys
 * sorted at every depth), so editing, removing or reordering any entry breaks every hash after
 * it. The hub's audit log and the gateway's local logs (re-identification lookups) use the same
 * rule, so one verifier reads both. Removing entries from the end is only detectable against a
 * copy of a later head hash (see `kura audit export`).
 */
import { sha256Hex } from './hashing.ts'

/** The `prev` of the first entry. */
export const CHAIN_GENESIS = '0'.repeat(64)

/** JSON with object keys sorted at every depth: one byte string per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
}

/** The hash of an entry that follows `prev`. */
export function chainHash(prev: string, entry: unknown): string {
  return sha256Hex(`${prev}\n${canonicalJson(entry)}`)
}

export interface ChainBreak {
  /** 0-based position of the first entry whose link or hash does not hold. */
  index: number
  reason: string
}

/**
 * Checks entries in order. `prevOf`/`hashOf` read an entry's stored links; `bodyOf` gives what
 * was hashed. Returns null when the chain holds.
 */
export function verifyChain<T>(entries: Iterable<T>, parts: { prevOf(e: T): string; hashOf(e: T): string; bodyOf(e: T): unknown }, start = CHAIN_GENESIS): ChainBreak | null {
  let prev = start
  let index = 0
  for (const e of entries) {
    if (parts.prevOf(e) !== prev) return { index, reason: 'its link to the previous entry does not match (an entry before it was removed, inserted or changed)' }
    const expect = chainHash(prev, parts.bodyOf(e))
    if (parts.hashOf(e) !== expect) return { index, reason: 'its content does not match its hash (it was edited)' }
    prev = expect
    index++
  }
  return null
}
