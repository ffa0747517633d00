/**
 * @module Value representation facts from PS3.5 6.2 and 7.1.2: which VRs exist, their length field size,
 * which hold text, numbers or binary data, and how they are padded.
 */
import type { Vr } from './types.ts'

export const ALL_VRS: readonly Vr[] = [
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV',
  'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]

/** VR by its two ASCII bytes, indexed (b0 - 0x41) * 26 + (b1 - 0x41); undefined for anything else. */
const VR_TABLE: (Vr | undefined)[] = new Array(26 * 26).fill(undefined)
for (const vr of ALL_VRS) VR_TABLE[(vr.charCodeAt(0) - 0x41) * 26 + (vr.charCodeAt(1) - 0x41)] = vr

/** The VR spelled by two bytes, or undefined when they are not a VR (used to detect implicit VR data). */
export function vrFromBytes(b0: number, b1: number): Vr | undefined {
  const i = b0 - 0x41
  const j = b1 - 0x41
  if (i < 0 || i > 25 || j < 0 || j > 25) return undefined
  return VR_TABLE[i * 26 + j]
}

/** Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1). */
export const LONG_LENGTH_VRS: ReadonlySet<Vr> = new Set<Vr>(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'])

/** Binary VRs whose values may be left in the source as bulk data. */
export const BULK_VRS: ReadonlySet<Vr> = new Set<Vr>(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN'])

/** Text VRs decoded with Specific Character Set (PS3.5 6.1.2.3); the rest of the string VRs are ASCII. */
export const CHARSET_VRS: ReadonlySet<Vr> = new Set<Vr>(['SH', 'LO', 'ST', 'LT', 'PN', 'UC', 'UT'])

/** String VRs (everything rendered as text in DICOM JSON except PN). */
export const STRING_VRS: ReadonlySet<Vr> = new Set<Vr>([
  'AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT',
])

/** VRs with a single value that may contain backslashes (PS3.5 6.2: VM is always 1). */
export const SINGLE_VALUE_VRS: ReadonlySet<Vr> = new Set<Vr>(['LT', 'ST', 'UT', 'UR'])

/** Leading spaces are significant only for these text VRs (PS3.5 Table 6.2-1); trailing never are. */
export const KEEP_LEADING_SPACE_VRS: ReadonlySet<Vr> = new Set<Vr>(['LT', 'ST', 'UT', 'UC', 'PN', 'DT', 'UR'])

/** Fixed-size binary numbers: byte width per value. */
export const NUMBER_WIDTH: Readonly<Partial<Record<Vr, number>>> = {
  US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8, AT: 4, OW: 2, OF: 4, OD: 8, OL: 4, OV: 8,
}
