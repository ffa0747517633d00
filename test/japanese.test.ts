/**
 * Japanese names: stored from ISO 2022 IR 87 / IR 13 / ISO_IR 192 files, matched by QIDO in any
 * component group, and returned as Alphabetic, Ideographic and Phonetic groups in DICOM JSON.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getPersonName, readDicomBuffer } from '@kura/dicom'
import { synthStudies } from '@kura/dicom/synth'
import { startTestHub, stowBody, PYDICOM_CHARSETS, type TestHub } from './support/hub.ts'

/** Every request below is the test administrator's unless a test says otherwise. */
let fetch: typeof globalThis.fetch = globalThis.fetch

describe('Japanese person names through STOW, QIDO and metadata', () => {
  let hub: TestHub
  const names: { alphabetic: string; ideographic: string; phonetic: string; study: string }[] = []
  before(async () => {
    hub = await startTestHub()
    fetch = hub.fetch
    const files: Uint8Array[] = []
    for (const charset of ['ir87', 'ir192'] as const) {
      for (const inst of synthStudies({ studies: 2, seriesPerStudy: 1, instancesPerSeries: 1, seed: charset === 'ir87' ? 11 : 12, modality: 'MR', charset })) {
        files.push(inst.bytes)
        const pn = getPersonName((await readDicomBuffer(inst.bytes)).dataset, 0x00100010)[0]!
        names.push({ alphabetic: pn.Alphabetic!, ideographic: pn.Ideographic!, phonetic: pn.Phonetic!, study: inst.studyInstanceUid })
      }
    }
    for (const f of ['chrH31.dcm', 'chrH32.dcm', 'chrX1.dcm']) files.push(await readFile(join(PYDICOM_CHARSETS, f)))
    const { body, contentType } = stowBody(files)
    const res = await fetch(`${hub.dicomweb}/studies`, { method: 'POST', headers: { 'content-type': contentType }, body })
    assert.equal(res.status, 200, await res.text())
  })
  after(async () => hub?.close())

  it('returns all three component groups, decoded', async () => {
    for (const n of names) {
      assert.ok(n.ideographic && /[\u4e00-\u9fff]/.test(n.ideographic), `synthetic name has kanji: ${n.ideographic}`)
      const [study] = (await (await fetch(`${hub.dicomweb}/studies?StudyInstanceUID=${n.study}`)).json()) as any[]
      assert.deepEqual(study['00100010'].Value[0], { Alphabetic: n.alphabetic, Ideographic: n.ideographic, Phonetic: n.phonetic })
    }
  })

  it('matches by kanji, kana and romaji prefixes', async () => {
    for (const n of names) {
      for (const pattern of [n.ideographic.split('^')[0] + '*', n.phonetic.split('^')[0] + '*', n.alphabetic.split('^')[0] + '*', n.alphabetic.toLowerCase()]) {
        const found = (await (await fetch(`${hub.dicomweb}/studies?PatientName=${encodeURIComponent(pattern)}`)).json()) as any[]
        assert.ok(found.some((s) => s['0020000D'].Value[0] === n.study), `PatientName=${pattern} finds ${n.study}`)
      }
    }
  })

  it('decodes the pydicom Japanese charset files (IR 13 + IR 87) as pydicom does', async () => {
    // chrH31 (\ISO 2022 IR 87) and chrH32 (ISO 2022 IR 13\ISO 2022 IR 87); FileInfo.txt in the pydicom charset folder gives these names.
    const found = (await (await fetch(`${hub.dicomweb}/studies?PatientName=${encodeURIComponent('山田*')}`)).json()) as any[]
    const yamada = found.map((s) => s['00100010'].Value[0]).find((pn) => pn.Alphabetic === 'Yamada^Tarou')
    assert.deepEqual(yamada, { Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' })
    const h32 = (await (await fetch(`${hub.dicomweb}/studies?PatientName=${encodeURIComponent('ﾔﾏﾀﾞ*')}`)).json()) as any[]
    assert.equal(h32.length, 1, 'half-width katakana (IR 13) matches')
    assert.deepEqual(h32[0]['00100010'].Value[0], { Alphabetic: 'ﾔﾏﾀﾞ^ﾀﾛｳ', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' })
    const x1 = (await (await fetch(`${hub.dicomweb}/studies?PatientName=${encodeURIComponent('Wang*')}`)).json()) as any[]
    assert.deepEqual(x1[0]['00100010'].Value[0], { Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小東' })
  })
})
