/**
 * @module Attribute types (PS3.5 7.4: 1, 1C, 2, 2C, 3) in the common IODs, for the attributes whose Table E.1-1 code
 * is compound (Z/D, X/Z, X/D, X/Z/D, X/Z/U*), so that resolveCode can pick the component the IOD allows.
 *
 * Source: DICOM PS3.3 (2024b) module attribute tables, for the modules each IOD includes (PS3.3 A.3 CT Image,
 * A.4 MR Image, A.6 Ultrasound Image, A.8 Secondary Capture Image, A.32.1 VL Endoscopic Image):
 *  - C.7.1.1 Patient: Patient ID (0010,0020) 2.
 *  - C.7.2.1 General Study: Referenced Study Sequence 3.
 *  - C.7.3.1 General Series: Series Date/Time, Protocol Name, Operators' Name, Operator Identification Sequence,
 *    Referenced Performed Procedure Step Sequence: 3.
 *  - C.7.5.1 General Equipment: Institution Name, Station Name, Device Serial Number: 3.
 *  - C.7.6.1 General Image: Content Date, Content Time 2C; Referenced Image Sequence, Source Image Sequence 3.
 *  - C.7.10.1 General Acquisition: Acquisition Date, Time, DateTime 3.
 *  - C.12.1 SOP Common: Instance Creation Date/Time 3.
 *  - C.7.6.4 Contrast/Bolus (CT, MR, US): Contrast/Bolus Agent 2.
 *  - C.8.12.1 VL Image (VL Endoscopic): Content Time 1C (required when images are temporally related).
 *  - C.7.6.14 Acquisition Context (VL Endoscopic, mandatory there): Acquisition Context Sequence 2.
 * Only attributes of the top-level dataset are covered: inside sequence items the governing macro differs by
 * sequence, so nested attributes keep the strictest reading. Attributes or IODs not listed here also do.
 * A conditional type (1C, 2C) counts as its unconditional one when the attribute is present: the sender
 * decided that the condition holds.
 */
import type { AttributeType } from './action.ts'

type TypeMap = ReadonlyMap<number, AttributeType>

const COMMON: ReadonlyArray<[number, AttributeType]> = [
  [0x00100020, '2'], // Patient ID
  [0x00081110, '3'], // Referenced Study Sequence
  [0x00080021, '3'], // Series Date
  [0x00080031, '3'], // Series Time
  [0x00181030, '3'], // Protocol Name
  [0x00081070, '3'], // Operators' Name
  [0x00081072, '3'], // Operator Identification Sequence
  [0x00081111, '3'], // Referenced Performed Procedure Step Sequence
  [0x00080080, '3'], // Institution Name
  [0x00081010, '3'], // Station Name
  [0x00181000, '3'], // Device Serial Number
  [0x00080023, '2C'], // Content Date
  [0x00080033, '2C'], // Content Time
  [0x00081140, '3'], // Referenced Image Sequence
  [0x00082112, '3'], // Source Image Sequence
  [0x00080022, '3'], // Acquisition Date
  [0x00080032, '3'], // Acquisition Time
  [0x0008002a, '3'], // Acquisition DateTime
  [0x00080012, '3'], // Instance Creation Date
  [0x00080013, '3'], // Instance Creation Time
]
const CONTRAST: ReadonlyArray<[number, AttributeType]> = [[0x00180010, '2']] // Contrast/Bolus Agent
const VL_ENDOSCOPIC: ReadonlyArray<[number, AttributeType]> = [
  [0x00080033, '1C'], // Content Time (VL Image module, stricter than General Image)
  [0x00400555, '2'], // Acquisition Context Sequence
]

const iod = (...parts: ReadonlyArray<ReadonlyArray<[number, AttributeType]>>): TypeMap => new Map(parts.flat())

/** SOP Class UID → attribute types for compound-code attributes at the top level of that IOD. */
export const IOD_TYPES: ReadonlyMap<string, TypeMap> = new Map([
  ['1.2.840.10008.5.1.4.1.1.2', iod(COMMON, CONTRAST)], // CT Image
  ['1.2.840.10008.5.1.4.1.1.4', iod(COMMON, CONTRAST)], // MR Image
  ['1.2.840.10008.5.1.4.1.1.6.1', iod(COMMON, CONTRAST)], // Ultrasound Image
  ['1.2.840.10008.5.1.4.1.1.3.1', iod(COMMON, CONTRAST)], // Ultrasound Multi-frame Image
  ['1.2.840.10008.5.1.4.1.1.7', iod(COMMON)], // Secondary Capture Image
  ['1.2.840.10008.5.1.4.1.1.77.1.1', iod(COMMON, VL_ENDOSCOPIC)], // VL Endoscopic Image
])

/** The attribute's type at the top level of the IOD named by `sopClassUid`, or undefined when not known. */
export function iodAttributeType(sopClassUid: string | undefined, tag: number): AttributeType | undefined {
  if (sopClassUid === undefined) return undefined
  return IOD_TYPES.get(sopClassUid.replace(/[\0 ]+$/, ''))?.get(tag >>> 0)
}
