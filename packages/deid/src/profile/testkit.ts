/** @module Test helpers for the Table E.1-1 tests: the shared table's path and a concrete tag per row. */

export const SHARED = '/work/shared/data/dicom-standard/confidentiality_profile_attributes.with_keyword_vr.json'

// A concrete tag for each row; pattern rows get one representative member.
export function concreteTag(tagText: string): number {
  const m = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/.exec(tagText)
  if (m) return parseInt(m[1]! + m[2]!, 16) >>> 0
  const patterns: Record<string, number> = {
    '(50XX,XXXX)': 0x50020010,
    '(60XX,3000)': 0x60023000,
    '(60XX,4000)': 0x60024000,
    '(GGGG,EEEE) WHERE GGGG IS ODD': 0x00091010,
  }
  const t = patterns[tagText]
  if (t === undefined) throw new Error(`test needs a concrete tag for pattern ${tagText}`)
  return t
}

