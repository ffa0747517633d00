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
import { CODE_LISTS, EXTERNAL_SYSTEMS, isLocalSystem, type CodeList, type CodeListName } from './codes/index.ts'
import { EXAM_TYPES } from './codes/kura.ts'
import { RECORD_KINDS, RECORD_SCHEMA, type FieldError } from './types.ts'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const show = (v: unknown): string => {
  const s = typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v)
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}

/**
 * `YYYY-MM-DD` that is a real day, or with `withTime` also `YYYY-MM-DDTHH:MM[:SS]` (hours 00–23, minutes 00–59,
 * seconds 00–60). Read by char codes, not a regular expression and its match array: every record has one or two.
 */
function isoDate(v: string, withTime: boolean): boolean {
  const n = v.length
  if (n !== 10 && !(withTime && (n === 16 || n === 19))) return false
  if (!digits(v, 0, 4) || v.charCodeAt(4) !== 0x2d || !digits(v, 5, 2) || v.charCodeAt(7) !== 0x2d || !digits(v, 8, 2)) return false
  if (n > 10) {
    if (v.charCodeAt(10) !== 0x54 || !digits(v, 11, 2) || v.charCodeAt(13) !== 0x3a || !digits(v, 14, 2)) return false
    if (number(v, 11, 2) > 23 || number(v, 14, 2) > 59) return false
    if (n === 19 && (v.charCodeAt(16) !== 0x3a || !digits(v, 17, 2) || number(v, 17, 2) > 60)) return false
  }
  return realDate(number(v, 0, 4), number(v, 5, 2), number(v, 8, 2))
}

/** `count` ASCII digits from `at`. */
function digits(v: string, at: number, count: number): boolean {
  for (let i = at; i < at + count; i++) {
    const c = v.charCodeAt(i)
    if (!(c >= 0x30 && c <= 0x39)) return false
  }
  return true
}

/** The `count` digits from `at` as a number (they are known to be digits). */
function number(v: string, at: number, count: number): number {
  let x = 0
  for (let i = at; i < at + count; i++) x = x * 10 + v.charCodeAt(i) - 0x30
  return x
}
const UID = /^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*$/
const SEXES = ['M', 'F', 'O', 'U']
const H_PYLORI = ['positive', 'negative', 'eradicated', 'unknown']
const GROUPS = ['X', '1', '2', '3', '4', '5']
const STAFF_ROLES = ['endoscopist', 'assistant', 'nurse', 'pathologist', 'radiologist', 'anesthesiologist', 'other']
const EXAM_TYPE_CODES = EXAM_TYPES.map((e) => e.code as string)

/** Days in month `m` (1–12) of year `y` (≥ 1, proleptic Gregorian); arithmetic, not a Date per call. */
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** A real calendar day: year ≥ 1, month 1–12, day within the month. */
export function realDate(y: number, m: number, d: number): boolean {
  if (!(y >= 1 && m >= 1 && m <= 12 && d >= 1)) return false
  const leap = m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
  return d <= (leap ? 29 : MONTH_DAYS[m - 1])
}

/** A subject's own values are never quoted in messages (they reach logs and held-record lists). */
const identifying = (path: string): boolean => path.startsWith('subject.') || path === 'recordId'

/**
 * The path of `key` under `at` (`''` at the top): `subject.sex`, `findings[2]`. Checks pass the two parts and
 * only a reported problem joins them: a valid record (nearly every one) builds no path strings.
 */
const pathOf = (at: string, key: string | number): string => (typeof key === 'number' ? `${at}[${key}]` : at ? `${at}.${key}` : key)

/** The code lists a field draws from, resolved once: the shipped lists by system, and the systems in list order. */
class FieldLists {
  readonly bySystem = new Map<string, CodeList[]>()
  readonly systems: string[] = []
  constructor(readonly names: readonly CodeListName[]) {
    for (const n of names) {
      const l = CODE_LISTS.get(n)!
      const same = this.bySystem.get(l.system)
      if (same) same.push(l)
      else { this.bySystem.set(l.system, [l]); this.systems.push(l.system) }
    }
  }
}

const SITE = new FieldLists(['site'])
const FINDING = new FieldLists(['finding'])
const DIAGNOSIS = new FieldLists(['diagnosis'])
const INDICATION = new FieldLists(['indication'])
const SEDATION = new FieldLists(['sedation'])
const ANTITHROMBOTIC = new FieldLists(['antithrombotic'])
const PROCEDURE = new FieldLists(['procedure'])
const ADVERSE_EVENT = new FieldLists(['adverse-event'])
const CLASSIFICATION = new FieldLists(['paris', 'jnet'])
const SPECIMEN_TYPE = new FieldLists(['specimen-type'])

const NAME_KEYS = ['kanji', 'kana', 'alphabetic']
const CONTACT_KEYS = ['address', 'postalCode', 'phone']
const IMAGE_UID_KEYS = ['studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid']
const NONE: readonly unknown[] = []

/** Collects errors for one record; each check takes the field's key and the path it sits under (`at`). */
class Checker {
  readonly errors: FieldError[] = []
  error(path: string, message: string): void {
    this.errors.push({ path, message })
  }
  string(o: Obj, key: string, at: string, required: boolean): string | undefined {
    const v = o[key]
    if (v === undefined || v === null || v === '') {
      if (required) this.error(pathOf(at, key), `required; the source gave no ${key}`)
      return undefined
    }
    if (typeof v !== 'string') {
      const path = pathOf(at, key)
      return void this.error(path, `expected text, got ${identifying(path) ? typeof v : show(v)}`)
    }
    return v
  }
  date(o: Obj, key: string, at: string, required: boolean, withTime: boolean): void {
    const v = this.string(o, key, at, required)
    if (v === undefined) return
    if (!isoDate(v, withTime)) {
      const path = pathOf(at, key)
      this.error(path, `${identifying(path) ? 'the value' : show(v)} is not a valid date (${withTime ? 'YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]' : 'YYYY-MM-DD'}); check the adapter's date format for this column`)
    }
  }
  oneOf(o: Obj, key: string, at: string, allowed: readonly string[], required: boolean): void {
    const v = o[key]
    if (v === undefined || v === null || v === '') {
      if (required) this.error(pathOf(at, key), `required; one of ${allowed.join(', ')}`)
      return
    }
    if (typeof v !== 'string' || !allowed.includes(v)) {
      const path = pathOf(at, key)
      this.error(path, `${identifying(path) ? 'the value' : show(v)} is not one of ${allowed.join(', ')}; add a value map entry for it in the adapter`)
    }
  }
  number(o: Obj, key: string, at: string, min: number): void {
    const v = o[key]
    if (v === undefined) return
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) this.error(pathOf(at, key), `expected a number ≥ ${min}, got ${show(v)}`)
  }
  array(o: Obj, key: string, at: string, required: boolean): readonly unknown[] {
    const v = o[key]
    if (v === undefined) {
      if (required) this.error(pathOf(at, key), 'required (an empty list when there are none)')
      return NONE
    }
    if (!Array.isArray(v)) return this.error(pathOf(at, key), `expected a list, got ${show(v)}`), NONE
    return v
  }
  /** A coded term drawn from one of `lists` (or an external system, checked by form), at `pathOf(at, key)`. */
  coded(v: unknown, at: string, key: string | number, lists: FieldLists, required = true): void {
    if (v === undefined || v === null) {
      if (required) this.error(pathOf(at, key), 'required coded term')
      return
    }
    if (!isObj(v)) return this.error(pathOf(at, key), `expected a coded term {system, code}, got ${show(v)}`)
    const system = v.system
    const code = v.code
    if (typeof system !== 'string' || system === '') return this.error(`${pathOf(at, key)}.system`, 'required')
    if (typeof code !== 'string' || code === '') return this.error(`${pathOf(at, key)}.code`, 'required')
    if (v.meaning !== undefined && typeof v.meaning !== 'string') this.error(`${pathOf(at, key)}.meaning`, `expected text, got ${show(v.meaning)}`)
    if (isLocalSystem(system)) {
      return this.error(`${pathOf(at, key)}.code`, `unmapped ${system} code ${show(code)}: add it to the adapter's term map for this field`)
    }
    const shipped = lists.bySystem.get(system)
    if (shipped !== undefined) {
      if (!shipped.some((l) => l.terms.has(code))) {
        this.error(`${pathOf(at, key)}.code`, `unknown ${system} code ${show(code)} for system ${system}; add it to the adapter's term map (codes: kura.record vocabularies, ${lists.names.join('/')} list)`)
      }
      return
    }
    const pattern = EXTERNAL_SYSTEMS.get(system)
    if (pattern) {
      if (!pattern.test(code)) this.error(`${pathOf(at, key)}.code`, `${show(code)} is not a well-formed ${system} code`)
      return
    }
    this.error(`${pathOf(at, key)}.system`, `system ${show(system)} is not used for this field; expected ${lists.systems.join(' or ')}`)
  }
  codedList(o: Obj, key: string, at: string, lists: FieldLists, required = true): void {
    const items = this.array(o, key, at, required)
    if (items.length === 0) return
    const path = pathOf(at, key)
    for (let i = 0; i < items.length; i++) if (i in items) this.coded(items[i], path, i, lists)
  }
}

function checkBase(c: Checker, r: Obj): void {
  if (r.schema !== RECORD_SCHEMA) c.error('schema', `expected '${RECORD_SCHEMA}', got ${show(r.schema)}`)
  c.string(r, 'recordId', '', true)
  if (!isObj(r.source)) c.error('source', 'required {system, ref}')
  else {
    c.string(r.source, 'system', 'source', true)
    c.string(r.source, 'ref', 'source', true)
  }
  if (!isObj(r.subject)) c.error('subject', 'required; the record must say whose it is')
  else {
    const s = r.subject
    const id = c.string(s, 'patientId', 'subject', true)
    if (id !== undefined && id.trim() === '') c.error('subject.patientId', 'is blank')
    if (s.name !== undefined) {
      if (!isObj(s.name)) c.error('subject.name', `expected {kanji, kana, alphabetic}, got ${show(s.name)}`)
      else for (const k of NAME_KEYS) c.string(s.name, k, 'subject.name', false)
    }
    c.date(s, 'birthDate', 'subject', false, false)
    c.oneOf(s, 'sex', 'subject', SEXES, false)
    for (const k of CONTACT_KEYS) c.string(s, k, 'subject', false)
  }
  c.date(r, 'performedAt', '', true, true)
  const images = c.array(r, 'images', '', true)
  for (let i = 0; i < images.length; i++) {
    if (!(i in images)) continue // a hole in a sparse list: not an element (as forEach skipped it)
    const im = images[i]
    if (!isObj(im)) { c.error(`images[${i}]`, 'expected {studyInstanceUid, ...}'); continue }
    for (const k of IMAGE_UID_KEYS) {
      const v = c.string(im, k, `images[${i}]`, k === 'studyInstanceUid')
      if (v !== undefined && (!UID.test(v) || v.length > 64)) c.error(`images[${i}].${k}`, `${show(v)} is not a DICOM UID (digits and dots, at most 64 characters)`)
    }
  }
  c.string(r, 'department', '', false)
  c.string(r, 'text', '', false)
}

function checkStaff(c: Checker, r: Obj): void {
  const staff = c.array(r, 'staff', '', true)
  for (let i = 0; i < staff.length; i++) {
    if (!(i in staff)) continue
    const s = staff[i]
    const p = `staff[${i}]`
    if (!isObj(s)) { c.error(p, 'expected {role, id}'); continue }
    c.oneOf(s, 'role', p, STAFF_ROLES, true)
    c.string(s, 'id', p, true)
    c.string(s, 'name', p, false)
  }
}

function checkEndoscopy(c: Checker, r: Obj): void {
  c.oneOf(r, 'examType', '', EXAM_TYPE_CODES, true)
  c.codedList(r, 'indication', '', INDICATION)
  if (!isObj(r.sedation)) c.error('sedation', 'required {used, drugs}')
  else {
    if (typeof r.sedation.used !== 'boolean') c.error('sedation.used', `expected true or false, got ${show(r.sedation.used)}; add a value map for this column`)
    c.codedList(r.sedation, 'drugs', 'sedation', SEDATION)
  }
  c.codedList(r, 'antithrombotics', '', ANTITHROMBOTIC)
  c.oneOf(r, 'hPylori', '', H_PYLORI, true)
  const findings = c.array(r, 'findings', '', true)
  for (let i = 0; i < findings.length; i++) {
    if (!(i in findings)) continue
    const f = findings[i]
    const p = `findings[${i}]`
    if (!isObj(f)) { c.error(p, 'expected {site, term}'); continue }
    c.coded(f.site, p, 'site', SITE)
    c.coded(f.term, p, 'term', FINDING)
    c.codedList(f, 'classification', p, CLASSIFICATION, false)
    c.number(f, 'sizeMm', p, 0)
    c.number(f, 'count', p, 1)
    c.string(f, 'note', p, false)
  }
  c.codedList(r, 'diagnoses', '', DIAGNOSIS)
  c.codedList(r, 'procedures', '', PROCEDURE)
  c.codedList(r, 'adverseEvents', '', ADVERSE_EVENT)
  if (r.scope !== undefined && !isObj(r.scope)) c.error('scope', `expected {model, serial}, got ${show(r.scope)}`)
  checkStaff(c, r)
}

function checkPathology(c: Checker, r: Obj): void {
  if (!isObj(r.specimen)) c.error('specimen', 'required {type, site}')
  else {
    c.coded(r.specimen.type, 'specimen', 'type', SPECIMEN_TYPE)
    c.coded(r.specimen.site, 'specimen', 'site', SITE)
    c.number(r.specimen, 'count', 'specimen', 1)
  }
  c.codedList(r, 'diagnoses', '', DIAGNOSIS)
  c.oneOf(r, 'group', '', GROUPS, false)
  checkStaff(c, r)
}

function checkRadiology(c: Checker, r: Obj): void {
  const m = c.string(r, 'modality', '', true)
  if (m !== undefined && !/^[A-Z]{2,16}$/.test(m)) c.error('modality', `${show(m)} is not a DICOM modality code (CT, MR, CR, ...)`)
  if (r.bodyPart !== undefined) c.coded(r.bodyPart, '', 'bodyPart', SITE)
  c.string(r, 'findingsText', '', false)
  c.string(r, 'impression', '', false)
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
