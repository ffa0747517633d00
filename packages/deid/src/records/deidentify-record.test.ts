import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getString, readDicomBuffer } from '@kura/dicom'
import { synthStudies } from '@kura/dicom/synth'
import { readVendorExport, shippedAdapter, type ClinicalRecord, type EndoscopyRecord } from '@kura/records'
import { generateVendorExport } from '@kura/records/synth'
import { deidentifyBytes } from '../engine/bytes.ts'
import { parsePolicy } from '../policy/schema.ts'
import { BASIC_POLICY } from '../policy/policy.ts'
import { pseudonymizer } from '../keys/pseudonym.ts'
import { deidentifyRecord, type RecordDeidContext } from './deidentify-record.ts'
import { collectRecordIdentifiers, recordIdentifiers } from './identifiers.ts'
import { verifyRecord } from './verify-record.ts'
import { romajiOf } from './romaji.ts'
import { fewIdentifiersMatcher, haystackMatcher, identifierMatcher, textHaystack } from '../verify/scan.ts'
import type { Identifier } from '../verify/identifiers.ts'

const SECRET = new Uint8Array(32).map((_, i) => i * 7 + 1)
const MODIFIED = parsePolicy({ id: 'dates', version: '3', profile: 'basic', options: ['retainLongitudinalModifiedDates'] }, 'test')
const ctx = (policy = MODIFIED): RecordDeidContext => ({ secret: SECRET, collection: 'jed', policy })

const record = (over: Partial<EndoscopyRecord> = {}): EndoscopyRecord => ({
  schema: 'kura.record/1',
  kind: 'endoscopy',
  recordId: 'E2023000123',
  source: { system: 'adapter:vendor-a-csv', ref: 'export.csv:12-14' },
  subject: {
    patientId: '00012345',
    name: { kanji: '能登 太郎', kana: 'ノト タロウ' },
    birthDate: '1980-03-01',
    sex: 'M',
    address: '石川県七尾市能登島向田町1-2-3',
    postalCode: '926-0211',
    phone: '0767-84-1234',
  },
  performedAt: '2023-04-01T09:30',
  images: [{ studyInstanceUid: '1.2.392.200036.9116.2.2.2.1762893313.1029997326.945873' }],
  examType: 'upper-gi',
  indication: [],
  sedation: { used: false, drugs: [] },
  antithrombotics: [],
  hPylori: 'unknown',
  findings: [{ site: { system: 'MST3', code: 'ST-ANGLE' }, term: { system: 'MST3', code: 'FD-ULCER' }, note: 'ﾉﾄ ﾀﾛｳ様の胃角に潰瘍' }],
  diagnoses: [],
  procedures: [],
  adverseEvents: [],
  staff: [{ role: 'endoscopist', id: 'D0107', name: '能勢 健一' }],
  scope: { model: 'GIF-H290Z', serial: '2812345' },
  text: '',
  ...over,
})

test('same pseudonymous subject, date shift and study UID as the DICOM engine for the same patient', async () => {
  const inst = [...synthStudies({ studies: 2, seriesPerStudy: 1, instancesPerSeries: 1, modality: 'ES', sizes: { ES: { rows: 8, columns: 8 } }, seed: 4 })][1]!
  const { output } = await deidentifyBytes(inst.bytes, { policy: MODIFIED, secret: SECRET, collection: 'jed' })
  const src = readDicomBuffer(inst.bytes).dataset
  const out = readDicomBuffer(output).dataset
  const studyDate = getString(src, 0x00080020)!.trim()
  const r = record({
    subject: { patientId: inst.patientId },
    performedAt: `${studyDate.slice(0, 4)}-${studyDate.slice(4, 6)}-${studyDate.slice(6, 8)}T10:15`,
    images: [{ studyInstanceUid: inst.studyInstanceUid, seriesInstanceUid: inst.seriesInstanceUid, sopInstanceUid: inst.sopInstanceUid }],
  })
  const d = deidentifyRecord(r, ctx())
  assert.equal(d.subject.id, getString(out, 0x00100020)!.trim())
  const shifted = getString(out, 0x00080020)!.trim()
  assert.notEqual(shifted, studyDate)
  assert.equal(d.performedAt, `${shifted.slice(0, 4)}-${shifted.slice(4, 6)}-${shifted.slice(6, 8)}T10:15`)
  assert.deepEqual(d.images, [{
    studyInstanceUid: getString(out, 0x0020000d)!.trim(),
    seriesInstanceUid: getString(out, 0x0020000e)!.trim(),
    sopInstanceUid: getString(out, 0x00080018)!.trim(),
  }])
  // A record keyed differently (another collection) gets another subject.
  assert.notEqual(deidentifyRecord(r, { ...ctx(), collection: 'other' }).subject.id, d.subject.id)
})

test('identity replaced, ids pseudonymised, source.ref dropped, policy recorded', () => {
  const d = deidentifyRecord(record(), ctx()) as Extract<ReturnType<typeof deidentifyRecord>, { kind: 'endoscopy' }>
  const p = pseudonymizer(SECRET, 'jed')
  assert.deepEqual(d.subject, { id: p.patientId('00012345'), sex: 'M', birthYear: 1980 })
  assert.match(d.recordId, /^R[0-9A-Z]{16}$/)
  assert.notEqual(d.recordId.slice(1), d.subject.id.slice(1))
  assert.deepEqual(d.staff, [{ role: 'endoscopist', id: d.staff[0]!.id }])
  assert.match(d.staff[0]!.id, /^S[0-9A-Z]{16}$/)
  assert.deepEqual(d.source, { system: 'adapter:vendor-a-csv' })
  assert.deepEqual(d.scope, { model: 'GIF-H290Z' })
  assert.equal(d.deidentification.policy, 'dates')
  assert.equal(d.deidentification.version, '3')
  assert.match(d.deidentification.method, /kura\.record-deid\/1 \(KURA dates 3\)/)
  assert.equal(d.performedAt, `${shift('2023-04-01', p.dateShiftDays('00012345'))}T09:30`)
  // Deterministic.
  assert.deepEqual(deidentifyRecord(record(), ctx()), d)
  // Full dates kept when the policy says so; birth date removed by an override.
  const full = parsePolicy({ id: 'full', version: '1', profile: 'basic', options: ['retainLongitudinalFullDates'], overrides: [{ tag: '00100030', action: 'X' }] }, 't')
  const f = deidentifyRecord(record(), ctx(full))
  assert.equal(f.performedAt, '2023-04-01T09:30')
  assert.equal(f.subject.birthYear, undefined)
})

function shift(iso: string, days: number): string {
  const t = Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) + days * 86400000
  return new Date(t).toISOString().slice(0, 10)
}

test('free text is cleaned of the subject\'s identifiers in every script and format', () => {
  const texts = [
    '能登太郎様', '能登 太郎 様', 'のと たろう さん', 'ノトタロウ', 'ﾉﾄ ﾀﾛｳ', 'ＮＯＴＯ　ＴＡＲＯ', 'Noto Tarou', 'Mr. NOTO Taro', 'taroh noto',
    'ID 00012345', 'ＩＤ：０００１２３４５', '生年月日 1980/3/1', '1980年03月01日生', '昭和55年3月1日生', 'S55.3.1生', 's55.03.01', '19800301',
    '電話 0767-84-1234', '連絡先０７６７－８４－１２３４', '住所 石川県七尾市能登島向田町1-2-3', '七尾市能登島向田町1-2-3在住', '〒926-0211',
    '別の電話 03-5555-0101', '担当 能勢 健一 医師', '検査番号 E2023000123', '紹介元 東京都新宿区西新宿2-8-1', '大阪市北区梅田3丁目1番5号',
  ]
  const d = deidentifyRecord(record({ text: texts.join('。'), findings: texts.map((t) => ({ site: { system: 'MST3', code: 'ST-ANGLE' }, term: { system: 'MST3', code: 'FD-ULCER' }, note: `所見: ${t} 以上` })) }), ctx()) as unknown as EndoscopyRecord
  d.findings.forEach((f, i) => {
    assert.ok(f.note!.startsWith('所見: ') && f.note!.endsWith(' 以上'), texts[i])
    assert.ok(f.note!.includes('*'), `not cleaned: ${texts[i]} → ${f.note}`)
  })
  const ids = collectRecordIdentifiers(record())
  assert.deepEqual(verifyRecord(d, ids), [])
  // Ordinary clinical words survive.
  for (const clinical of ['胃角に潰瘍、生検2個。H. pylori 除菌後。', '前庭部に10mm大の0-IIc病変、JNET 2A。', 'S状結腸に5-6mmのポリープ3個、CSPで切除。']) {
    const plain = deidentifyRecord(record({ text: clinical }), ctx())
    assert.equal(plain.text, clinical)
    assert.deepEqual(verifyRecord(plain, collectRecordIdentifiers(record())), [])
  }
})

test('the verification scan finds an identifier planted anywhere, at any depth', () => {
  const ids = collectRecordIdentifiers(record())
  const d = deidentifyRecord(record(), ctx()) as unknown as EndoscopyRecord
  assert.deepEqual(verifyRecord(d, ids), [])
  const planted: Array<[string, (x: any) => void, string]> = [
    ['findings[0].note', (x) => (x.findings[0].note = 'のとたろう'), 'name'],
    ['findings[0].site.meaning', (x) => (x.findings[0].site.meaning = '昭和55年3月1日'), 'date'],
    ['scope.model', (x) => (x.scope.model = 'ID00012345'), 'id'],
    ['text', (x) => (x.text = 'call 090-1234-5678'), 'pattern:phone'],
    ['department', (x) => (x.department = 'ＮＯＴＯ　ＴＡＲＯＵ'), 'name'],
    ['findings[0].term.meaning', (x) => (x.findings[0].term.meaning = '紹介元 東京都新宿区西新宿２－８－１'), 'pattern:address'],
    ['text', (x) => (x.text = '大阪市北区梅田3丁目1番'), 'pattern:address'],
  ]
  for (const [path, plant, kind] of planted) {
    const copy = structuredClone(d)
    plant(copy)
    const f = verifyRecord(copy, ids)
    assert.ok(f.some((x) => x.path === path && x.kind === kind), `${path}: ${JSON.stringify(f)}`)
    for (const x of f) for (const v of ['能登', '00012345', '1980']) assert.ok(!x.reason.includes(v), 'findings never quote the value')
  }
  const leaked = { ...structuredClone(d), subject: { ...d.subject, patientId: 'x' }, source: { system: 's', ref: 'r' } }
  assert.deepEqual(verifyRecord(leaked, ids).map((f) => f.path), ['subject', 'source.ref'])
})

test('the scan reports a text leaked in several places at each, and never searches the ids and UIDs it made', () => {
  const ids = collectRecordIdentifiers(record())
  const d = deidentifyRecord(record(), ctx()) as unknown as EndoscopyRecord
  const copy = structuredClone(d) as any
  copy.findings[0].note = 'のとたろう'
  copy.text = 'のとたろう'
  copy.scope.model = 'のとたろう'
  assert.deepEqual(verifyRecord(copy, ids).map((f) => `${f.path} ${f.kind}`).sort(), ['findings[0].note name', 'scope.model name', 'text name'])
  // Keyed pseudonyms and UIDs are HMAC output: a coincidence there is not a leak (the same value elsewhere is).
  const made = structuredClone(d) as any
  made.recordId = '00012345'
  made.staff[0].id = '00012345'
  made.subject.id = '00012345'
  made.images[0].studyInstanceUid = '00012345'
  assert.deepEqual(verifyRecord(made, ids), [])
  made.staff[0].role = '00012345'
  made.images[0].note = '00012345'
  assert.deepEqual(verifyRecord(made, ids).map((f) => `${f.path} ${f.kind}`).sort(), ['images[0].note id', 'staff[0].role id'])
})

test('romaji from kana in Hepburn and Kunrei', () => {
  assert.deepEqual(romajiOf('ソウマ シュンスケ').sort(), ['shunsuke', 'souma', 'souma shunsuke', 'souma syunsuke', 'syunsuke'])
  assert.ok(romajiOf('ハットリ チヨ').includes('hattori chiyo'))
  assert.ok(romajiOf('ハットリ チヨ').includes('hattori tiyo'))
  assert.deepEqual(romajiOf('山田'), [])
})

test('generated vendor exports: no generated identifier survives de-identification, and the scan agrees', async () => {
  for (const layout of ['vendor-a-csv', 'vendor-b-xml'] as const) {
    const g = generateVendorExport({ layout, exams: 40, seed: 9 })
    const records: ClinicalRecord[] = []
    for await (const it of readVendorExport(g.bytes, shippedAdapter(layout))) if ('record' in it) records.push(it.record)
    assert.equal(records.length, g.exams.length)
    const out = records.map((r) => deidentifyRecord(r, ctx(BASIC_POLICY)))
    out.forEach((d, i) => assert.deepEqual(verifyRecord(d, collectRecordIdentifiers(records[i]!)), [], `${layout} record ${i}`))
    const all = JSON.stringify(out)
    for (const p of g.patients) {
      for (const v of [p.patientId, p.kanji, p.kanji.replace(' ', ''), p.kana.replace(' ', ''), p.romaji.toUpperCase(), p.phone, p.postalCode, p.address, p.birthDate.replaceAll('-', '/')]) {
        assert.ok(!all.includes(v), `${layout}: a generated identifier survived`)
      }
    }
    for (const s of g.staff) assert.ok(!all.includes(s.name) && !all.includes(`"${s.id}"`))
    for (const u of g.studyUids) assert.ok(!all.includes(u))
  }
})

test('pathology and radiology records: text fields cleaned, staff pseudonymised; a record without a patient ID is its study\'s subject', () => {
  const base = { schema: 'kura.record/1' as const, source: { system: 'ssmix2', ref: 'tree/000/123/...' }, subject: { patientId: '00012345', name: { kanji: '能登 太郎', kana: 'ノト タロウ' }, birthDate: '1980-03-01' }, images: [{ studyInstanceUid: '1.2.3.4.5' }] }
  const path: ClinicalRecord = {
    ...base, kind: 'pathology', recordId: 'PA-1', performedAt: '2023-04-03',
    specimen: { type: { system: 'KURA', code: 'SP-BIOPSY' }, site: { system: 'MST3', code: 'ST-ANGLE' }, count: 2 },
    diagnoses: [{ system: 'ICD10', code: 'C16.2', meaning: '胃癌' }], group: '5', staff: [{ role: 'pathologist', id: 'P77', name: '表 正樹' }],
    text: 'ノト タロウ様 生検2個 Group 5',
  }
  const rad: ClinicalRecord = {
    ...base, kind: 'radiology', recordId: 'RA-1', performedAt: '2023-04-05T14:00', modality: 'CT',
    findingsText: '能登太郎さん（S55.3.1生）胃壁肥厚', impression: 'Noto Taro: gastric wall thickening', staff: [{ role: 'radiologist', id: 'R12' }],
  }
  const ids = (r: ClinicalRecord) => collectRecordIdentifiers(r)
  const dp = deidentifyRecord(path, ctx()) as unknown as Record<string, unknown>
  const dr = deidentifyRecord(rad, ctx()) as unknown as Record<string, unknown>
  assert.equal(dp.text, '*様 生検2個 Group 5')
  assert.equal(dr.findingsText, '*さん（*生）胃壁肥厚')
  assert.equal(dr.impression, '*: gastric wall thickening')
  assert.deepEqual(verifyRecord(dp, ids(path)), [])
  assert.deepEqual(verifyRecord(dr, ids(rad)), [])
  // The same subject across kinds.
  assert.equal((dp.subject as { id: string }).id, (dr.subject as { id: string }).id)
  // No patient ID: keyed on the study exactly as the DICOM engine keys an object without PatientID.
  const p = pseudonymizer(SECRET, 'jed')
  const anon = deidentifyRecord({ ...rad, subject: { patientId: '' } }, ctx())
  assert.equal(anon.subject.id, p.patientId('\0study/1.2.3.4.5'))
  assert.equal(anon.performedAt, `${shift('2023-04-05', p.dateShiftDays('1.2.3.4.5'))}T14:00`)
  assert.throws(() => deidentifyRecord({ ...rad, subject: { patientId: ' ' }, images: [] }, ctx()), /DEID_RECORD_NO_SUBJECT|neither a patient ID/)
})

test('a subject\'s identifiers kept from record to record: the same output and findings as one flat list, staff and record ID per record', () => {
  // Two records of one subject with different record IDs and staff: the subject's part is shared (cached), each
  // record's own part is not, and a staff name or record ID planted in text is still cut and still found.
  const a = record({ recordId: 'E2023000123', text: '能勢 健一 E2023000123 ﾉﾄ ﾀﾛｳ', staff: [{ role: 'endoscopist', id: 'D0107', name: '能勢 健一' }] })
  const b = record({ recordId: 'E2023000999', text: '能勢 健一 E2023000123 大友 恵 E2023000999', staff: [{ role: 'endoscopist', id: 'D0200', name: '大友 恵' }] })
  const ra = recordIdentifiers(a)
  const rb = recordIdentifiers(b)
  assert.equal(ra.subject, rb.subject, 'one subject, one identifier list')
  assert.deepEqual([...ra.subject, ...ra.own], collectRecordIdentifiers(a))
  for (const r of [a, b]) {
    const split = deidentifyRecord(r, ctx(), recordIdentifiers(r))
    assert.deepEqual(split, deidentifyRecord(r, ctx(), collectRecordIdentifiers(r)))
    assert.deepEqual(verifyRecord(split, recordIdentifiers(r)), [])
  }
  assert.equal((deidentifyRecord(a, ctx()) as unknown as EndoscopyRecord).text, '* * *')
  // b's text still names a's endoscopist and record: not b's identifiers, so they stay; b's own are cut.
  assert.equal((deidentifyRecord(b, ctx()) as unknown as EndoscopyRecord).text, '能勢 健一 E2023000123 * *')
  // Planted back into the output, each part is found, in the order of the flat list.
  const leaked = { ...deidentifyRecord(b, ctx()), department: '大友恵 00012345 E2023000999' }
  const flat = verifyRecord(leaked, collectRecordIdentifiers(b))
  assert.deepEqual(verifyRecord(leaked, recordIdentifiers(b)), flat)
  assert.deepEqual(flat.map((f) => f.kind), ['id', 'id', 'name'])
})

test('a care team seen before (its needles and matcher kept by content): still cut from every record and still found', () => {
  const team = [{ role: 'endoscopist' as const, id: 'D0310', name: '七尾 和夫' }]
  const first = record({ recordId: 'E2024000001', text: '七尾 和夫 E2024000001', staff: team })
  // Another subject and record, the same endoscopist: the kept scrubber part and matcher serve it.
  const second = record({ recordId: 'E2024000002', text: '術者 七尾和夫 E2024000002', staff: team, subject: { patientId: '00099999', name: { kanji: '輪島 花子' } } })
  for (const r of [first, second, first, second]) {
    const d = deidentifyRecord(r, ctx(), recordIdentifiers(r)) as unknown as EndoscopyRecord
    assert.equal(d.text?.includes('七尾'), false, `staff name cut from ${r.recordId}`)
    assert.equal(d.text?.includes(r.recordId), false)
    assert.deepEqual(d, deidentifyRecord(r, ctx(), collectRecordIdentifiers(r)))
    const leaked = { ...d, department: `七尾 和夫 ${r.recordId}` }
    const found = verifyRecord(leaked, recordIdentifiers(r))
    assert.deepEqual(found, verifyRecord(leaked, collectRecordIdentifiers(r)))
    assert.deepEqual(found.map((f) => f.reason.split(' of ')[0]), ['recordId', 'staff[0].name'])
  }
})

test('one text seen by subjects in turn (what a text holds is kept per text): each subject\'s identifiers still cut and found', () => {
  // The same department text names subject B: it must be cut from B's records and stay in A's, however the
  // records alternate, and the scan must find B's name in it only for B (kept "absent" and findings are per set).
  const shared = '内科 輪島 花子 0767-84-9999'
  const subjectB = { patientId: '00077777', name: { kanji: '輪島 花子' } }
  const a = (id: string) => record({ recordId: id, department: shared, staff: [] })
  const b = (id: string) => record({ recordId: id, department: shared, staff: [], subject: subjectB })
  for (const r of [a('E1'), b('E2'), a('E3'), a('E4'), b('E5'), b('E6'), a('E7')]) {
    const isB = r.subject.patientId === subjectB.patientId
    const d = deidentifyRecord(r, ctx(), recordIdentifiers(r)) as unknown as EndoscopyRecord
    assert.equal(d.department, isB ? '内科 * *' : '内科 輪島 花子 *', r.recordId)
    assert.deepEqual(d, deidentifyRecord(r, ctx(), collectRecordIdentifiers(r)))
    const leaked = { ...d, department: shared, text: shared }
    const found = verifyRecord(leaked, recordIdentifiers(r))
    assert.deepEqual(found, verifyRecord(leaked, collectRecordIdentifiers(r)))
    assert.equal(found.some((f) => f.kind === 'name'), isB, r.recordId)
    assert.deepEqual(found.filter((f) => f.kind === 'pattern:phone').map((f) => f.path).sort(), ['department', 'text'])
  }
})

test('the scan\'s matchers on kept text forms find what identifierMatcher finds, in its order', () => {
  const ids = collectRecordIdentifiers(record())
  const texts = ['能登太郎', 'ﾉﾄ ﾀﾛｳ', 'noto tarou', 'NOTO Taro', '1980/03/01', 'S55.3.1', '00012345', '900012345', 'E2023000123', '0767-84-1234', '胃角', '', '能勢健一']
  const flat = identifierMatcher(ids)
  const kept = haystackMatcher(ids)
  const few = fewIdentifiersMatcher(ids)
  for (const t of texts) {
    assert.deepEqual(kept(textHaystack(t)), flat(t), t)
    assert.deepEqual(few(textHaystack(t)), flat(t), t)
  }
  assert.ok(texts.filter((t) => flat(t).length > 0).length >= 8)
})

test('the kept-form matchers agree with identifierMatcher on one-unit needles, clashing pairs and a reused matcher', () => {
  // One-unit values have no first pair (always tried); many texts exercise the pair buckets and the scratch marks.
  const ids: Identifier[] = [
    { kind: 'name', value: 'ｘ', source: 'one unit' },
    { kind: 'id', value: '7', source: 'one digit' },
    ...collectRecordIdentifiers(record()),
  ]
  const flat = identifierMatcher(ids)
  const kept = haystackMatcher(ids)
  const few = fewIdentifiersMatcher(ids)
  const parts = ['能登', '太郎', 'のと', 'ﾀﾛｳ', 'tarou', 'x', '7', '17', '1980', '/03/01', 'S55', '.3.1', '0001', '2345', ' ', '-', '胃']
  let found = 0
  for (let i = 0; i < 2000; i++) {
    let t = ''
    for (let k = (i * 7) % 5; k < 6; k++) t += parts[(i * 31 + k * 17 + (i >> 3)) % parts.length]
    const want = flat(t)
    assert.deepEqual(kept(textHaystack(t)), want, t)
    assert.deepEqual(few(textHaystack(t)), want, t)
    if (want.length > 0) found++
  }
  assert.ok(found > 100)
})
