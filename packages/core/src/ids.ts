/**
 * @module Ids: identifiers generated in TypeScript so both catalog engines accept them.
 */
import { randomBytes, randomUUID } from 'node:crypto'

export function newId(): string {
  return randomUUID()
}

/** A DICOM UID under the UUID-derived root 2.25 (PS3.5 B.2), at most 64 characters. */
export function newDicomUid(): string {
  const hex = randomBytes(16).toString('hex')
  return '2.25.' + BigInt('0x' + hex).toString(10)
}
