/**
 * @module DICOM JSON Model (PS3.18 Annex F) from a parsed dataset, with BulkDataURI for values left in the source.
 */
import { tagHex } from './dictionary.ts'
import type { DicomDataset, DicomElement, DicomJson, DicomJsonAttribute, DicomJsonValue, Vr } from './types.ts'
import { elementNumbers, elementPersonNames, elementStrings } from './values.ts'

export interface ToDicomJsonOptions {
  /**
   * URI for a binary value (OB, OD, OF, OL, OV, OW, UN, encapsulated pixel data) at `path`: 8 hex digits
   * for a top-level element ('7FE00010'), item indexes between nested tags ('00540016/0/00181072').
   * Return undefined to inline a loaded value. A value left in the source without a URI gets only its VR.
   */
  bulkDataUri?: (path: string, element: DicomElement) => string | undefined
}

const BINARY: ReadonlySet<Vr> = new Set<Vr>(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN'])
const NUMERIC: ReadonlySet<Vr> = new Set<Vr>(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV'])
const SWAP_WIDTH: Partial<Record<Vr, number>> = { OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 }

/** The dataset as DICOM JSON; group lengths (gggg,0000) and File Meta (0002,xxxx) are left out (PS3.18 F.2). */
export function toDicomJson(ds: DicomDataset, opts: ToDicomJsonOptions = {}): DicomJson {
  return datasetJson(ds, '', opts)
}

function datasetJson(ds: DicomDataset, prefix: string, opts: ToDicomJsonOptions): DicomJson {
  const out: DicomJson = {}
  for (const el of ds.elements.values()) {
    if ((el.tag & 0xffff) === 0 || el.tag >>> 16 === 0x0002) continue
    const key = tagHex(el.tag)
    out[key] = attributeJson(el, ds, prefix ? `${prefix}/${key}` : key, opts)
  }
  return out
}

/** Little-endian copy of a big-endian OW/OF/OL/OD/OV value: InlineBinary is always little endian (PS3.18 F.2.7). */
function littleEndianBytes(el: DicomElement, ds: DicomDataset, b: Uint8Array): Uint8Array {
  const w = SWAP_WIDTH[el.vr]
  if (ds.littleEndian || !w) return b
  const out = new Uint8Array(b.length)
  for (let i = 0; i + w <= b.length; i += w) for (let j = 0; j < w; j++) out[i + j] = b[i + w - 1 - j]
  return out
}

function attributeJson(el: DicomElement, ds: DicomDataset, path: string, opts: ToDicomJsonOptions): DicomJsonAttribute {
  if (el.items) {
    // UN parsed as a sequence (PS3.5 6.2.2) is reported as what it is: SQ.
    if (el.items.length === 0) return { vr: 'SQ' }
    return { vr: 'SQ', Value: el.items.map((item, i) => datasetJson(item, `${path}/${i}`, opts)) }
  }
  const vr = el.vr
  if (el.fragments || BINARY.has(vr)) {
    const uri = opts.bulkDataUri?.(path, el)
    if (uri !== undefined) return { vr, BulkDataURI: uri }
    if (el.bytes && el.bytes.length > 0) return { vr, InlineBinary: Buffer.from(littleEndianBytes(el, ds, el.bytes)).toString('base64') }
    return { vr }
  }
  if (!el.bytes || el.bytes.length === 0) return { vr }
  let value: DicomJsonValue[]
  if (vr === 'PN') {
    value = elementPersonNames(el, ds).map((pn) => (pn.Alphabetic === undefined && pn.Ideographic === undefined && pn.Phonetic === undefined ? null : pn))
  } else if (NUMERIC.has(vr)) {
    value = elementNumbers(el, ds).map((n) => (Number.isSafeInteger(n) || !Number.isInteger(n) || (vr !== 'SV' && vr !== 'UV') ? n : String(n)))
  } else if (vr === 'DS' || vr === 'IS') {
    // Numbers in JSON (F.2.3); empty values are null (F.2.5); text that is no number is kept as text rather than lost.
    value = elementStrings(el, ds).map((s) => {
      if (s === '') return null
      const n = Number(s)
      return Number.isFinite(n) ? n : s
    })
  } else if (vr === 'AT') {
    value = elementNumbers(el, ds).map((t) => tagHex(t))
  } else {
    value = elementStrings(el, ds).map((s) => (s === '' ? null : s))
  }
  if (value.length === 0) return { vr }
  return { vr, Value: value }
}
