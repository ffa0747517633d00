/**
 * @module SS-MIX2 standardized storage paths. The tree is `root/ID[0:3]/ID[3:6]/ID/<date or "->/<data type>/<file>`
 * and the file name `<patient ID>_<date or "->_<data type>_<order number or "->_<timestamp>_<department or "->_
 * <condition flag>` (SS-MIX2 標準化ストレージ 仕様書, "格納ルール"): the date is the day of care YYYYMMDD ("-" for
 * data without one, like ADT-00), the order number is 15 characters (ADT-00 uses 999999999999999), the timestamp
 * is when the data arose, YYYYMMDDHHMMSSfff (17 digits; some writers drop the milliseconds: 14 accepted), and
 * the condition flag is 1 for valid data and 0 for data made invalid (deleted, or superseded by a newer file for
 * the same order: writers rename the old file's flag to 0 when they add the new one).
 */
import { realDate } from '../schema/validate.ts'

export interface Ssmix2FileName {
  patientId: string
  /** `YYYYMMDD`, or undefined for "-". */
  date?: string
  dataType: string
  /** Undefined for "-". */
  orderNumber?: string
  /** `YYYYMMDDHHMMSSfff` as written (14 or 17 digits). */
  timestamp: string
  /** Undefined for "-". */
  department?: string
  /** '1' valid, '0' invalid (deleted or superseded). */
  flag: '0' | '1'
}

export type FileNameResult = { ok: true; name: Ssmix2FileName } | { ok: false; reason: string }

/** `[A-Z]{3}` or `[A-Z]{3}-[0-9A-Z]{2}` ("OMD", "ADT-00"), read by char codes. */
function isDataType(s: string): boolean {
  if (s.length !== 3 && s.length !== 6) return false
  for (let i = 0; i < 3; i++) if (!isUpper(s.charCodeAt(i))) return false
  if (s.length === 3) return true
  const a = s.charCodeAt(4)
  const b = s.charCodeAt(5)
  return s.charCodeAt(3) === 0x2d && (isUpper(a) || isDigit(a)) && (isUpper(b) || isDigit(b))
}

const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/** 14 or 17 digits (YYYYMMDDHHMMSS[fff]) whose first 8 are a real day. */
function isTimestamp(s: string): boolean {
  if (s.length !== 14 && s.length !== 17) return false
  for (let i = 8; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false
  return realDay(s)
}

/** `YYYYMMDD` (from 1800) that is a real day; read by char codes, as every file name's date and timestamp are. */
function validDate(s: string): boolean {
  return s.length === 8 && realDay(s)
}

/** The first 8 characters of `s` (at least 8 long) are `YYYYMMDD`, from 1800, a real day. */
function realDay(s: string): boolean {
  let v = 0
  for (let i = 0; i < 8; i++) {
    const c = s.charCodeAt(i) - 0x30
    if (c < 0 || c > 9) return false
    v = v * 10 + c
  }
  return v >= 18000000 && realDate(Math.floor(v / 10000), Math.floor(v / 100) % 100, v % 100)
}

/** Parses a file name; the reason names the part that is wrong (never the patient ID, which is identifying). */
export function parseSsmix2FileName(fileName: string): FileNameResult {
  // The last six parts are fixed, the rest is the ID (some sites' IDs have "_" in them): found from the end
  // with lastIndexOf, each part sliced once (no array of parts per file).
  const u6 = fileName.lastIndexOf('_')
  const u5 = u6 > 0 ? fileName.lastIndexOf('_', u6 - 1) : -1
  const u4 = u5 > 0 ? fileName.lastIndexOf('_', u5 - 1) : -1
  const u3 = u4 > 0 ? fileName.lastIndexOf('_', u4 - 1) : -1
  const u2 = u3 > 0 ? fileName.lastIndexOf('_', u3 - 1) : -1
  const u1 = u2 > 0 ? fileName.lastIndexOf('_', u2 - 1) : -1
  if (u1 < 0) {
    const parts = fileName.split('_').length
    return { ok: false, reason: `file name has ${parts} "_"-separated parts; SS-MIX2 needs 7 (ID_date_type_order_timestamp_department_flag)` }
  }
  const patientId = fileName.slice(0, u1)
  const date = fileName.slice(u1 + 1, u2)
  const dataType = fileName.slice(u2 + 1, u3)
  const orderNumber = fileName.slice(u3 + 1, u4)
  const timestamp = fileName.slice(u4 + 1, u5)
  const department = fileName.slice(u5 + 1, u6)
  const flag = fileName.slice(u6 + 1)
  if (!patientId) return { ok: false, reason: 'file name has an empty patient ID' }
  if (date !== '-' && !validDate(date)) return { ok: false, reason: 'date part is neither YYYYMMDD nor "-"' }
  if (!isDataType(dataType)) return { ok: false, reason: 'data type part is not like "ADT-00" or "OMD"' }
  if (!orderNumber) return { ok: false, reason: 'order number part is empty (use "-" when there is none)' }
  if (!isTimestamp(timestamp)) return { ok: false, reason: 'timestamp part is not YYYYMMDDHHMMSSfff' }
  if (!department) return { ok: false, reason: 'department part is empty (use "-" when there is none)' }
  if (flag !== '0' && flag !== '1') return { ok: false, reason: 'condition flag is neither 1 (valid) nor 0 (invalid)' }
  return {
    ok: true,
    name: {
      patientId,
      date: date === '-' ? undefined : date,
      dataType,
      orderNumber: orderNumber === '-' ? undefined : orderNumber,
      timestamp,
      department: department === '-' ? undefined : department,
      flag,
    },
  }
}

export function formatSsmix2FileName(n: Ssmix2FileName): string {
  return [n.patientId, n.date ?? '-', n.dataType, n.orderNumber ?? '-', n.timestamp, n.department ?? '-', n.flag].join('_')
}

/** The folder a file belongs in, relative to the root, with "/" separators. */
export function ssmix2Directory(n: Pick<Ssmix2FileName, 'patientId' | 'date' | 'dataType'>): string {
  const id = n.patientId
  return `${id.slice(0, 3)}/${id.slice(3, 6)}/${id}/${n.date ?? '-'}/${n.dataType}`
}

/** Timestamps compare as text once padded to 17 digits. */
export function timestampKey(ts: string): string {
  return ts.length === 14 ? `${ts}000` : ts
}
