import { test } from 'node:test'
import assert from 'node:assert/strict'
import { validateRecord } from './validate.ts'
import { CODE_LISTS, MST_NOTICE } from './codes/index.ts'
import type { EndoscopyRecord } from './types.ts'

const good = (): EndoscopyRecord => ({
  schema: 'kura.record/1',
  kind: 'endoscopy',
  recordId: 'E1',
  source: { system: 'adapter:test', ref: 'x.csv:2' },
  subject: { patientId: '00012345', birthDate: '1980-03-01', sex: 'M' },
  performedAt: '2023-04-01T09:30',
  images: [{ studyInstanceUid: '1.2.3.4' }],
  examType: 'upper-gi',
  indication: [{ system: 'KURA', code: 'IND-SCREENING' }],
  sedation: { used: true, drugs: [{ system: 'KURA', code: 'SED-MIDAZOLAM' }] },
  antithrombotics: [{ system: 'KURA', code: 'AT-DOAC' }],
  hPylori: 'eradicated',
  findings: [
    { site: { system: 'MST3', code: 'ST-ANGLE' }, term: { system: 'MST3', code: 'FD-ULCER' } },
    { site: { system: 'MST3', code: 'CO-SIG' }, term: { system: 'MST3', code: 'FD-POLYP' }, classification: [{ system: 'PARIS', code: '0-Is' }, { system: 'JNET', code: '2A' }], sizeMm: 6 },
  ],
  diagnoses: [{ system: 'MST3', code: 'DX-GASTRIC-ULCER' }, { system: 'ICD10', code: 'K25.3' }],
  procedures: [{ system: 'KURA', code: 'PR-BIOPSY' }],
  adverseEvents: [],
  staff: [{ role: 'endoscopist', id: 'D01' }],
})

test('a well-formed endoscopy record has no errors', () => {
  assert.deepEqual(validateRecord(good()), [])
})

test('errors name the field path and what to do', () => {
  const r = good() as unknown as Record<string, any>
  r.findings[1].site.code = 'X'
  r.findings[0].term = { system: 'LOCAL:site1', code: '胃のただれ' }
  r.examType = 'gastroscopy'
  r.performedAt = '2023-02-30'
  r.subject.patientId = ''
  r.antithrombotics[0].system = 'MST3'
  r.images[0].studyInstanceUid = '1.2.abc'
  const errs = validateRecord(r)
  const by = new Map(errs.map((e) => [e.path, e.message]))
  assert.match(by.get('findings[1].site.code')!, /unknown MST3 code 'X' for system MST3; add it to the adapter's term map/)
  assert.match(by.get('findings[0].term.code')!, /unmapped LOCAL:site1 code '胃のただれ'.*term map/)
  assert.match(by.get('examType')!, /not one of upper-gi, colonoscopy, small-bowel, ercp/)
  assert.match(by.get('performedAt')!, /not a valid date/)
  assert.match(by.get('subject.patientId')!, /required/)
  assert.match(by.get('antithrombotics[0].system')!, /system 'MST3' is not used for this field; expected KURA/)
  assert.match(by.get('images[0].studyInstanceUid')!, /not a DICOM UID/)
  assert.equal(errs.length, 7)
})

test('required fields per kind, and unknown kinds', () => {
  const base = { schema: 'kura.record/1', recordId: 'P1', source: { system: 's', ref: 'r' }, subject: { patientId: '1' }, performedAt: '2024-01-02', images: [] }
  const path = validateRecord({ ...base, kind: 'pathology' }).map((e) => e.path)
  assert.deepEqual(path, ['specimen', 'diagnoses', 'staff'])
  const rad = validateRecord({ ...base, kind: 'radiology', modality: 'ct', staff: [] }).map((e) => e.path)
  assert.deepEqual(rad, ['modality'])
  assert.deepEqual(validateRecord({ ...base, kind: 'patient' }), [])
  assert.deepEqual(validateRecord({ ...base, kind: 'dental' }).map((e) => e.path), ['kind'])
  const endo = validateRecord({ ...base, kind: 'endoscopy' }).map((e) => e.path)
  for (const p of ['examType', 'indication', 'sedation', 'antithrombotics', 'hPylori', 'findings', 'diagnoses', 'procedures', 'adverseEvents', 'staff']) assert.ok(endo.includes(p), p)
  assert.deepEqual(validateRecord(null), [{ path: '$', message: 'expected a record object, got null' }])
})

test('date formats: date-only and date-time, real calendar days', () => {
  const r = good()
  for (const ok of ['2024-02-29', '2023-04-01T09:30', '2023-04-01T23:59:59']) assert.deepEqual(validateRecord({ ...r, performedAt: ok }), [], ok)
  for (const bad of ['2023-02-29', '2023/04/01', '20230401', '2023-04-01T24:00', '2023-04-01 09:30']) assert.equal(validateRecord({ ...r, performedAt: bad }).length, 1, bad)
  assert.equal(validateRecord({ ...r, subject: { ...r.subject, birthDate: '1980-03-01T00:00' } })[0]?.path, 'subject.birthDate')
})

test('shipped code lists are distinct and carry the MST notice', () => {
  for (const l of CODE_LISTS.values()) assert.ok(l.terms.size > 0, l.name)
  assert.ok(CODE_LISTS.get('site')!.terms.size >= 30)
  assert.match(MST_NOTICE, /Minimal Standard Terminology.*MST 3\.0.*World Endoscopy Organization/)
})

test('dates are checked as the regular expressions and calendar check did', () => {
  const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
  const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d|60))?)?$/
  const day = (y: number, m: number, d: number) => {
    const t = new Date(Date.UTC(2000, m - 1, d))
    t.setUTCFullYear(y)
    return y >= 1 && m >= 1 && m <= 12 && t.getUTCMonth() === m - 1 && t.getUTCDate() === d
  }
  const plain = (v: string, withTime: boolean) => { const m = (withTime ? DATE_TIME : DATE).exec(v); return !!m && day(+m[1]!, +m[2]!, +m[3]!) }
  let seed = 7
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n)
  const alphabet = '0123456789-T: ４'
  const seeds = ['2024-01-05', '2024-02-29', '2023-02-29', '1900-02-29', '2000-02-29', '0000-01-01', '2024-01-05T23:59', '2024-01-05T24:00', '2024-01-05T12:30:60', '2024-01-05T12:30:61', '2024-13-01', '2024-01-05T1:30']
  const values = [...seeds]
  for (let i = 0; i < 30_000; i++) {
    let v = seeds[rnd(seeds.length)]!
    for (let j = rnd(4); j > 0; j--) { const at = rnd(v.length + 1); v = v.slice(0, at) + (rnd(2) ? alphabet[rnd(alphabet.length)] : '') + v.slice(at + rnd(2)) }
    values.push(v)
  }
  for (const v of values) {
    const errors = validateRecord({ ...good(), performedAt: v, subject: { patientId: '1', birthDate: v } })
    assert.equal(!errors.some((e) => e.path === 'performedAt'), plain(v, true), `performedAt ${v}`)
    assert.equal(!errors.some((e) => e.path === 'subject.birthDate'), plain(v, false), `birthDate ${v}`)
  }
})
