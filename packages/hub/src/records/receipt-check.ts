/**
 * @module The receipt check of a clinical record: defence in depth behind the gateway, as
 * archive/receipt-check.ts is for DICOM. The hub never stores identity, so a record that still
 * carries any (a patient ID, a name, a birth date, an address, the source file position, a staff
 * member's name) is refused outright, whatever the collection; so is one that does not say what
 * de-identified it, one whose text matches the verification scan's PHI patterns, and one that
 * does not have the schema's shape. Every problem is reported as a field path and a reason, never
 * with the value (it may be the very identifier we refuse to keep).
 */
import { createHash } from 'node:crypto'
import { canonicalJson } from '@kura/core'
import { verifyRecord } from '@kura/deid'
import { validateRecord, type DeidentifiedRecord, type FieldError } from '@kura/records'

export type RecordCheck = { ok: true; record: DeidentifiedRecord } | { ok: false; reason: string; reasons: FieldError[] }

/** Lowercase hex SHA-256 of the record's canonical JSON: the record key of docs/upload-protocol.md. */
export function recordKey(record: unknown): string {
  return createHash('sha256').update(canonicalJson(record), 'utf8').digest('hex')
}

/** What a de-identified subject may say about the person: nothing else. */
const SUBJECT_FIELDS = new Set(['id', 'sex', 'birthYear'])
const SOURCE_FIELDS = new Set(['system'])
const SEXES = ['M', 'F', 'O', 'U']
const PATTERNS: Record<string, string> = { 'pattern:phone': 'telephone number', 'pattern:postal-code': 'postal code', 'pattern:address': 'street address' }

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isText = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0

/** Checks one received item; the record is returned typed only when nothing was found. */
export function checkRecord(item: unknown): RecordCheck & { key: string | null } {
  const errors: FieldError[] = []
  const err = (path: string, message: string) => errors.push({ path, message })
  if (!isObj(item)) return refuse(null, [{ path: '', message: 'each item must be an object { "key", "record" }' }])
  const key = typeof item.key === 'string' ? item.key : null
  const keyWellFormed = key !== null && /^[0-9a-f]{64}$/.test(key)
  if (!keyWellFormed) err('key', 'must be the lowercase hex SHA-256 of the record\'s canonical JSON')
  const r = item.record
  if (!isObj(r)) return refuse(key, [...errors, { path: 'record', message: 'must be a DeidentifiedRecord object' }])

  // Identity first: these are refused whatever else is wrong, and named so the sender fixes its policy.
  if (isObj(r.subject)) {
    for (const f of Object.keys(r.subject)) {
      if (!SUBJECT_FIELDS.has(f)) err(`record.subject.${f}`, 'identity: the hub never stores identity; de-identify the record at the gateway (the subject may carry only id, sex and birthYear)')
    }
  } else err('record.subject', 'must be the pseudonymous subject { id, sex?, birthYear? }')
  if (isObj(r.source)) {
    for (const f of Object.keys(r.source)) if (!SOURCE_FIELDS.has(f)) err(`record.source.${f}`, 'identity: de-identification drops everything but source.system (file paths and positions name the patient\'s directory)')
  } else err('record.source', 'must be { system }')
  if (Array.isArray(r.staff)) r.staff.forEach((s, i) => isObj(s) && 'name' in s && err(`record.staff[${i}].name`, 'identity: staff are sent by pseudonymous id only'))

  if (!isObj(r.deidentification) || !isText(r.deidentification.policy) || !isText(r.deidentification.method)) {
    err('record.deidentification', 'missing de-identification marks: the record must say which policy and method de-identified it (deidentification.policy, .method)')
  }
  // The gateway's own verification scan, without the source's identifiers (the hub never has them):
  // its telephone, postal-code and street-address patterns over every text value.
  for (const f of verifyRecord(r, [])) {
    if (f.kind.startsWith('pattern:') && !errors.some((e) => e.path === `record.${f.path}`)) err(`record.${f.path}`, `verification scan: a ${PATTERNS[f.kind] ?? f.kind} pattern found; clean the text at the gateway`)
  }

  shape(r, err)
  if (errors.length) return refuse(key, errors)
  if (keyWellFormed && recordKey(r) !== key) return refuse(key, [{ path: 'key', message: 'key-mismatch: the key is not the SHA-256 of the record\'s canonical JSON' }])
  return { ok: true, key, record: r as unknown as DeidentifiedRecord }
}

function refuse(key: string | null, reasons: FieldError[]): RecordCheck & { key: string | null } {
  const first = reasons.slice(0, 3).map((e) => `${e.path || '(item)'}: ${e.message}`).join('; ')
  return { ok: false, key, reasons, reason: reasons.length > 3 ? `${first}; and ${reasons.length - 3} more` : first }
}

/**
 * The schema's shape and vocabularies, by `validateRecord` of @kura/records (the one validation the
 * gateway's sources also run). It checks a record with identity, so it is given the de-identified
 * record with stand-ins for the two identity-bearing parts, checked here instead.
 */
function shape(r: Obj, err: (path: string, message: string) => void): void {
  const subject = isObj(r.subject) ? r.subject : {}
  const standIn = { ...r, subject: { patientId: 'pseudonymous', ...(subject.sex !== undefined ? { sex: subject.sex } : {}) }, source: { ...(isObj(r.source) ? r.source : {}), ref: 'hub' } }
  for (const e of validateRecord(standIn)) {
    if (e.path.startsWith('subject.') || e.path === 'source.ref') continue
    err(e.path === '$' ? 'record' : `record.${e.path}`, e.message)
  }
  if (!isText(subject.id)) err('record.subject.id', 'must be the pseudonymous subject id')
  if (subject.sex !== undefined && !SEXES.includes(subject.sex as string)) err('record.subject.sex', 'must be M, F, O or U')
  if (subject.birthYear !== undefined && !(Number.isInteger(subject.birthYear) && (subject.birthYear as number) > 1800 && (subject.birthYear as number) < 2200)) err('record.subject.birthYear', 'must be a year')
}
