/**
 * SS-MIX2 tree reader against a generated tree (with real-world variants, malformed files and patients linked to
 * the synthetic DICOM corpus) and against a hand-made folder of duplicate versions: every file comes out exactly
 * once, with the status, hold reason and records the generator says it must have.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { planStudy, normalizeOptions } from '@kura/dicom/synth'
import { encodeIso2022Jp } from '../hl7/index.ts'
import type { ClinicalRecord } from '../schema/types.ts'
import { writeSsmix2Tree } from '../synth/ssmix2.ts'
import { readSsmix2File, readSsmix2Tree, toClinicalRecords, type Ssmix2Item } from './index.ts'

const dicom = { studies: 6, seriesPerStudy: 1, instancesPerSeries: 1, seed: 5 }

test('a generated tree reads back with exactly the statuses, holds and records the generator expects', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-ssmix2-'))
  try {
    const gen = await writeSsmix2Tree(root, { patients: 15, seed: 5, dicom })
    const items: Ssmix2Item[] = []
    for await (const it of readSsmix2Tree(root, { readAhead: 8 })) items.push(it)
    assert.equal(items.length, gen.expected.files, 'every file exactly once')
    assert.equal(new Set(items.map((i) => i.path)).size, items.length)
    const count = (s: string) => items.filter((i) => i.status === s).length
    assert.equal(count('current'), gen.expected.current)
    assert.equal(count('superseded'), gen.expected.superseded)
    assert.equal(count('deleted'), gen.expected.deleted)
    assert.equal(count('held'), gen.expected.heldByReader)
    assert.ok(gen.expected.superseded > 0 && gen.expected.deleted >= 0 && gen.expected.heldByReader >= 7)

    // Every malformed file is held by the stage the generator names, with its reason.
    const byPath = new Map(items.map((i) => [i.path, i]))
    const records: ClinicalRecord[] = []
    const mappingHeld = new Map<string, string[]>()
    let skipped = 0
    for (const it of items) {
      if (it.status !== 'current') continue
      assert.ok(it.message, it.path)
      const r = toClinicalRecords(it.message, { path: it.path, file: it.file })
      records.push(...r.records)
      if (r.skipped) skipped++
      if (r.held.length) mappingHeld.set(it.path, r.held[0].reasons.map((x) => x.path))
    }
    for (const m of gen.malformed) {
      const it = byPath.get(m.path)
      assert.ok(it, `malformed file ${m.path} was yielded`)
      if (m.stage === 'reader') {
        assert.equal(it.status, 'held', m.reason)
        assert.equal(it.held!.source.system, 'ssmix2')
        assert.equal(it.held!.source.ref, m.path)
        const text = it.held!.reasons.map((r) => `${r.path} ${r.message}`).join(' / ')
        assert.ok(text.includes(m.code), `${m.reason}: ${text}`)
      } else {
        assert.ok(mappingHeld.get(m.path)?.includes(m.code), `${m.reason}: ${mappingHeld.get(m.path)}`)
      }
    }
    assert.equal(mappingHeld.size, gen.expected.heldByMapping)
    assert.equal(skipped, gen.expected.skipped)
    const kinds = (k: string) => records.filter((r) => r.kind === k).length
    for (const k of ['patient', 'endoscopy', 'pathology', 'radiology'] as const) assert.equal(kinds(k), gen.expected.records[k], k)

    // Records and images link: every DICOM study of the synthetic corpus has a record with its UID and patient.
    const o = normalizeOptions(dicom)
    for (let i = 0; i < o.studies; i++) {
      const s = planStudy(o, i)
      const rec = records.find((r) => r.images.some((im) => im.studyInstanceUid === s.studyInstanceUid))
      assert.ok(rec, `study ${i} (${s.modality}) has a record`)
      assert.equal(rec.subject.patientId, s.patient.patientId)
      assert.equal(rec.kind, s.modality === 'ES' ? 'endoscopy' : 'radiology')
      assert.equal(rec.subject.birthDate, `${s.patient.birthDate.slice(0, 4)}-${s.patient.birthDate.slice(4, 6)}-${s.patient.birthDate.slice(6)}`)
      assert.equal(rec.subject.name?.kanji, s.patient.name.Ideographic!.replace('^', ' '))
    }
    // Patient records carry names in both scripts, as generated.
    for (const p of gen.patients) {
      const rec = records.find((r) => r.kind === 'patient' && r.subject.patientId === p.patientId)
      if (!rec) continue
      assert.equal(rec.subject.name?.kanji, p.kanji)
      assert.ok(rec.subject.name?.kana === p.kana || rec.subject.name?.kana?.normalize('NFKC') === p.kana, p.kana)
    }
    // The data-type filter skips folders unread.
    const only: string[] = []
    for await (const it of readSsmix2Tree(root, { dataTypes: ['ADT-00'], io: 'async' })) only.push(it.file?.dataType ?? '?')
    assert.ok(only.length > 0 && only.every((t) => t === 'ADT-00'))
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('versions of one order: newest flag 1 is current, older ones superseded, a group without flag 1 deleted', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-ssmix2-dup-'))
  try {
    const id = '0012345678'
    const dir = join(root, '001', '234', id, '20240105', 'OMG-12')
    mkdirSync(dir, { recursive: true })
    const body = (order: string) => encodeIso2022Jp(`MSH|^~\\&|HIS|H|GW|H|20240105||OMI^Z23^OMI_O23|1|P|2.5||||||~ISO IR87||ISO 2022-1994\rPID|||${id}^^^^PI||試験^太郎^^^^^L^I\rORC|SC|${order}\rOBR|1|${order}||ES-UGI^上部消化管内視鏡検査^99KURA|||20240105100000\rIPC|A1|A1|1.2.3.${Number(order)}|S1|ES\r`)
    const files = [
      [`${id}_20240105_OMG-12_000000000000001_20240105100000000_13_0`, 'superseded'],
      [`${id}_20240105_OMG-12_000000000000001_20240105110000000_13_1`, 'superseded'], // stale flag 1
      [`${id}_20240105_OMG-12_000000000000001_20240105120000000_13_1`, 'current'],
      [`${id}_20240105_OMG-12_000000000000002_20240105100000000_13_0`, 'deleted'],
      [`${id}_20240105_OMG-12_000000000000002_20240105110000000_13_0`, 'deleted'],
      [`${id}_20240105_OMG-12_000000000000003_20240105100000000_13_1`, 'current'],
      [`${id}_20240105_OMG-13_000000000000004_20240105100000000_13_1`, 'held'], // wrong folder
    ] as const
    for (const [name] of files) writeFileSync(join(dir, name), body(name.split('_')[3]))
    writeFileSync(join(root, 'README.txt'), 'not a message')
    const got = new Map<string, Ssmix2Item>()
    for await (const it of readSsmix2Tree(root)) got.set(it.path.split('/').pop()!, it)
    assert.equal(got.get('README.txt')?.status, 'held')
    assert.match(got.get('README.txt')!.held!.reasons[0].message, /directly under the storage root/)
    for (const [name, status] of files) assert.equal(got.get(name)?.status, status, name)
    const cur = got.get(files[2][0])!
    assert.equal(cur.message?.segment('ORC')?.get(2), '000000000000001')
    assert.equal(got.get(files[0][0])!.message, undefined, 'superseded files are not parsed unless asked')
    assert.match(got.get(files[6][0])!.held!.reasons[0].message, /data type differ/)
    const rec = toClinicalRecords(cur.message!, { path: cur.path, file: cur.file })
    assert.equal(rec.records[0].kind, 'endoscopy')
    assert.deepEqual(rec.records[0].images, [{ studyInstanceUid: '1.2.3.1' }])
    // Re-reading one file gives the same verdict on its content.
    const again = await readSsmix2File(root, cur.path)
    assert.equal(again.status, 'current')
    assert.equal(again.message?.text, cur.message?.text)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
