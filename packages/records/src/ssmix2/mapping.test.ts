/**
 * Mapping SS-MIX2 messages to standard records, on hand-written messages: identity from PID, endoscopy findings
 * and links from IPC-3 or an OBX DCM 110180, pathology Group from codes or report text in its spellings,
 * radiology report sections; orders and visits skipped with a reason; bad content held per field.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeIso2022Jp, parseHl7 } from '../hl7/index.ts'
import type { EndoscopyRecord, PathologyRecord, PatientRecord, RadiologyRecord } from '../schema/types.ts'
import { parseSsmix2FileName } from './file-name.ts'
import { groupFromText, toClinicalRecords } from './mapping.ts'

const ID = '1234567890'
const MSH = (type: string) => `MSH|^~\\&|HIS|H|SSMIX2|H|20240105101010||${type}|C1|P|2.5||||||~ISO IR87||ISO 2022-1994`
const PID = `PID|0001||${ID}^^^^PI~99999^^^^MC||日野^厚子^^^^^L^I~ヒノ^アツコ^^^^^L^P||19560312|F|||^^^^160-0023^JPN^H^東京都新宿区西新宿２丁目８番１号||^PRN^PH^^^^^^^^^090-1234-5678`
const map = (dataType: string, date: string, ...segs: string[]) => {
  const name = `${ID}_${date}_${dataType}_000000000000042_20240105103000000_13_1`
  const f = parseSsmix2FileName(name)
  assert.ok(f.ok)
  const m = parseHl7(encodeIso2022Jp(segs.join('\r') + '\r'))
  return toClinicalRecords(m, { path: `123/456/${ID}/${date}/${dataType}/${name}`, file: f.name })
}

test('ADT-00 becomes a patient record with the identity in every script', () => {
  const r = map('ADT-00', '-', MSH('ADT^A08^ADT_A01'), 'EVN||20240105101010', PID, 'PV1|0001|O')
  assert.equal(r.held.length, 0)
  const p = r.records[0] as PatientRecord
  assert.equal(p.kind, 'patient')
  assert.equal(p.schema, 'kura.record/1')
  assert.equal(p.performedAt, '2024-01-05T10:10:10')
  assert.deepEqual(p.subject, {
    patientId: ID, name: { kanji: '日野 厚子', kana: 'ヒノ アツコ' }, birthDate: '1956-03-12', sex: 'F',
    address: '東京都新宿区西新宿２丁目８番１号', postalCode: '160-0023', phone: '090-1234-5678',
  })
  assert.deepEqual(p.source, { system: 'ssmix2', ref: `123/456/${ID}/-/ADT-00/${ID}_-_ADT-00_000000000000042_20240105103000000_13_1` })
})

test("a patient's PID is read once per run of messages, and every record gets a subject of its own", () => {
  const a = map('ADT-00', '-', MSH('ADT^A08^ADT_A01'), 'EVN||20240105101010', PID, 'PV1|0001|O').records[0]!
  const b = map('ADT-00', '-', MSH('ADT^A08^ADT_A01'), 'EVN||20240105101010', PID, 'PV1|0001|O').records[0]!
  assert.deepEqual(a.subject, b.subject)
  assert.notEqual(a.subject, b.subject)
  assert.notEqual(a.subject.name, b.subject.name)
  a.subject.name!.kanji = 'changed'
  a.subject.phone = 'changed'
  const c = map('ADT-00', '-', MSH('ADT^A08^ADT_A01'), 'EVN||20240105101010', PID, 'PV1|0001|O').records[0]!
  assert.equal(c.subject.name!.kanji, '日野 厚子')
  assert.equal(c.subject.phone, '090-1234-5678')
  // The same PID in a file named for another patient is still held: the file name is part of what is read.
  const name = `1234567891_-_ADT-00_000000000000042_20240105103000000_13_1`
  const f = parseSsmix2FileName(name)
  assert.ok(f.ok)
  const m = parseHl7(encodeIso2022Jp([MSH('ADT^A08^ADT_A01'), 'EVN||20240105101010', PID].join('\r') + '\r'))
  const misfiled = toClinicalRecords(m, { path: `123/456/1234567891/-/ADT-00/${name}`, file: f.name })
  assert.deepEqual(misfiled.held[0]?.reasons.map((r) => r.path), ['PID-3'])
  // Other delimiters, the same PID text: with # as the component separator PID-3 has no PI component, so the
  // patient ID read differs from the file name's and the message is held (the cached reading is not reused).
  const hashed = map('ADT-00', '-', MSH('ADT#A08#ADT_A01').replace('MSH|^~', 'MSH|#~'), 'EVN||20240105101010', PID, 'PV1|0001|O')
  assert.deepEqual(hashed.held[0]?.reasons.map((r) => r.path), ['PID-3'])
})

const ENDO = [
  'ORC|SC|ORD42|FIL42||CM||||20240105093000',
  'OBR|1|ORD42|FIL42|ES-CS^下部消化管内視鏡検査^99KURA|||20240105093000|||||||||||ACC42||||||ES||||||||DE0001&内視&鏡子~DE0002&助手&一郎',
  'OBX|1|CWE|INDICATION^検査目的^99KURA||FOBT-POSITIVE^便潜血陽性^99KURA||||||F',
  'OBX|2|CWE|SEDATION^鎮静^99KURA||MIDAZOLAM^ミダゾラム^99KURA||||||F',
  'OBX|3|CWE|ANTITHROMBOTIC^抗血栓薬^99KURA||NONE^なし^99KURA||||||F',
  'OBX|4|CWE|SITE^部位^99KURA|1|SIGMOID-COLON^S状結腸^MST3||||||F',
  'OBX|5|CWE|FINDING^所見^99KURA|1|POLYP^ポリープ^MST3||||||F',
  'OBX|6|NM|SIZE^大きさ^99KURA|1|8|mm|||||F',
  'OBX|7|CWE|CLASS^肉眼型^99KURA|1|0-Is^0-Is^JGES~JNET-2A^JNET Type 2A^JNET||||||F',
  'OBX|8|CWE|SITE^部位^99KURA|2|RECTUM^直腸^MST3||||||F',
  'OBX|9|CWE|FINDING^所見^99KURA|2|HEMORRHOID^痔核^MST3||||||F',
  'OBX|10|CWE|DIAGNOSIS^診断^99KURA||D12.6^大腸腺腫^ICD10||||||F',
  'OBX|11|CWE|PROCEDURE^処置^99KURA||POLYPECTOMY^ポリペクトミー^99KURA||||||F',
  'OBX|12|CWE|ADVERSE^偶発症^99KURA||NONE^なし^99KURA||||||F',
  'OBX|13|ST|SCOPE^スコープ^99KURA||CF-HQ290I||||||F',
  'OBX|14|FT|REPORT^所見文^99KURA||S状結腸に8mmの0-Is病変\\.br\\ポリペクトミー施行||||||F',
]

test('an endoscopy performed notice becomes an EndoscopyRecord with coded findings and its Study Instance UID', () => {
  const r = map('OMG-12', '20240105', MSH('OMI^Z23^OMI_O23'), PID, 'PV1|0001|O', ...ENDO.slice(0, 2), 'IPC|ACC42|ACC42|1.2.392.200036.9116.2.1.42|SPS42|ES', ...ENDO.slice(2))
  assert.deepEqual(r.held, [])
  const e = r.records[0] as EndoscopyRecord
  assert.equal(e.kind, 'endoscopy')
  assert.equal(e.examType, 'colonoscopy')
  assert.equal(e.recordId, 'ORD42')
  assert.equal(e.performedAt, '2024-01-05T09:30:00')
  assert.equal(e.department, '13')
  assert.deepEqual(e.images, [{ studyInstanceUid: '1.2.392.200036.9116.2.1.42' }])
  assert.deepEqual(e.indication, [{ system: 'KURA', code: 'FOBT-POSITIVE', meaning: '便潜血陽性' }])
  assert.deepEqual(e.sedation, { used: true, drugs: [{ system: 'KURA', code: 'MIDAZOLAM', meaning: 'ミダゾラム' }] })
  assert.deepEqual(e.antithrombotics, [])
  assert.equal(e.hPylori, 'unknown')
  assert.equal(e.findings.length, 2)
  assert.deepEqual(e.findings[0], {
    site: { system: 'MST3', code: 'SIGMOID-COLON', meaning: 'S状結腸' }, term: { system: 'MST3', code: 'POLYP', meaning: 'ポリープ' }, sizeMm: 8,
    classification: [{ system: 'JGES', code: '0-Is', meaning: '0-Is' }, { system: 'JNET', code: 'JNET-2A', meaning: 'JNET Type 2A' }],
  })
  assert.equal(e.findings[1].term.code, 'HEMORRHOID')
  assert.deepEqual(e.diagnoses.map((d) => d.code), ['D12.6'])
  assert.deepEqual(e.procedures.map((d) => d.code), ['POLYPECTOMY'])
  assert.deepEqual(e.adverseEvents, [])
  assert.deepEqual(e.scope, { model: 'CF-HQ290I' })
  assert.deepEqual(e.staff, [{ role: 'endoscopist', id: 'DE0001', name: '内視 鏡子' }, { role: 'endoscopist', id: 'DE0002', name: '助手 一郎' }])
  assert.equal(e.text, 'S状結腸に8mmの0-Is病変\nポリペクトミー施行')
})

test('without IPC the Study Instance UID comes from an OBX coded DCM 110180; exam type from the order name', () => {
  const segs = ENDO.map((s) => s.replace('ES-CS^下部消化管内視鏡検査', 'L123^上部消化管内視鏡(GIF)'))
  const r = map('OMG-12', '20240105', MSH('OMI^Z23^OMI_O23'), PID, ...segs, 'OBX|15|RP|110180^Study Instance UID^DCM||1.2.3.4.5^^Application^DICOM||||||F')
  const e = r.records[0] as EndoscopyRecord
  assert.equal(e.examType, 'upper-gi')
  assert.deepEqual(e.images, [{ studyInstanceUid: '1.2.3.4.5' }])
})

test('pathology results: specimen, coded diagnosis, and Group from a code or from the text in its spellings', () => {
  const seg = (group: string, text: string) => map('OML-11', '20240105', MSH('OUL^R22^OUL_R22'), PID, 'PV1|0001|O',
    'SPM|1|S1||BX^生検組織^99KURA||||STOMACH-BODY^胃体部^MST3|||||2||||20240105094000',
    'OBR|1|ORD43|FIL43|PATH^病理組織診断^99KURA|||20240105094000|||||||||||||||||SP|F|||||||DP0001&病理&花子',
    'ORC|SC|ORD43|FIL43||CM',
    'OBX|1|CWE|DIAGNOSIS^病理診断^99KURA||8140/0^管状腺腫^ICDO3||||||F',
    ...(group ? [`OBX|2|CWE|GROUP^Group分類^99KURA||${group}^Group ${group}^JGCA||||||F`] : []),
    `OBX|3|FT|22637-3^病理診断^LN||${text}||||||F`)
  const coded = seg('3', '管状腺腫、低異型度。')
  const p = coded.records[0] as PathologyRecord
  assert.equal(p.kind, 'pathology')
  assert.deepEqual(p.specimen, { type: { system: 'KURA', code: 'BX', meaning: '生検組織' }, site: { system: 'MST3', code: 'STOMACH-BODY', meaning: '胃体部' }, count: 2 })
  assert.deepEqual(p.diagnoses, [{ system: 'ICDO3', code: '8140/0', meaning: '管状腺腫' }])
  assert.equal(p.group, '3')
  assert.deepEqual(p.staff, [{ role: 'pathologist', id: 'DP0001', name: '病理 花子' }])
  assert.equal(p.text, '管状腺腫、低異型度。')
  for (const [text, g] of [['Group 5. 高分化管状腺癌。', '5'], ['グループ４：腺癌疑い', '4'], ['Group III, adenoma', '3'], ['ｸﾞﾙｰﾌﾟ2', '2'], ['group X (判定不能)', 'X']]) {
    assert.equal((seg('', text).records[0] as PathologyRecord).group, g, text)
  }
  assert.equal((seg('', '異型なし').records[0] as PathologyRecord).group, undefined)
  assert.equal(groupFromText('Group 12'), undefined, 'not a Group class')
  // A lab result (not pathology) in the same data type is skipped, not forced into a record.
  const lab = map('OML-11', '20240105', MSH('OUL^R22^OUL_R22'), PID, 'SPM|1|S2||SER^血清^JC10', 'OBR|1|ORD44||3A010^ALB^JC10', 'OBX|1|NM|3A010^ALB^JC10||4.2|g/dL')
  assert.match(lab.skipped ?? '', /not pathology/)
})

test('radiology: modality from IPC-5, body part, findings and impression from LOINC sections', () => {
  const r = map('OMG-11', '20240105', MSH('OMI^Z23^OMI_O23'), PID,
    'ORC|SC|ORD45|FIL45||CM', 'OBR|1|ORD45|FIL45|RAD-CT-CHEST^胸部単純CT^99KURA|||20240105110000',
    'IPC|ACC45|ACC45|1.2.3.45|SPS45|CT',
    'OBX|1|CWE|BODYPART^部位^99KURA||CHEST^胸部^99KURA||||||F',
    'OBX|2|FT|18782-3^所見^LN||右肺下葉に5mm大の結節影あり。||||||F',
    'OBX|3|FT|19005-8^診断^LN||経過観察を推奨。||||||F')
  const x = r.records[0] as RadiologyRecord
  assert.equal(x.kind, 'radiology')
  assert.equal(x.modality, 'CT')
  assert.deepEqual(x.bodyPart, { system: 'KURA', code: 'CHEST', meaning: '胸部' })
  assert.equal(x.findingsText, '右肺下葉に5mm大の結節影あり。')
  assert.equal(x.impression, '経過観察を推奨。')
  assert.deepEqual(x.images, [{ studyInstanceUid: '1.2.3.45' }])
})

test('orders, visits, prescriptions and cancellations are skipped with a reason', () => {
  assert.match(map('OMG-02', '20240105', MSH('OMG^O19^OMG_O19'), PID, 'ORC|NW|ORD46').skipped ?? '', /is an order/)
  assert.match(map('ADT-12', '20240105', MSH('ADT^A04^ADT_A01'), PID).skipped ?? '', /visit event/)
  assert.match(map('OMP-01', '20240105', MSH('RDE^O11^RDE_O11'), PID).skipped ?? '', /not one of the records/)
  const cancelled = map('OMG-12', '20240105', MSH('OMI^Z23^OMI_O23'), PID, 'ORC|CA|ORD47', 'OBR|1|ORD47||ES-UGI^上部^99KURA')
  assert.match(cancelled.skipped ?? '', /cancelled/)
})

test('content problems are held with per-field reasons and the raw message; nothing is dropped', () => {
  const noPid = map('OMG-12', '20240105', MSH('OMI^Z23^OMI_O23'), ...ENDO)
  assert.deepEqual(noPid.held[0].reasons.map((r) => r.path), ['PID'])
  assert.ok(noPid.held[0].raw.startsWith('MSH|'))
  const other = map('OMG-12', '20240105', MSH('OMI^Z23^OMI_O23'), PID.replace(ID, '1234567891'), ...ENDO)
  assert.deepEqual(other.held[0].reasons.map((r) => r.path), ['PID-3'])
  assert.ok(!other.held[0].reasons[0].message.includes('1234567891'), 'no identifier in the reason')
  const unknownExam = map('OMG-12', '20240105', MSH('OMI^Z23^OMI_O23'), PID, ...ENDO.map((s) => s.replace('ES-CS^下部消化管内視鏡検査', 'X1^特殊検査')))
  assert.deepEqual(unknownExam.held[0].reasons.map((r) => r.path), ['OBR-4'])
  const badBirth = map('ADT-00', '-', MSH('ADT^A08^ADT_A01'), PID.replace('19560312', '19561340'))
  assert.deepEqual(badBirth.held[0].reasons.map((r) => r.path), ['PID-7'])
  const noType = map('OMG-12', '20240105', 'MSH|^~\\&|HIS|H|SSMIX2|H|20240105||', PID)
  assert.deepEqual(noType.held[0].reasons.map((r) => r.path), ['MSH-9'])
  const noSpecimen = map('OML-11', '20240105', MSH('OUL^R22^OUL_R22'), PID, 'OBR|1|ORD48||PATH^病理組織診断^99KURA|||20240105|||||||||||||||||SP')
  assert.deepEqual(noSpecimen.held[0].reasons.map((r) => r.path), ['SPM-4', 'SPM-8'])
  const noModality = map('OMG-11', '20240105', MSH('OMI^Z23^OMI_O23'), PID, 'ORC|SC|ORD49', 'OBR|1|ORD49||R1^特殊撮影^99KURA|||20240105')
  assert.deepEqual(noModality.held[0].reasons.map((r) => r.path), ['IPC-5'])
})
