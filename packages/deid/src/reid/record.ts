/**
 * @module Recording one de-identified object in the re-identification table: its pseudonym to the
 * source's patient identifiers, and each new UID to the original. Shared by `kura deid` and the
 * gateway's pipeline so both tables mean the same.
 */
import { getString, Tags, type DicomDataset } from '@kura/dicom'
import type { DeidReport } from '../engine/deidentify.ts'
import type { ReidTable } from './table.ts'

const PATIENT_BIRTH_DATE = 0x00100030

const text = (ds: DicomDataset, tag: number) => (getString(ds, tag) ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

export function recordDeidentified(reid: ReidTable, source: DicomDataset, report: DeidReport, collection: string): void {
  const patientId = text(source, Tags.PatientID)
  // Without a Patient ID there is no patient to name; the UIDs still lead to the object.
  if (patientId) {
    const name = text(source, Tags.PatientName)
    const birthDate = text(source, PATIENT_BIRTH_DATE)
    reid.record({ collection, pseudonymousPatientId: report.pseudonymousPatientId, patientId, ...(name ? { patientName: name } : {}), ...(birthDate ? { birthDate } : {}) })
  }
  for (const u of report.mappedUids) {
    reid.recordUid({ collection, newUid: u.replacement, originalUid: u.original, pseudonymousPatientId: report.pseudonymousPatientId, keyword: u.keyword })
  }
}
