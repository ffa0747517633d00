/**
 * @module The record key of a de-identified record (docs/upload-protocol.md): lowercase hex SHA-256 of its
 * canonical JSON (keys sorted at every level, no whitespace, `undefined` members omitted). The canonical form is
 * @kura/core's, the one the hub recomputes on receipt, so the two sides can never disagree about a key.
 */
import { createHash } from 'node:crypto'
import { canonicalJson } from '@kura/core'

export { canonicalJson }

/** Lowercase hex SHA-256 of the canonical JSON text. */
export function recordKey(canonical: string): string {
  return createHash('sha256').update(canonical, 'utf8').digest('hex')
}
