/** @module Reading values out of DICOM JSON (PS3.18 F.2) as QIDO-RS returns them. */

export type DicomJson = Record<string, { vr: string; Value?: unknown[] } | undefined>

export interface PersonName {
  Alphabetic?: string
  Ideographic?: string
  Phonetic?: string
}

export function str(row: DicomJson, tag: string): string {
  const v = row[tag]?.Value?.[0]
  return v === undefined || v === null ? '' : String(v)
}

export function strs(row: DicomJson, tag: string): string[] {
  return (row[tag]?.Value ?? []).map(String)
}

export function num(row: DicomJson, tag: string): number | null {
  const v = row[tag]?.Value?.[0]
  return typeof v === 'number' ? v : v === undefined ? null : Number(v)
}

/** Japanese readers see the ideographic (kanji) group first, others the alphabetic one; `^` separates components. */
export function personName(row: DicomJson, tag: string, lang: 'ja' | 'en'): { primary: string; all: string } {
  const pn = (row[tag]?.Value?.[0] ?? {}) as PersonName
  const groups = [pn.Alphabetic, pn.Ideographic, pn.Phonetic].filter((g): g is string => !!g).map((g) => g.replace(/\^+/g, ' ').trim())
  const primary = (lang === 'ja' ? pn.Ideographic || pn.Alphabetic : pn.Alphabetic || pn.Ideographic) ?? pn.Phonetic ?? ''
  return { primary: primary.replace(/\^+/g, ' ').trim(), all: groups.join(' / ') }
}

/** `YYYYMMDD` → `YYYY-MM-DD` (left as is when not a full date). */
export function dicomDate(d: string): string {
  return /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d
}

/** `YYYY-MM-DD` from an `<input type=date>` → `YYYYMMDD`. */
export function toDicomDate(d: string): string {
  return d.replaceAll('-', '')
}

export const Tag = {
  StudyDate: '00080020',
  ModalitiesInStudy: '00080061',
  Modality: '00080060',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  PatientName: '00100010',
  PatientID: '00100020',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
} as const
