/**
 * @module testInstanceRecord: a complete, valid InstanceRecord with overridable fields, so
 * catalog tests state only what they are about.
 */
import { newDicomUid, sha256Hex } from '@kura/core'
import type { InstanceRecord } from '../types.ts'

export function testInstanceRecord(overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  const sopInstanceUid = overrides.sopInstanceUid ?? newDicomUid()
  const sha256 = overrides.sha256 ?? sha256Hex(sopInstanceUid)
  const studyInstanceUid = overrides.studyInstanceUid ?? '1.2.3.4'
  const seriesInstanceUid = overrides.seriesInstanceUid ?? `${studyInstanceUid}.1`
  return {
    collection: 'test',
    patientId: 'PAT-1',
    patientName: 'Doe^Jane',
    patientBirthDate: '19700101',
    patientSex: 'F',
    studyInstanceUid,
    studyDate: '20240101',
    studyTime: '120000',
    accessionNumber: 'ACC-1',
    studyId: 'S1',
    referringPhysicianName: '',
    studyDescription: 'Test study',
    studyJson: JSON.stringify({ '0020000D': { vr: 'UI', Value: [studyInstanceUid] } }),
    seriesInstanceUid,
    modality: 'CT',
    seriesNumber: 1,
    seriesDescription: 'Test series',
    performedProcedureStepStartDate: '',
    performedProcedureStepStartTime: '',
    seriesJson: JSON.stringify({ '0020000E': { vr: 'UI', Value: [seriesInstanceUid] } }),
    sopInstanceUid,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    instanceNumber: 1,
    rows: 512,
    columns: 512,
    numberOfFrames: null,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    objectKey: `dicom/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`,
    sha256,
    size: 1000,
    instanceJson: JSON.stringify({ '00080018': { vr: 'UI', Value: [sopInstanceUid] } }),
    ...overrides,
  }
}
