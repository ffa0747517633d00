/**
 * @module Typed access to element values: strings (decoded with the dataset's character set, then split
 * and trimmed per PS3.5 6.2), numbers (binary in the dataset's byte order, or DS/IS text), person names.
 *
 * Nothing is decoded until asked for. Absent elements give undefined / []; values still in the source
 * (bulk data) give undefined / [] too — read them through their offset.
 */
import { decodeText } from './charset.ts'
import type { DicomDataset, DicomElement, PersonName, Tag, Vr } from './types.ts'
import { KEEP_LEADING_SPACE_VRS, NUMBER_WIDTH, SINGLE_VALUE_VRS } from './vr.ts'

/** Trailing spaces (and NUL padding, which UI uses and some writers misuse) are never significant. */
function trimValue(s: string, vr: Vr): string {
  let end = s.length
  while (end > 0) {
    const c = s.charCodeAt(end - 1)
    if (c !== 0x20 && c !== 0) break
    end--
  }
  let start = 0
  if (!KEEP_LEADING_SPACE_VRS.has(vr)) while (start < end && s.charCodeAt(start) === 0x20) start++
  return start === 0 && end === s.length ? s : s.slice(start, end)
}

/** The element with this tag, or undefined. */
export function getElement(ds: DicomDataset, tag: Tag): DicomElement | undefined {
  return ds.elements.get(tag)
}

/** The raw value bytes (undefined when absent or left in the source). */
export function getBytes(ds: DicomDataset, tag: Tag): Uint8Array | undefined {
  return ds.elements.get(tag)?.bytes
}

/** Items of a sequence ([] when absent). */
export function getItems(ds: DicomDataset, tag: Tag): DicomDataset[] {
  return ds.elements.get(tag)?.items ?? []
}

/** The whole value decoded to text (not split), using the dataset's Specific Character Set. */
export function elementText(el: DicomElement, charset: readonly string[]): string | undefined {
  if (!el.bytes) return undefined
  return decodeText(el.bytes, charset, el.vr)
}

/** All values of a string element, decoded then split on '\' (decoding first: some kanji contain 0x5C). */
export function elementStrings(el: DicomElement, ds: DicomDataset): string[] {
  if (NUMBER_WIDTH[el.vr] !== undefined) return elementNumbers(el, ds).map(String)
  const text = elementText(el, ds.charset)
  if (text === undefined || text.length === 0) return []
  if (SINGLE_VALUE_VRS.has(el.vr)) return [trimValue(text, el.vr)]
  return text.split('\\').map((v) => trimValue(v, el.vr))
}

/** All values as strings ([] when absent or empty). */
export function getStrings(ds: DicomDataset, tag: Tag): string[] {
  const el = ds.elements.get(tag)
  return el ? elementStrings(el, ds) : []
}

/** The first value as a string: undefined when absent, '' when present but empty. */
export function getString(ds: DicomDataset, tag: Tag): string | undefined {
  const el = ds.elements.get(tag)
  if (!el || !el.bytes) return undefined
  const values = elementStrings(el, ds)
  return values.length ? values[0] : ''
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

/** Numbers of a binary (US, SS, UL, SL, FL, FD, SV, UV, AT, OW, OF, OD, OL, OV) or DS/IS element. */
export function elementNumbers(el: DicomElement, ds: DicomDataset): number[] {
  const b = el.bytes
  if (!b || b.length === 0) return []
  const vr = el.vr
  if (vr === 'DS' || vr === 'IS') {
    const text = decodeText(b, [], vr)
    const out: number[] = []
    for (const part of text.split('\\')) {
      const t = part.trim()
      if (t === '') continue
      out.push(Number(t))
    }
    return out
  }
  const width = NUMBER_WIDTH[vr]
  if (width === undefined) return []
  const le = ds.littleEndian
  const dv = view(b)
  const n = Math.floor(b.length / width)
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const o = i * width
    switch (vr) {
      case 'US': case 'OW': out[i] = dv.getUint16(o, le); break
      case 'SS': out[i] = dv.getInt16(o, le); break
      case 'UL': case 'OL': out[i] = dv.getUint32(o, le); break
      case 'SL': out[i] = dv.getInt32(o, le); break
      case 'FL': case 'OF': out[i] = dv.getFloat32(o, le); break
      case 'FD': case 'OD': out[i] = dv.getFloat64(o, le); break
      case 'SV': out[i] = Number(dv.getBigInt64(o, le)); break
      case 'UV': case 'OV': out[i] = Number(dv.getBigUint64(o, le)); break
      // Attribute Tag: group then element, each in the dataset's byte order (PS3.5 6.2).
      case 'AT': out[i] = ((dv.getUint16(o, le) << 16) | dv.getUint16(o + 2, le)) >>> 0; break
    }
  }
  return out
}

/** All numeric values ([] when absent/empty; NaN for DS/IS text that is not a number). */
export function getNumbers(ds: DicomDataset, tag: Tag): number[] {
  const el = ds.elements.get(tag)
  return el ? elementNumbers(el, ds) : []
}

/** The first numeric value; undefined when absent, empty or not a number. */
export function getNumber(ds: DicomDataset, tag: Tag): number | undefined {
  const el = ds.elements.get(tag)
  if (!el) return undefined
  const v = elementNumbers(el, ds)[0]
  return v === undefined || Number.isNaN(v) ? undefined : v
}

/** Splits one PN value into its component groups (PS3.5 6.2.1.1); only groups present are set. */
export function parsePersonName(value: string): PersonName {
  const groups = value.split('=')
  const pn: PersonName = {}
  const a = groups[0]?.replace(/[ \0]+$/, '')
  const i = groups[1]?.replace(/[ \0]+$/, '')
  const p = groups[2]?.replace(/[ \0]+$/, '')
  if (a) pn.Alphabetic = a
  if (i) pn.Ideographic = i
  if (p) pn.Phonetic = p
  return pn
}

/** Person names of a PN element, decoded before splitting on '\' and '=' (kanji bytes may contain both). */
export function elementPersonNames(el: DicomElement, ds: DicomDataset): PersonName[] {
  const text = elementText(el, ds.charset)
  if (!text) return []
  return text.split('\\').map(parsePersonName)
}

/** Person names of a PN element ([] when absent or empty). */
export function getPersonName(ds: DicomDataset, tag: Tag): PersonName[] {
  const el = ds.elements.get(tag)
  return el ? elementPersonNames(el, ds) : []
}

/** Tags held by an AT element. */
export function getTags(ds: DicomDataset, tag: Tag): Tag[] {
  const el = ds.elements.get(tag)
  return el && el.vr === 'AT' ? elementNumbers(el, ds) : []
}
