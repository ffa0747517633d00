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
import { parseHl7, parseSsmix2FileName, toClinicalRecords, validateRecord } from '@kura/records'
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
      // The tree is ID[0:3]/ID[3:6]/ID/date/type/file: a file whose name disagrees with its folders is misfiled.
      const segs = ref.split('/')
      if (segs.length === 6) {
        const f = parsed.name
        const [a, b, id, date, type] = segs
        const badId = id !== f.patientId || (f.patientId.length >= 6 && (a !== f.patientId.slice(0, 3) || b !== f.patientId.slice(3, 6)))
        if (badId || date !== (f.date ?? '-') || type !== f.dataType) {
          const off = [badId ? 'patient ID' : '', date !== (f.date ?? '-') ? 'date' : '', type !== f.dataType ? 'data type' : ''].filter(Boolean)
          return { records: [], held: [[{ path: 'fileName', message: `file name's ${off.join(', ')} differ(s) from its folder; the file is misplaced` }]] }
        }
      }
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
