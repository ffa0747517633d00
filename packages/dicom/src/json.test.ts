import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { toDicomJson } from './json.ts'
import { readDicomBuffer } from './reader.ts'
import { CHARSET_FILES, pydicomJson, TEST_FILES } from './testkit.ts'
import type { DicomJson, DicomJsonAttribute } from './types.ts'

const SKIP = new Set(['MR_truncated.dcm', 'rtplan_truncated.dcm', 'no_meta.dcm', 'badVR.dcm' /* pydicom's to_json fails on IS '1A' */])
const FILES = [TEST_FILES, CHARSET_FILES].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.dcm') && !SKIP.has(f)).map((f) => `${d}/${f}`))

/**
 * Known, deliberate differences from pydicom 2.3's to_json_dict:
 * - group lengths (gggg,0000) are left out (PS3.18 F.2 recommends it; pydicom keeps them);
 * - each value of a multi-valued string is trimmed (pydicom trims only the end of the whole value);
 * - an empty value among several is null (PS3.18 F.2.5), pydicom writes "";
 * - private elements explicitly encoded as UN stay UN (pydicom applies its private dictionary).
 */
function compare(ours: DicomJson, py: Record<string, any>, path: string, diffs: string[]): void {
  for (const key of new Set([...Object.keys(ours), ...Object.keys(py)])) {
    if (key.endsWith('0000')) continue
    const a: DicomJsonAttribute | undefined = ours[key]
    const b = py[key]
    if (!a || !b) {
      diffs.push(`${path}${key}: missing on one side`)
      continue
    }
    const privateUn = parseInt(key.slice(0, 4), 16) % 2 === 1 && a.vr === 'UN'
    if (a.vr !== b.vr && !privateUn) diffs.push(`${path}${key}: vr ${a.vr} vs ${b.vr}`)
    if (a.BulkDataURI || a.InlineBinary || b.InlineBinary) {
      if (a.InlineBinary && b.InlineBinary && a.InlineBinary !== b.InlineBinary) diffs.push(`${path}${key}: InlineBinary differs`)
      if (a.BulkDataURI === undefined && a.InlineBinary === undefined && b.InlineBinary) diffs.push(`${path}${key}: value lost`)
      continue
    }
    if (a.vr === 'SQ') {
      const x = (a.Value ?? []) as DicomJson[]
      const y = (b.Value ?? []) as Record<string, any>[]
      if (x.length !== y.length) diffs.push(`${path}${key}: ${x.length} items vs ${y.length}`)
      else x.forEach((item, i) => compare(item, y[i], `${path}${key}/${i}/`, diffs))
      continue
    }
    const norm = (v: unknown) => (typeof v === 'string' ? v.trim() : v === '' ? null : v)
    const x = (a.Value ?? []).map(norm)
    const y = ((b.Value ?? []) as unknown[]).map(norm).map((v) => (v === '' ? null : v))
    if (JSON.stringify(x) !== JSON.stringify(y)) diffs.push(`${path}${key} ${a.vr}: ours ${JSON.stringify(x).slice(0, 100)} pydicom ${JSON.stringify(y).slice(0, 100)}`)
  }
}

test('DICOM JSON agrees with pydicom attribute by attribute on every sample file', () => {
  const ref = pydicomJson(FILES)
  let attributes = 0
  for (const f of FILES) {
    const p = readDicomBuffer(readFileSync(f), { bulkDataThreshold: Infinity })
    const ours = toDicomJson(p.dataset, { bulkDataUri: (path, el) => (el.bytes ? undefined : `bulk/${path}`) })
    const diffs: string[] = []
    compare(ours, ref[f] as Record<string, any>, '', diffs)
    assert.deepEqual(diffs, [], f)
    attributes += Object.keys(ours).length
  }
  assert.ok(attributes > 3000, `${attributes} attributes compared`)
})

test('JSON shapes: PN objects, numbers, AT hex, empty values, group lengths and meta left out', () => {
  const p = readDicomBuffer(readFileSync(`${CHARSET_FILES}/chrH31.dcm`))
  const j = toDicomJson(p.dataset)
  assert.deepEqual(j['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }] })
  assert.deepEqual(j['00080005'], { vr: 'CS', Value: [null, 'ISO 2022 IR 87'] })
  assert.ok(Object.keys(j).every((k) => /^[0-9A-F]{8}$/.test(k) && !k.startsWith('0002') && !k.endsWith('0000')))

  const ct = toDicomJson(readDicomBuffer(readFileSync(`${TEST_FILES}/CT_small.dcm`)).dataset)
  assert.deepEqual(ct['00280010'], { vr: 'US', Value: [128] })
  assert.deepEqual(ct['00200032'], { vr: 'DS', Value: [-158.135803, -179.035797, -75.699997] })
  assert.deepEqual(ct['7FE00010'], { vr: 'OW' }, 'pixel data without a bulk URI keeps only its VR')

  const dose = toDicomJson(readDicomBuffer(readFileSync(`${TEST_FILES}/rtdose.dcm`)).dataset)
  assert.deepEqual(dose['00280009'], { vr: 'AT', Value: ['3004000C'] })

  const sr = toDicomJson(readDicomBuffer(readFileSync(`${TEST_FILES}/reportsi_with_empty_number_tags.dcm`)).dataset)
  const empties = Object.values(sr).filter((a) => a.Value === undefined && a.vr !== 'SQ')
  assert.ok(empties.length > 0 && empties.every((a) => Object.keys(a).length === 1), 'empty attributes have only vr')
})

test('bulk data URIs are asked for with nested paths, and values left in the source get one', () => {
  const p = readDicomBuffer(readFileSync(`${TEST_FILES}/waveform_ecg.dcm`))
  const paths: string[] = []
  const j = toDicomJson(p.dataset, { bulkDataUri: (path, el) => (el.bytes ? undefined : (paths.push(path), `https://x/bulk/${path}`)) })
  assert.ok(paths.includes('54000100/0/54001010'), paths.join(','))
  const wf = (j['54000100'].Value![0] as DicomJson)['54001010']
  assert.deepEqual(wf, { vr: 'OW', BulkDataURI: 'https://x/bulk/54000100/0/54001010' })
  // Encapsulated pixel data too.
  const jp = toDicomJson(readDicomBuffer(readFileSync(`${TEST_FILES}/JPEG2000.dcm`)).dataset, { bulkDataUri: (path) => `b/${path}` })
  assert.deepEqual(jp['7FE00010'], { vr: 'OB', BulkDataURI: 'b/7FE00010' })
})

test('big-endian OW values are inlined little endian (PS3.18 F.2.7)', () => {
  const el = (littleEndian: boolean) => ({
    elements: new Map([[0x00291010, { tag: 0x00291010, vr: 'OW' as const, offset: 0, length: 4, undefinedLength: false, bytes: new Uint8Array([1, 2, 3, 4]) }]]),
    charset: [],
    littleEndian,
  })
  assert.equal(toDicomJson(el(true))['00291010'].InlineBinary, Buffer.from([1, 2, 3, 4]).toString('base64'))
  assert.equal(toDicomJson(el(false))['00291010'].InlineBinary, Buffer.from([2, 1, 4, 3]).toString('base64'))
  // And numbers from a big-endian file match the little-endian original.
  const le = toDicomJson(readDicomBuffer(readFileSync(`${TEST_FILES}/MR_small.dcm`)).dataset)
  const be = toDicomJson(readDicomBuffer(readFileSync(`${TEST_FILES}/MR_small_expb.dcm`)).dataset)
  for (const k of ['00280010', '00280011', '00280100', '00280030', '00200032']) assert.deepEqual(be[k], le[k], k)
})
