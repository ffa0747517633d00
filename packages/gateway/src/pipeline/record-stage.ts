/**
 * @module The pipeline's record stage: one spooled raw input (an SS-MIX2 message, a vendor export row already
 * mapped by its adapter) through read → validate → de-identify → verify, into clean records (canonical JSON and
 * record key) or held ones with per-field reasons. Pure and synchronous, so the pipeline can run thousands per
 * transaction; anything unexpected holds the record, because a record not known to be clean must never leave.
 *
 * Formats of `record_inputs.raw`: `ssmix2` (the message file's bytes, ISO-2022-JP or ASCII), and `record`
 * (UTF-8 JSON `{ "record": ClinicalRecord }` or `{ "errors": FieldError[] }` from a vendor adapter).
 */
import { errorText } from '@kura/core'
import type { ClinicalRecord, DeidentifiedRecord, FieldError } from '@kura/records'
import type { RecordOutput, SpooledInput } from '../outbox/index.ts'
import { canonicalJson, recordKey } from './canonical-json.ts'

/** The readers and engines the stage runs; `gateway.ts` binds the real ones (@kura/records, @kura/deid). */
export interface RecordEngine {
  /**
   * An SS-MIX2 message file (`ref`: its path under the storage root, whose file name carries the patient ID, date,
   * data type, order number and flag) → its records, the per-field reasons of those it could not map, and why
   * it holds none when that is deliberate (an order, a visit event). Throws when the message cannot be parsed.
   */
  readSsmix2(raw: Uint8Array, ref: string): { records: ClinicalRecord[]; held: FieldError[][]; skipped?: string }
  validate(record: ClinicalRecord): FieldError[]
  deidentify(record: ClinicalRecord): DeidentifiedRecord
  /** Problems found in the de-identified record (an identifier of the subject that survived, ...). */
  verify(deidentified: DeidentifiedRecord, original: ClinicalRecord): FieldError[]
  /**
   * Stages inputs ahead, elsewhere (record-pool.ts: on worker threads); a caller awaits it before the batch it
   * settles. Optional: without it everything is staged in-thread.
   */
  prepare?(inputs: readonly SpooledInput[]): Promise<void>
  /** The outputs `prepare` made for this input, handed out once; undefined to stage it here. */
  takePrepared?(input: SpooledInput): RecordOutput[] | undefined
}

export type StagedOutput = RecordOutput

/**
 * How a clean record's canonical JSON becomes its output's key and body: by default the text itself and recordKey
 * of it; a worker (record-wire.ts) writes the UTF-8 once into its reply buffer and hashes those bytes instead.
 */
export type BodyWriter = (canonical: string) => { key: string; body: string }
const textBody: BodyWriter = (canonical) => ({ key: recordKey(canonical), body: canonical })

/** One line for the status and event log: the first few reasons. */
export function summarize(stage: string, reasons: readonly FieldError[]): string {
  const first = reasons.slice(0, 3).map((r) => (r.path ? `${r.path}: ${r.message}` : r.message)).join('; ')
  return `${stage}: ${first}${reasons.length > 3 ? ` (and ${reasons.length - 3} more)` : ''}`
}

const held = (stage: string, recordKind: string | null, reasons: FieldError[]): RecordOutput => ({ kind: 'held', recordKind, reasons, summary: summarize(stage, reasons) })

/** The records one input holds, and what of it is held already. */
function read(input: SpooledInput, engine: RecordEngine): { records: ClinicalRecord[]; held: RecordOutput[] } {
  const only = (o: RecordOutput) => ({ records: [], held: [o] })
  if (input.format === 'ssmix2') {
    try {
      const r = engine.readSsmix2(input.raw, input.ref)
      return { records: r.records, held: r.held.map((reasons) => held('the SS-MIX2 message does not map to a record', null, reasons)) }
    } catch (e) {
      return only(held('unreadable SS-MIX2 message', null, [{ path: 'message', message: errorText(e) }]))
    }
  }
  if (input.format === 'record') {
    let doc: { record?: ClinicalRecord; errors?: FieldError[] }
    try { doc = JSON.parse(Buffer.from(input.raw).toString('utf8')) } catch (e) {
      return only(held('unreadable spooled record', null, [{ path: '', message: errorText(e) }]))
    }
    if (doc.errors && doc.errors.length > 0) return only(held('the export rows do not map to a record', null, doc.errors))
    if (!doc.record) return only(held('the export rows do not map to a record', null, [{ path: '', message: 'no record and no reason' }]))
    return { records: [doc.record], held: [] }
  }
  return only(held('unknown input format', null, [{ path: '', message: `format "${input.format}" is not one this gateway reads; upgrade the gateway` }]))
}

/** Every record of one input, each clean or held. */
export function stageInput(input: SpooledInput, engine: RecordEngine, writeBody: BodyWriter = textBody): RecordOutput[] {
  const ready = engine.takePrepared?.(input)
  if (ready !== undefined) return ready
  const got = read(input, engine)
  const out: RecordOutput[] = [...got.held]
  for (const record of got.records) {
    const kind = typeof record?.kind === 'string' ? record.kind : null
    let problems: FieldError[]
    try { problems = engine.validate(record) } catch (e) { problems = [{ path: '', message: `validation failed: ${errorText(e)}` }] }
    if (problems.length > 0) { out.push(held('invalid record', kind, problems)); continue }
    let deid: DeidentifiedRecord
    try { deid = engine.deidentify(record) } catch (e) {
      out.push(held('de-identification failed', kind, [{ path: '', message: errorText(e) }]))
      continue
    }
    let findings: FieldError[]
    try { findings = engine.verify(deid, record) } catch (e) { findings = [{ path: '', message: `verification failed: ${errorText(e)}` }] }
    if (findings.length > 0) { out.push(held('verification found identifying data', kind, findings)); continue }
    const { key, body } = writeBody(canonicalJson(deid))
    out.push({ kind: 'clean', key, body, recordKind: deid.kind, studyUid: deid.images[0]?.studyInstanceUid ?? null })
  }
  return out
}
