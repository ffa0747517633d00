/**
 * @module Whole-day date shifting for DA and DT values (PS3.15 E.3.6 Retain Longitudinal Temporal Information
 * Modified Dates Option): one offset per subject keeps every interval between that subject's dates intact.
 */
import { KeyErrors } from './errors.ts'

/** Four-digit years only (PS3.5 Table 6.2-1 DA/DT: YYYY); a shift that leaves 0001..9999 is rejected, not wrapped. */
export const MIN_YEAR = 1
export const MAX_YEAR = 9999

// Proleptic Gregorian day numbers (H. Hinnant's days_from_civil / civil_from_days): pure integer UTC calendar
// arithmetic with leap years, free of Date's two-digit-year and local-time quirks.
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

function civilFromDays(z: number): [number, number, number] {
  z += 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp + (mp < 10 ? 3 : -9)
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
const daysIn = (y: number, m: number): number => (m === 2 ? (isLeap(y) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31)
const pad = (n: number, w: number): string => String(n).padStart(w, '0')

/** Shifts a validated Y/M/D by whole days; throws when the result leaves the four-digit year range. */
function shiftYmd(vr: string, value: string, y: number, m: number, d: number, days: number): [number, number, number] {
  const out = civilFromDays(daysFromCivil(y, m, d) + days)
  if (out[0] < MIN_YEAR || out[0] > MAX_YEAR) throw KeyErrors.badDate(vr, value, `shifting by ${days} days leaves years ${MIN_YEAR}-${MAX_YEAR}`)
  return out
}

function checkYmd(vr: string, value: string, y: number, m: number, d: number): void {
  if (y < MIN_YEAR) throw KeyErrors.badDate(vr, value, 'year 0000')
  if (m < 1 || m > 12) throw KeyErrors.badDate(vr, value, 'month out of 01-12')
  if (d < 1 || d > daysIn(y, m)) throw KeyErrors.badDate(vr, value, 'day out of range for the month')
}

/** One DA value, exactly YYYYMMDD (PS3.5 Table 6.2-1; the old ACR-NEMA YYYY.MM.DD form is not accepted). */
function shiftOneDA(part: string, whole: string, days: number): string {
  if (!/^\d{8}$/.test(part)) throw KeyErrors.badDate('DA', whole, 'expected YYYYMMDD')
  const y = +part.slice(0, 4)
  const m = +part.slice(4, 6)
  const d = +part.slice(6, 8)
  checkYmd('DA', whole, y, m, d)
  const [ny, nm, nd] = shiftYmd('DA', whole, y, m, d, days)
  return pad(ny, 4) + pad(nm, 2) + pad(nd, 2)
}

const DT_RE = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?([+-]\d{4})?$/

/** Parses one DT value and returns it shifted, or undefined when the text is not a DT (used to split ranges). */
function tryShiftOneDT(part: string, whole: string, days: number): string | undefined {
  const mt = DT_RE.exec(part)
  if (!mt) return undefined
  const [, ys, ms, ds, hh, mi, ss, , off] = mt
  if (hh !== undefined && +hh > 23) return undefined
  if (mi !== undefined && +mi > 59) return undefined
  if (ss !== undefined && +ss > 60) return undefined // 60: leap second, allowed by PS3.5 Table 6.2-1 TM/DT
  if (off !== undefined) {
    // PS3.5 Table 6.2-1 DT: offset &ZZXX from -1200 to +1400.
    const mins = (+off.slice(1, 3)) * 60 + +off.slice(3, 5)
    if (+off.slice(3, 5) > 59 || (off[0] === '-' ? mins > 12 * 60 : mins > 14 * 60)) return undefined
  }
  const y = +ys!
  // Partial precision: missing month/day count as 01 for the arithmetic, and the result is cut back to the same
  // precision, so a YYYY or YYYYMM value moves by the offset as closely as its precision can say.
  const m = ms === undefined ? 1 : +ms
  const d = ds === undefined ? 1 : +ds
  if (y < MIN_YEAR || m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) return undefined
  const [ny, nm, nd] = shiftYmd('DT', whole, y, m, d, days)
  let date = pad(ny, 4)
  if (ms !== undefined) date += pad(nm, 2)
  if (ds !== undefined) date += pad(nd, 2)
  // Whole-day shifts leave the time of day and the UTC offset exactly as they were.
  return date + part.slice(ys!.length + (ms?.length ?? 0) + (ds?.length ?? 0))
}

/** Splits a multi-valued string (PS3.5 6.4, backslash) and trims the trailing space padding (PS3.5 6.2 DA/DT). */
const valuesOf = (value: string): string[] => value.replace(/[ \0]+$/, '').split('\\')

/**
 * Shifts each DA value, including range matching forms `a-b`, `a-`, `-b` (PS3.4 C.2.2.2.5), by `days`.
 * An empty value stays empty. Invalid text throws DEID_KEY_BAD_DATE; the caller then removes or dummies the attribute.
 */
export function shiftDA(value: string, days: number): string {
  return valuesOf(value)
    .map((v) => {
      if (v === '') return v
      const parts = v.split('-')
      if (parts.length > 2) throw KeyErrors.badDate('DA', value, 'more than one "-"')
      if (parts.length === 2 && parts[0] === '' && parts[1] === '') throw KeyErrors.badDate('DA', value, 'empty range')
      return parts.map((p) => (p === '' && parts.length === 2 ? p : shiftOneDA(p, value, days))).join('-')
    })
    .join('\\')
}

/**
 * Shifts each DT value (YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX], PS3.5 Table 6.2-1) by whole days; time and offset
 * are kept. A "-" is first read as a UTC offset sign; only when that fails to parse is the value read as a range.
 */
export function shiftDT(value: string, days: number): string {
  return valuesOf(value)
    .map((v) => {
      if (v === '') return v
      const single = tryShiftOneDT(v, value, days)
      if (single !== undefined) return single
      for (let i = v.indexOf('-'); i >= 0; i = v.indexOf('-', i + 1)) {
        const a = v.slice(0, i)
        const b = v.slice(i + 1)
        if (a === '' && b === '') break
        const sa = a === '' ? '' : tryShiftOneDT(a, value, days)
        const sb = b === '' ? '' : tryShiftOneDT(b, value, days)
        if (sa !== undefined && sb !== undefined) return `${sa}-${sb}`
      }
      throw KeyErrors.badDate('DT', value, 'expected YYYY[MM[DD[HH[MM[SS[.FFFFFF]]]]]][&ZZXX] or a range of those')
    })
    .join('\\')
}

/**
 * Shifts a temporal value by VR. TM is returned unchanged: a time alone carries no date, and whole-day offsets
 * never move the time of day, so a DA+TM pair split from one instant (e.g. StudyDate/StudyTime) stays consistent
 * with its DT form shifted here. Other VRs are refused: they are not dates.
 */
export function shiftTemporal(vr: string, value: string, days: number): string {
  if (vr === 'DA') return shiftDA(value, days)
  if (vr === 'DT') return shiftDT(value, days)
  if (vr === 'TM') return value
  throw KeyErrors.badDate(vr, value, 'only DA, DT and TM are temporal VRs')
}
