/**
 * @module DICOM data model shared by the reader, writer and DICOM JSON conversion.
 *
 * Values are kept as the bytes found in the file (decoded lazily), so a value kept unchanged
 * by de-identification stays byte-identical, and large values (bulk data) are never loaded:
 * the element records where they are in the source instead.
 */

/** Two-letter value representation (PS3.5 6.2). */
export type Vr =
  | 'AE' | 'AS' | 'AT' | 'CS' | 'DA' | 'DS' | 'DT' | 'FL' | 'FD' | 'IS' | 'LO' | 'LT' | 'OB' | 'OD' | 'OF' | 'OL' | 'OV'
  | 'OW' | 'PN' | 'SH' | 'SL' | 'SQ' | 'SS' | 'ST' | 'SV' | 'TM' | 'UC' | 'UI' | 'UL' | 'UN' | 'UR' | 'US' | 'UT' | 'UV'

/** (group << 16 | element) as an unsigned 32-bit number, e.g. 0x00100010 for PatientName. */
export type Tag = number

export interface Fragment {
  /** Byte offset of the fragment's value in the source. */
  offset: number
  length: number
  /**
   * The fragment's first two bytes, big-endian (0xFFD8 JPEG/JPEG-LS SOI, 0xFF4F JPEG 2000 SOC), read with
   * the item header so frames can be told apart without an offset table; undefined for fragments under 2 bytes.
   */
  marker?: number
}

export interface DicomElement {
  tag: Tag
  vr: Vr
  /** Byte offset of the value in the source (after the element header). */
  offset: number
  /** Value length in bytes; for undefined-length sequences and encapsulated data, the span actually occupied. */
  length: number
  /** True when the element was written with undefined length (0xFFFFFFFF). */
  undefinedLength: boolean
  /** The raw value bytes, present unless the value is bulk data left in the source. */
  bytes?: Uint8Array
  /** Sequence items (SQ, and UN that parsed as a sequence). */
  items?: DicomDataset[]
  /** Encapsulated pixel data: fragments[0] is the Basic Offset Table item (possibly empty). */
  fragments?: Fragment[]
  /** Encapsulated pixel data: the Basic Offset Table's bytes (fragments[0]), always loaded (4 bytes a frame). */
  basicOffsetTable?: Uint8Array
}

export interface DicomDataset {
  /** Elements in ascending tag order (the order read, which the standard requires). */
  readonly elements: Map<Tag, DicomElement>
  /** Specific Character Set values in force for this dataset (inherited by sequence items). */
  readonly charset: readonly string[]
  readonly littleEndian: boolean
}

export interface ParsedDicom {
  /** File Meta Information (group 0002); empty when the file had none. */
  meta: DicomDataset
  dataset: DicomDataset
  transferSyntaxUID: string
  /** Byte offset of the first dataset element (after preamble and meta). */
  datasetOffset: number
  /** Bytes of the source that were parsed (the whole object unless parsing stopped early). */
  size: number
  /** True when 128-byte preamble + "DICM" was present. */
  hasPreamble: boolean
  /** Whether the dataset was actually encoded with explicit VRs (may differ from what the transfer syntax says). */
  explicitVr: boolean
  /** The Transfer Syntax UID the meta declared, when it was missing or contradicted by the data. */
  declaredTransferSyntaxUID?: string
  /** Deflated transfer syntax: dataset offsets (element.offset, fragments) refer to `inflated`, not the source. */
  deflated?: boolean
  /** The inflated dataset bytes of a deflated object (offset 0 = first dataset element). */
  inflated?: Uint8Array
  /** Parsing stopped before `untilTag` (the dataset holds only the elements before it). */
  stoppedAt?: Tag
}

/** Person name as DICOM JSON models it (PS3.18 F.2.2): up to three component groups. */
export interface PersonName {
  Alphabetic?: string
  Ideographic?: string
  Phonetic?: string
}

/** DICOM JSON Model (PS3.18 Annex F). */
export type DicomJsonValue = string | number | PersonName | DicomJson | null
export interface DicomJsonAttribute {
  vr: Vr
  Value?: DicomJsonValue[]
  BulkDataURI?: string
  InlineBinary?: string
}
export type DicomJson = Record<string, DicomJsonAttribute>
