/**
 * @module Sample de-identified records for the hub's tests (catalog, HTTP, browser): valid
 * `kura.record/1` records with shipped codes, and the `{ key, record }` items a gateway posts.
 * Never imported by production code.
 */
import { findTerm, type CodeListName, type DeidentifiedRecord } from '@kura/records'
import { recordKey } from './receipt-check.ts'

export interface SampleEndoscopy {
  recordId: string
  subject: string
  performedAt: string
  examType?: 'upper-gi' | 'colonoscopy' | 'small-bowel' | 'ercp'
  finding?: string
  site?: string
  diagnosis?: string
  studies?: string[]
  text?: string
}

/** A coded term of a shipped list, with its English meaning as a gateway would send it. */
function coded(list: CodeListName, system: string, code: string): { system: string; code: string; meaning?: string } {
  const meaning = findTerm(list, code)?.en
  return meaning ? { system, code, meaning } : { system, code }
}

/** A de-identified endoscopy record; findings and diagnoses use shipped MST3 codes. */
export function sampleEndoscopy(o: SampleEndoscopy): DeidentifiedRecord {
  return {
    schema: 'kura.record/1',
    kind: 'endoscopy',
    recordId: o.recordId,
    source: { system: 'adapter:test' },
    subject: { id: o.subject, sex: 'F', birthYear: 1956 },
    performedAt: o.performedAt,
    images: (o.studies ?? []).map((studyInstanceUid) => ({ studyInstanceUid })),
    ...(o.text ? { text: o.text } : {}),
    examType: o.examType ?? 'upper-gi',
    indication: [coded('indication', 'KURA', 'IND-SCREENING')],
    sedation: { used: true, drugs: [{ system: 'KURA', code: 'SED-MIDAZOLAM' }] },
    antithrombotics: [],
    hPylori: 'negative',
    findings: [{ site: coded('site', 'MST3', o.site ?? 'ST-ANTRUM'), term: coded('finding', 'MST3', o.finding ?? 'FD-ULCER'), sizeMm: 8 }],
    diagnoses: [coded('diagnosis', 'MST3', o.diagnosis ?? 'DX-GASTRIC-ULCER')],
    procedures: [coded('procedure', 'KURA', 'PR-BIOPSY')],
    adverseEvents: [],
    staff: [{ role: 'endoscopist', id: 'STAFF-7QX' }],
    deidentification: { policy: 'kura-basic', version: '1', method: 'kura deid: PS3.15 basic profile, keyed pseudonyms, date shift' },
  } as DeidentifiedRecord
}

/** The item a gateway posts for a record: its key is the SHA-256 of its canonical JSON. */
export function itemOf(record: unknown): { key: string; record: unknown } {
  return { key: recordKey(record), record }
}
