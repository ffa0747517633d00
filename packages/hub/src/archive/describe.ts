/**
 * @module Describe a parsed instance as the catalog's InstanceRecord (indexed keys + level JSON).
 */
import { getNumber, getPersonName, getString, toDicomJson, type DicomDataset, type ParsedDicom, type PersonName } from '@kura/dicom'
import type { InstanceRecord } from '@kura/storage'
import { ArchiveErrors } from './errors.ts'
import { SERIES_LEVEL_TAGS, STUDY_LEVEL_TAGS, pickLevel } from './levels.ts'

/**
 * BulkDataURIs are stored as `bulk/<tag path>` relative to the instance's WADO-RS URL; the
 * hub prefixes them when serving, so stored JSON does not depend on the host name.
 */
export const BULK_PREFIX = 'bulk/'

const UID = /^[0-9]+(\.[0-9]+)*$/

function uid(ds: DicomDataset, tag: number, keyword: string): string {
  const v = getString(ds, tag)
  if (!v) throw ArchiveErrors.missingAttribute(keyword)
  if (v.length > 64 || !UID.test(v)) throw ArchiveErrors.invalidUid(keyword, v)
  return v
}

export function personNameString(pn: PersonName | undefined): string {
  if (!pn) return ''
  const groups = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? '']
  while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop()
  return groups.join('=')
}

const int = (ds: DicomDataset, tag: number): number | null => {
  const n = getNumber(ds, tag)
  return n === undefined || !Number.isFinite(n) ? null : Math.trunc(n)
}

export function describeInstance(
  parsed: ParsedDicom,
  where: { collection: string; objectKey: string; sha256: string; size: number },
): InstanceRecord {
  const ds = parsed.dataset
  const studyInstanceUid = uid(ds, 0x0020000d, 'StudyInstanceUID')
  const seriesInstanceUid = uid(ds, 0x0020000e, 'SeriesInstanceUID')
  const sopInstanceUid = uid(ds, 0x00080018, 'SOPInstanceUID')
  const sopClassUid = uid(ds, 0x00080016, 'SOPClassUID')
  // Small binary values are inlined; larger ones (left in the object by the reader) become bulk data.
  const json = toDicomJson(ds, { bulkDataUri: (path, el) => (el.bytes ? undefined : BULK_PREFIX + path) })
  const str = (tag: number) => getString(ds, tag) ?? ''
  return {
    collection: where.collection,
    patientId: str(0x00100020),
    patientName: personNameString(getPersonName(ds, 0x00100010)[0]),
    patientBirthDate: str(0x00100030),
    patientSex: str(0x00100040),
    studyInstanceUid,
    studyDate: str(0x00080020),
    studyTime: str(0x00080030),
    accessionNumber: str(0x00080050),
    studyId: str(0x00200010),
    referringPhysicianName: personNameString(getPersonName(ds, 0x00080090)[0]),
    studyDescription: str(0x00081030),
    // Only an instance that opens its study or series writes these (the catalog's slow path): made when read.
    get studyJson() {
      return JSON.stringify(pickLevel(json, STUDY_LEVEL_TAGS))
    },
    seriesInstanceUid,
    modality: str(0x00080060),
    seriesNumber: int(ds, 0x00200011),
    seriesDescription: str(0x0008103e),
    performedProcedureStepStartDate: str(0x00400244),
    performedProcedureStepStartTime: str(0x00400245),
    get seriesJson() {
      return JSON.stringify(pickLevel(json, SERIES_LEVEL_TAGS))
    },
    sopInstanceUid,
    sopClassUid,
    instanceNumber: int(ds, 0x00200013),
    rows: int(ds, 0x00280010),
    columns: int(ds, 0x00280011),
    numberOfFrames: int(ds, 0x00280008),
    transferSyntaxUid: parsed.transferSyntaxUID,
    objectKey: where.objectKey,
    sha256: where.sha256,
    size: where.size,
    instanceJson: JSON.stringify(json),
  }
}
