/**
 * @module PS3.6 data dictionary: tag ↔ keyword ↔ VR/VM, repeating groups and private-tag rules.
 *
 * Used for implicit-VR parsing (PS3.5 7.1.3: the VR is not in the stream), QIDO keyword lookup
 * (`includefield=PatientName` or `00100010`) and DICOM JSON. The table is parsed lazily on first
 * use from the compact generated text in dictionary.data.ts.
 */
import { DICTIONARY_DATA } from './dictionary.data.ts'
import type { Tag, Vr } from './types.ts'

export interface DictionaryEntry {
  tag: Tag
  /** Resolved VR (ambiguous ones resolved to their usual choice, see `ambiguous`). */
  vr: Vr
  vm: string
  keyword: string
  /** PS3.6 lists more than one VR: 'OB or OW', 'US or SS', 'US or OW'. */
  ambiguous?: 'OB/OW' | 'US/SS' | 'US/OW'
}

/** Tags the package itself relies on (PS3.6 numbering). */
export const Tags = {
  FileMetaInformationGroupLength: 0x00020000,
  FileMetaInformationVersion: 0x00020001,
  MediaStorageSOPClassUID: 0x00020002,
  MediaStorageSOPInstanceUID: 0x00020003,
  TransferSyntaxUID: 0x00020010,
  ImplementationClassUID: 0x00020012,
  ImplementationVersionName: 0x00020013,
  SourceApplicationEntityTitle: 0x00020016,
  SpecificCharacterSet: 0x00080005,
  ImageType: 0x00080008,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  StudyDate: 0x00080020,
  SeriesDate: 0x00080021,
  ContentDate: 0x00080023,
  StudyTime: 0x00080030,
  SeriesTime: 0x00080031,
  AccessionNumber: 0x00080050,
  Modality: 0x00080060,
  Manufacturer: 0x00080070,
  InstitutionName: 0x00080080,
  ReferringPhysicianName: 0x00080090,
  StudyDescription: 0x00081030,
  SeriesDescription: 0x0008103e,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  PatientBirthDate: 0x00100030,
  PatientSex: 0x00100040,
  PatientAge: 0x00101010,
  BodyPartExamined: 0x00180015,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  StudyID: 0x00200010,
  SeriesNumber: 0x00200011,
  InstanceNumber: 0x00200013,
  FrameOfReferenceUID: 0x00200052,
  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  PlanarConfiguration: 0x00280006,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  PixelRepresentation: 0x00280103,
  ExtendedOffsetTable: 0x7fe00001,
  ExtendedOffsetTableLengths: 0x7fe00002,
  FloatPixelData: 0x7fe00008,
  DoubleFloatPixelData: 0x7fe00009,
  PixelData: 0x7fe00010,
  DataSetTrailingPadding: 0xfffcfffc,
  Item: 0xfffee000,
  ItemDelimitationItem: 0xfffee00d,
  SequenceDelimitationItem: 0xfffee0dd,
} as const

const AMBIGUOUS: Record<string, { vr: Vr; ambiguous: DictionaryEntry['ambiguous'] }> = {
  ox: { vr: 'OW', ambiguous: 'OB/OW' },
  xs: { vr: 'US', ambiguous: 'US/SS' },
  lt: { vr: 'OW', ambiguous: 'US/OW' },
  up: { vr: 'UL', ambiguous: undefined },
  na: { vr: 'UN', ambiguous: undefined },
}

let byTag: Map<Tag, DictionaryEntry> | undefined
/** Repeating-group entries keyed by (group & 0xFF00) << 16 | element. */
let byRange: Map<Tag, DictionaryEntry> | undefined
let byKeyword: Map<string, DictionaryEntry> | undefined

function load(): void {
  byTag = new Map()
  byRange = new Map()
  byKeyword = new Map()
  for (const line of DICTIONARY_DATA.split('\n')) {
    const [hex, vrCode, vm, keyword = ''] = line.split(' ')
    const ranged = hex.includes('xx')
    const tag = parseInt(ranged ? hex.replace('xx', '00') : hex, 16) >>> 0
    const amb = AMBIGUOUS[vrCode]
    const entry: DictionaryEntry = { tag, vr: amb ? amb.vr : (vrCode as Vr), vm, keyword }
    if (amb?.ambiguous) entry.ambiguous = amb.ambiguous
    if (ranged) byRange.set(tag, entry)
    else byTag.set(tag, entry)
    // First spelling wins (a few retired keywords repeat in PS3.6).
    if (keyword && !byKeyword.has(keyword)) byKeyword.set(keyword, entry)
  }
}

/** True for private data elements: odd group numbers other than 0001, 0003, 0005, 0007, FFFF (PS3.5 7.8.1). */
export function isPrivateTag(tag: Tag): boolean {
  const g = tag >>> 16
  return (g & 1) === 1 && g > 0x0008 && g !== 0xffff
}

/** Private Creator Data Elements (gggg,0010-00FF) reserve blocks and are always LO (PS3.5 7.8.1). */
export function isPrivateCreator(tag: Tag): boolean {
  const e = tag & 0xffff
  return isPrivateTag(tag) && e >= 0x0010 && e <= 0x00ff
}

/** The dictionary entry for a tag, including repeating groups; undefined for unknown and private tags. */
export function entryOf(tag: Tag): DictionaryEntry | undefined {
  if (!byTag) load()
  tag = tag >>> 0
  const exact = byTag!.get(tag)
  if (exact) return exact
  const g = tag >>> 16
  // Group length (gggg,0000) exists for every group (PS3.5 7.2), as UL.
  if ((tag & 0xffff) === 0 && (g & 1) === 0) return { tag, vr: 'UL', vm: '1', keyword: '' }
  const hi = g & 0xff00
  if ((hi === 0x5000 || hi === 0x6000 || hi === 0x7f00) && (g & 1) === 0) {
    const r = byRange!.get(((hi << 16) | (tag & 0xffff)) >>> 0)
    if (r) return { ...r, tag }
  }
  return undefined
}

/** The VR to assume when the stream does not say (implicit VR): dictionary VR, LO for private creators, else UN. */
export function vrOf(tag: Tag): Vr {
  if (isPrivateCreator(tag)) return 'LO'
  return entryOf(tag)?.vr ?? 'UN'
}

/** The PS3.6 keyword, e.g. keywordOf(0x00100010) === 'PatientName'; undefined when none. */
export function keywordOf(tag: Tag): string | undefined {
  const k = entryOf(tag)?.keyword
  return k ? k : undefined
}

/** Value multiplicity as PS3.6 writes it ('1', '1-n', '2-2n', ...); undefined when unknown. */
export function vmOf(tag: Tag): string | undefined {
  return entryOf(tag)?.vm
}

const HEX8 = /^[0-9A-Fa-f]{8}$/
const PAREN = /^\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?$/

/** Parses a keyword ('PatientName'), 8 hex digits ('00100010') or '(0010,0010)' into a tag. */
export function tagOf(keywordOrHex: string): Tag | undefined {
  const s = keywordOrHex.trim()
  if (HEX8.test(s)) return parseInt(s, 16) >>> 0
  const m = PAREN.exec(s)
  if (m) return parseInt(m[1] + m[2], 16) >>> 0
  if (!byKeyword) load()
  return byKeyword!.get(s)?.tag
}

const HEX_DIGITS = '0123456789ABCDEF'
/** 'GGGGEEEE' in uppercase, as DICOM JSON keys and QIDO use it. */
export function tagHex(tag: Tag): string {
  let s = ''
  for (let shift = 28; shift >= 0; shift -= 4) s += HEX_DIGITS[(tag >>> shift) & 0xf]
  return s
}

/** '(GGGG,EEEE)' for messages and logs. */
export function tagString(tag: Tag): string {
  const h = tagHex(tag)
  return `(${h.slice(0, 4)},${h.slice(4)})`
}
