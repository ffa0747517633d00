/**
 * @module Validation of a clinical record against schema `kura.record/1`: every problem as a FieldError with the
 * field's path (`findings[2].site.code`) and what to do about it. Sources hold a record with errors together with
 * the reasons (HeldRecord); nothing is dropped.
 *
 * Decision on unmapped codes: a `LOCAL:<site>` code (a vendor term no term map translated) is an error like an
 * unknown code, so the record is held with the reason "unmapped ... add it to the adapter's term map"; once the
 * site completes its map the held rows can be read again. Accepting such records would put codes into the hub
 * that no search or count across sites understands.
 */
import { CODE_LISTS, EXTERNAL_SYSTEMS, isLocalSystem, type CodeListName } from './codes/index.ts'
import { EXAM_TYPES } from './codes/kura.ts'
import { RECORD_KINDS, RECORD_SCHEMA, type FieldError } from './types.ts'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const show = (v: unknown): string => {
  const s = typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v)
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d|60))?)?$/
const UID = /^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*$/
const SEXES = ['M', 'F', 'O', 'U']
const H_PYLORI = ['positive', 'negative', 'eradicated', 'unknown']
const GROUPS = ['X', '1', '2', '3', '4', '5']
const STAFF_ROLES = ['endoscopist', 'assistant', 'nurse', 'pathologist', 'radiologist', 'anesthesiologist', 'other']
const EXAM_TYPE_CODES = EXAM_TYPES.map((e) => e.code as string)

function realDate(y: number, m: number, d: number): boolean {
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate()
}

/** Collects errors for one record; `at` builds child paths. */
/** A subject's own values are never quoted in messages (they reach logs and held-record lists). */
const identifying = (path: string): boolean => path.startsWith('subject.') || path === 'recordId'

class Checker {
  readonly errors: FieldError[] = []
  error(path: string, message: string): void {
    this.errors.push({ path, message })
  }
  string(o: Obj, key: string, path: string, required: boolean): string | undefined {
    const v = o[key]
    if (v === undefined || v === null || v === '') {
      if (required) this.error(path, `required; the source gave no ${key}`)
      return undefined
    }
    if (typeof v !== 'string') return void this.error(path, `expected text, got ${identifying(path) ? typeof v : show(v)}`)
    return v
  }
  date(o: Obj, key: string, path: string, required: boolean, withTime: boolean): void {
    const v = this.string(o, key, path, required)
    if (v === undefined) return
    const m = (withTime ? DATE_TIME : DATE).exec(v)
    if (!m || !realDate(+m[1]!, +m[2]!, +m[3]!)) {
      this.error(path, `${identifying(path) ? 'the value' : show(v)} is not a valid date (${withTime ? 'YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]' : 'YYYY-MM-DD'}); check the adapter's date format for this column`)
    }
  }
  oneOf(o: Obj, key: string, path: string, allowed: readonly string[], required: boolean): void {
    const v = o[key]
    if (v === undefined || v === null || v === '') {
      if (required) this.error(path, `required; one of ${allowed.join(', ')}`)
      return
    }
    if (typeof v !== 'string' || !allowed.includes(v)) this.error(path, `${identifying(path) ? 'the value' : show(v)} is not one of ${allowed.join(', ')}; add a value map entry for it in the adapter`)
  }
  number(o: Obj, key: string, path: string, min: number): void {
    const v = o[key]
    if (v === undefined) return
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) this.error(path, `expected a number ≥ ${min}, got ${show(v)}`)
  }
  array(o: Obj, key: string, path: string, required: boolean): unknown[] {
    const v = o[key]
    if (v === undefined) {
      if (required) this.error(path, 'required (an empty list when there are none)')
      return []
    }
    if (!Array.isArray(v)) return this.error(path, `expected a list, got ${show(v)}`), []
    return v
  }
  /** A coded term drawn from one of `lists` (or an external system, checked by form). */
  coded(v: unknown, path: string, lists: readonly CodeListName[], required = true): void {
    if (v === undefined || v === null) {
      if (required) this.error(path, 'required coded term')
      return
    }
    if (!isObj(v)) return this.error(path, `expected a coded term {system, code}, got ${show(v)}`)
    const system = v.system
    const code = v.code
    if (typeof system !== 'string' || system === '') return this.error(`${path}.system`, 'required')
    if (typeof code !== 'string' || code === '') return this.error(`${path}.code`, 'required')
    if (v.meaning !== undefined && typeof v.meaning !== 'string') this.error(`${path}.meaning`, `expected text, got ${show(v.meaning)}`)
    if (isLocalSystem(system)) {
      return this.error(`${path}.code`, `unmapped ${system} code ${show(code)}: add it to the adapter's term map for this field`)
    }
    const shipped = lists.map((n) => CODE_LISTS.get(n)!).filter((l) => l.system === system)
    if (shipped.length > 0) {
      if (!shipped.some((l) => l.terms.has(code))) {
        this.error(`${path}.code`, `unknown ${system} code ${show(code)} for system ${system}; add it to the adapter's term map (codes: kura.record vocabularies, ${lists.join('/')} list)`)
      }
      return
    }
    const pattern = EXTERNAL_SYSTEMS.get(system)
    if (pattern) {
      if (!pattern.test(code)) this.error(`${path}.code`, `${show(code)} is not a well-formed ${system} code`)
      return
    }
    const expected = [...new Set(lists.map((n) => CODE_LISTS.get(n)!.system))]
    this.error(`${path}.system`, `system ${show(system)} is not used for this field; expected ${expected.join(' or ')}`)
  }
  codedList(o: Obj, key: string, path: string, lists: readonly CodeListName[], required = true): void {
    this.array(o, key, path, required).forEach((c, i) => this.coded(c, `${path}[${i}]`, lists))
  }
}

const DIAGNOSIS_LISTS: CodeListName[] = ['diagnosis']

function checkBase(c: Checker, r: Obj): void {
  if (r.schema !== RECORD_SCHEMA) c.error('schema', `expected '${RECORD_SCHEMA}', got ${show(r.schema)}`)
  c.string(r, 'recordId', 'recordId', true)
  if (!isObj(r.source)) c.error('source', 'required {system, ref}')
  else {
    c.string(r.source, 'system', 'source.system', true)
    c.string(r.source, 'ref', 'source.ref', true)
  }
  if (!isObj(r.subject)) c.error('subject', 'required; the record must say whose it is')
  else {
    const s = r.subject
    const id = c.string(s, 'patientId', 'subject.patientId', true)
    if (id !== undefined && id.trim() === '') c.error('subject.patientId', 'is blank')
    if (s.name !== undefined) {
      if (!isObj(s.name)) c.error('subject.name', `expected {kanji, kana, alphabetic}, got ${show(s.name)}`)
      else for (const k of ['kanji', 'kana', 'alphabetic']) c.string(s.name, k, `subject.name.${k}`, false)
    }
    c.date(s, 'birthDate', 'subject.birthDate', false, false)
    c.oneOf(s, 'sex', 'subject.sex', SEXES, false)
    for (const k of ['address', 'postalCode', 'phone']) c.string(s, k, `subject.${k}`, false)
  }
  c.date(r, 'performedAt', 'performedAt', true, true)
  c.array(r, 'images', 'images', true).forEach((im, i) => {
    const p = `images[${i}]`
    if (!isObj(im)) return c.error(p, 'expected {studyInstanceUid, ...}')
    for (const k of ['studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid']) {
      const v = c.string(im, k, `${p}.${k}`, k === 'studyInstanceUid')
      if (v !== undefined && (!UID.test(v) || v.length > 64)) c.error(`${p}.${k}`, `${show(v)} is not a DICOM UID (digits and dots, at most 64 characters)`)
    }
  })
  c.string(r, 'department', 'department', false)
  c.string(r, 'text', 'text', false)
}

function checkStaff(c: Checker, r: Obj): void {
  c.array(r, 'staff', 'staff', true).forEach((s, i) => {
    const p = `staff[${i}]`
    if (!isObj(s)) return c.error(p, 'expected {role, id}')
    c.oneOf(s, 'role', `${p}.role`, STAFF_ROLES, true)
    c.string(s, 'id', `${p}.id`, true)
    c.string(s, 'name', `${p}.name`, false)
  })
}

function checkEndoscopy(c: Checker, r: Obj): void {
  c.oneOf(r, 'examType', 'examType', EXAM_TYPE_CODES, true)
  c.codedList(r, 'indication', 'indication', ['indication'])
  if (!isObj(r.sedation)) c.error('sedation', 'required {used, drugs}')
  else {
    if (typeof r.sedation.used !== 'boolean') c.error('sedation.used', `expected true or false, got ${show(r.sedation.used)}; add a value map for this column`)
    c.codedList(r.sedation, 'drugs', 'sedation.drugs', ['sedation'])
  }
  c.codedList(r, 'antithrombotics', 'antithrombotics', ['antithrombotic'])
  c.oneOf(r, 'hPylori', 'hPylori', H_PYLORI, true)
  c.array(r, 'findings', 'findings', true).forEach((f, i) => {
    const p = `findings[${i}]`
    if (!isObj(f)) return c.error(p, 'expected {site, term}')
    c.coded(f.site, `${p}.site`, ['site'])
    c.coded(f.term, `${p}.term`, ['finding'])
    c.codedList(f, 'classification', `${p}.classification`, ['paris', 'jnet'], false)
    c.number(f, 'sizeMm', `${p}.sizeMm`, 0)
    c.number(f, 'count', `${p}.count`, 1)
    c.string(f, 'note', `${p}.note`, false)
  })
  c.codedList(r, 'diagnoses', 'diagnoses', DIAGNOSIS_LISTS)
  c.codedList(r, 'procedures', 'procedures', ['procedure'])
  c.codedList(r, 'adverseEvents', 'adverseEvents', ['adverse-event'])
  if (r.scope !== undefined && !isObj(r.scope)) c.error('scope', `expected {model, serial}, got ${show(r.scope)}`)
  checkStaff(c, r)
}

function checkPathology(c: Checker, r: Obj): void {
  if (!isObj(r.specimen)) c.error('specimen', 'required {type, site}')
  else {
    c.coded(r.specimen.type, 'specimen.type', ['specimen-type'])
    c.coded(r.specimen.site, 'specimen.site', ['site'])
    c.number(r.specimen, 'count', 'specimen.count', 1)
  }
  c.codedList(r, 'diagnoses', 'diagnoses', DIAGNOSIS_LISTS)
  c.oneOf(r, 'group', 'group', GROUPS, false)
  checkStaff(c, r)
}

function checkRadiology(c: Checker, r: Obj): void {
  const m = c.string(r, 'modality', 'modality', true)
  if (m !== undefined && !/^[A-Z]{2,16}$/.test(m)) c.error('modality', `${show(m)} is not a DICOM modality code (CT, MR, CR, ...)`)
  if (r.bodyPart !== undefined) c.coded(r.bodyPart, 'bodyPart', ['site'])
  c.string(r, 'findingsText', 'findingsText', false)
  c.string(r, 'impression', 'impression', false)
  checkStaff(c, r)
}

/**
 * Every problem with `record` (any input: a parsed JSON value is fine), in field order; [] when it is a valid
 * `kura.record/1` record. Never throws on bad input.
 */
export function validateRecord(record: unknown): FieldError[] {
  const c = new Checker()
  if (!isObj(record)) return [{ path: '$', message: `expected a record object, got ${show(record)}` }]
  checkBase(c, record)
  switch (record.kind) {
    case 'endoscopy': checkEndoscopy(c, record); break
    case 'pathology': checkPathology(c, record); break
    case 'radiology': checkRadiology(c, record); break
    case 'patient': break
    default: c.error('kind', `expected one of ${RECORD_KINDS.join(', ')}, got ${show(record.kind)}`)
  }
  return c.errors
}
