/**
 * @module The real record engine of the gateway: @kura/records reads SS-MIX2 messages (file name and HL7) and
 * validates records; @kura/deid de-identifies them with the gateway's policy, site secret and collection (the
 * same three the DICOM path uses, so a record and its images share one pseudonymous subject and date shift) and
 * runs the verification scan against the source record's identifiers.
 *
 * The identifiers of a record are collected once: de-identification cleans text of them and the scan then looks
 * for the same ones (the stage always verifies the record it has just de-identified).
 */
import { deidentifyRecord, recordIdentifiers, verifyRecord, type Policy, type RecordIdentifiers } from '@kura/deid'
import type { ClinicalRecord } from '@kura/records'
import { parseHl7, parseSsmix2FileName, toClinicalRecords, validateRecord, type Ssmix2FileName } from '@kura/records'
import type { RecordEngine } from './record-stage.ts'

export function recordEngine(s: { policy: Policy; secret: Uint8Array; collection: string }): RecordEngine {
  const ctx = { policy: s.policy, secret: s.secret, collection: s.collection }
  // A record's identifiers, from its de-identification to its verification: the stage verifies the record it has
  // just de-identified, so the last record's are kept (one slot, not a WeakMap: its table grew by an entry per
  // record until a GC emptied it, ≈ 1.6 KB of garbage per record); any other record gets its own, as before.
  let lastRecord: ClinicalRecord | null = null
  let lastIds: RecordIdentifiers | null = null
  const idsOf = (record: ClinicalRecord): RecordIdentifiers => {
    if (record !== lastRecord || lastIds === null) {
      lastIds = recordIdentifiers(record)
      lastRecord = record
    }
    return lastIds
  }
  return {
    readSsmix2(raw, ref) {
      const parsed = parseSsmix2FileName(ref.slice(ref.lastIndexOf('/') + 1))
      if (!parsed.ok) return { records: [], held: [[{ path: 'fileName', message: parsed.reason }]] }
      const misplaced = misplacedParts(ref, parsed.name)
      if (misplaced !== '') return { records: [], held: [[{ path: 'fileName', message: `file name's ${misplaced} differ(s) from its folder; the file is misplaced` }]] }
      const r = toClinicalRecords(parseHl7(raw), { path: ref, file: parsed.name })
      // Assigned, not spread in (`...(r.skipped ? { skipped } : {})` was a slow path of its own per message).
      const read: ReturnType<RecordEngine['readSsmix2']> = { records: r.records, held: r.held.map((h) => h.reasons) }
      if (r.skipped) read.skipped = r.skipped
      return read
    },
    validate: (record) => validateRecord(record),
    deidentify: (record) => deidentifyRecord(record, ctx, idsOf(record)),
    verify: (deid, record) => verifyRecord(deid, idsOf(record)).map((f) => ({ path: f.path, message: f.reason })),
  }
}

/**
 * The tree is ID[0:3]/ID[3:6]/ID/date/type/file: which of patient ID, date and data type of the file name `f`
 * disagree with the folders of `ref` ('' when none do, or when `ref` is not six parts deep), e.g. "date, data type".
 * The parts are compared where they lie in `ref` (no split into strings: this runs for every message).
 */
function misplacedParts(ref: string, f: Ssmix2FileName): string {
  const s0 = ref.indexOf('/')
  const s1 = s0 < 0 ? -1 : ref.indexOf('/', s0 + 1)
  const s2 = s1 < 0 ? -1 : ref.indexOf('/', s1 + 1)
  const s3 = s2 < 0 ? -1 : ref.indexOf('/', s2 + 1)
  const s4 = s3 < 0 ? -1 : ref.indexOf('/', s3 + 1)
  if (s4 < 0 || ref.indexOf('/', s4 + 1) >= 0) return ''
  const id = f.patientId
  const badId = !partIs(ref, s1 + 1, s2, id, 0, id.length) || (id.length >= 6 && (!partIs(ref, 0, s0, id, 0, 3) || !partIs(ref, s0 + 1, s1, id, 3, 6)))
  const date = f.date ?? '-'
  const badDate = !partIs(ref, s2 + 1, s3, date, 0, date.length)
  const badType = !partIs(ref, s3 + 1, s4, f.dataType, 0, f.dataType.length)
  if (!badId && !badDate && !badType) return ''
  return [badId ? 'patient ID' : '', badDate ? 'date' : '', badType ? 'data type' : ''].filter(Boolean).join(', ')
}

/** `ref.slice(from, to) === want.slice(wantFrom, wantTo)`, without the slices. */
function partIs(ref: string, from: number, to: number, want: string, wantFrom: number, wantTo: number): boolean {
  if (to - from !== wantTo - wantFrom) return false
  for (let i = 0; i < to - from; i++) if (ref.charCodeAt(from + i) !== want.charCodeAt(wantFrom + i)) return false
  return true
}
