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
  const keys = Object.keys(obj).sort()
  let s = '{'
  let first = true
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    const v = obj[k]
    if (v === undefined) continue
    if (!first) s += ','
    first = false
    s += `${JSON.stringify(k)}:${canonicalJson(v)}`
  }
  return `${s}}`
}

/** Lowercase hex SHA-256 of the canonical JSON text. */
export function recordKey(canonical: string): string {
  return hash('sha256', canonical, 'hex')
}
