/** @module The PS3.15 E.3 Confidentiality Profile Options as a typed union, with their PS3.16 CID 7050 codes. */
import { DeidErrors } from '../errors.ts'

/**
 * Options of the Basic Application Level Confidentiality Profile (PS3.15 E.3.1-E.3.11).
 * cleanPixelData and cleanRecognizableVisualFeatures have no column in Table E.1-1: they act on
 * pixel data and burned-in annotation (E.3.1, E.3.2), not on attribute actions.
 */
export const OPTIONS = [
  'retainSafePrivate',
  'retainUids',
  'retainDeviceIdentity',
  'retainInstitutionIdentity',
  'retainPatientCharacteristics',
  'retainLongitudinalFullDates',
  'retainLongitudinalModifiedDates',
  'cleanDescriptors',
  'cleanStructuredContent',
  'cleanGraphics',
  'cleanPixelData',
  'cleanRecognizableVisualFeatures',
] as const

export type Option = (typeof OPTIONS)[number]

/** A coded concept for De-identification Method Code Sequence (0012,0064), PS3.15 E.1.1 and PS3.16 CID 7050. */
export interface MethodCode {
  readonly codeValue: string
  readonly codingSchemeDesignator: 'DCM'
  readonly codeMeaning: string
}

const dcm = (codeValue: string, codeMeaning: string): MethodCode => ({ codeValue, codingSchemeDesignator: 'DCM', codeMeaning })

/** Always recorded: the Basic Profile itself (PS3.16 CID 7050, DCM 113100). */
export const BASIC_PROFILE_CODE: MethodCode = dcm('113100', 'Basic Application Confidentiality Profile')

/** PS3.16 CID 7050 "De-identification Method" codes for each option (DCM 113101-113112). */
export const OPTION_CODES: Readonly<Record<Option, MethodCode>> = {
  cleanPixelData: dcm('113101', 'Clean Pixel Data Option'),
  cleanRecognizableVisualFeatures: dcm('113102', 'Clean Recognizable Visual Features Option'),
  cleanGraphics: dcm('113103', 'Clean Graphics Option'),
  cleanStructuredContent: dcm('113104', 'Clean Structured Content Option'),
  cleanDescriptors: dcm('113105', 'Clean Descriptors Option'),
  retainLongitudinalFullDates: dcm('113106', 'Retain Longitudinal Temporal Information Full Dates Option'),
  retainLongitudinalModifiedDates: dcm('113107', 'Retain Longitudinal Temporal Information Modified Dates Option'),
  retainPatientCharacteristics: dcm('113108', 'Retain Patient Characteristics Option'),
  retainDeviceIdentity: dcm('113109', 'Retain Device Identity Option'),
  retainUids: dcm('113110', 'Retain UIDs Option'),
  retainSafePrivate: dcm('113111', 'Retain Safe Private Option'),
  retainInstitutionIdentity: dcm('113112', 'Retain Institution Identity Option'),
}

export function isOption(name: string): name is Option {
  return (OPTIONS as readonly string[]).includes(name)
}

/** Validates option names from config or a request; throws DEID_UNKNOWN_OPTION on the first unknown one. */
export function parseOptions(names: Iterable<string>): ReadonlySet<Option> {
  const out = new Set<Option>()
  for (const n of names) {
    if (!isOption(n)) throw DeidErrors.unknownOption(n, OPTIONS)
    out.add(n)
  }
  return out
}

/** The codes for De-identification Method Code Sequence: the Basic Profile, then each selected option in CID order. */
export function methodCodes(options: ReadonlySet<Option>): MethodCode[] {
  const selected = Object.entries(OPTION_CODES)
    .filter(([name]) => options.has(name as Option))
    .map(([, code]) => code)
    .sort((a, b) => a.codeValue.localeCompare(b.codeValue))
  return [BASIC_PROFILE_CODE, ...selected]
}
