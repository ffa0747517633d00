/** @module Test helpers for the gateway: small synthetic objects, one carrying PHI where the Basic Profile keeps it. */
import { writeDicom } from '@kura/dicom'
import { planCorpus, synthStudies, type SynthInstance, type SynthOptions } from '@kura/dicom/synth'

export const SMALL: Pick<SynthOptions, 'sizes'> = { sizes: { CT: { rows: 16, columns: 16 }, MR: { rows: 16, columns: 16 }, ES: { rows: 16, columns: 16 } } }

export function smallStudies(studies: number, series: number, instances: number, seed = 7): SynthInstance[] {
  return [...synthStudies({ studies, seriesPerStudy: series, instancesPerSeries: instances, seed, modality: 'CT', charset: 'mixed', ...SMALL })]
}

/**
 * A CT instance whose Software Versions (0018,1020), an attribute Table E.1-1 does not list and the engine keeps,
 * holds the patient's ID: the verification scan must find it.
 */
export function leakyInstance(seed = 99): { bytes: Uint8Array; patientId: string } {
  const p = planCorpus({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed, modality: 'CT', charset: 'ir192', ...SMALL }).next().value!
  const dataset = [...p.elements, { tag: 0x00181020, vr: 'LO' as const, value: `v1 ${p.study.patient.patientId}` }, { tag: 0x7fe00010, vr: 'OW' as const, value: p.pixels }].sort((a, b) => a.tag - b.tag)
  return { bytes: writeDicom({ dataset }, { transferSyntaxUID: p.transferSyntaxUID }), patientId: p.study.patient.patientId }
}
