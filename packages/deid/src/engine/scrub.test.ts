import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BufferSource } from '@kura/core'
import { Tags, elementText, getItems, readDicomBuffer, writeDicom, type ParsedDicom, type WriteElement } from '@kura/dicom'
import { parsePolicy } from '../policy/schema.ts'
import { BASIC_POLICY } from '../policy/policy.ts'
import { collectIdentifiers } from '../verify/identifiers.ts'
import { verifyDeidentified } from '../verify/scan.ts'
import { deidentify } from './deidentify.ts'
import { scrubberFor } from './scrub.ts'

const SOP = '1.2.840.10008.5.1.4.1.1.7'
const subject = (charset: string | string[], extra: WriteElement[] = []): WriteElement[] => [
  { tag: Tags.SpecificCharacterSet, vr: 'CS', value: charset },
  { tag: Tags.SOPClassUID, vr: 'UI', value: SOP },
  { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.1' },
  // JIS X 0208 (IR 87 alone) has no half-width kana: the phonetic group is full-width there.
  { tag: Tags.PatientName, vr: 'PN', value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: [charset].flat().includes('') ? 'ヤマダ^タロウ' : 'ﾔﾏﾀﾞ^ﾀﾛｳ' }] },
  { tag: Tags.PatientID, vr: 'LO', value: '12345678' },
  { tag: 0x00100030, vr: 'DA', value: '19800301' },
  ...extra,
]
const parse = (dataset: WriteElement[]): ParsedDicom =>
  readDicomBuffer(writeDicom({ meta: { MediaStorageSOPClassUID: SOP, MediaStorageSOPInstanceUID: '1.2.3.4.1' }, dataset: [...dataset].sort((a, b) => a.tag - b.tag) }))

test('scrubber: the subject\'s names in every script and spelling, IDs and Japanese birth dates are cut out', () => {
  const s = scrubberFor(parse(subject(['ISO 2022 IR 13', 'ISO 2022 IR 87'])))
  const cases: Array<[string, string | undefined]> = [
    ['山田太郎様 胸部CT', '*様 胸部CT'],
    ['山田　太郎 経過観察', '* 経過観察'],
    ['ヤマダ タロウ 再検', '* 再検'],
    ['やまだたろう', '*'],
    ['ﾔﾏﾀﾞ ﾀﾛｳ 造影', '* 造影'],
    ['YAMADA TARO follow-up', '* follow-up'],
    ['Taro Yamada, chest', '* *, chest'],
    ['ＹＡＭＡＤＡ', '*'],
    ['患者ID: 12345678 再検', '患者ID: * 再検'],
    ['ID12345678', 'ID*'],
    ['No. 5 12345678', 'No. 5 *'],
    ['昭和55年3月1日生', '*生'],
    ['生年月日 S55.3.1', '生年月日 *'],
    ['DOB 1980/03/01 age 44', 'DOB * age 44'],
    ['1980年3月1日', '*'],
    ['19800301', '*'],
    // Not the subject's: left alone (undefined = unchanged).
    ['ref 912345678', undefined],
    ['1980/3/15 S55.3.10', undefined],
    ['胸部単純CT 5mm', undefined],
    ['田中花子', undefined],
  ]
  for (const [text, want] of cases) assert.equal(s.scrub(text), want, text)
})

test('scrubber: nothing to look for without identifiers; too-short names are not cut', () => {
  assert.equal(scrubberFor(parse([{ tag: Tags.SOPClassUID, vr: 'UI', value: SOP }, { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2' }])).scrub('山田太郎'), undefined)
  const s = scrubberFor(parse([
    { tag: Tags.SOPClassUID, vr: 'UI', value: SOP }, { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2' },
    { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
    { tag: Tags.PatientName, vr: 'PN', value: [{ Alphabetic: 'Mori^Ai', Ideographic: '森^愛' }] },
  ]))
  assert.equal(s.scrub('森愛 follow up'), '* follow up')
  assert.equal(s.scrub('Ai Mori'), 'Ai *', 'two Latin letters are too short to cut alone; the verifier decides about the rest')
  assert.equal(s.scrub('森林 愛知'), undefined, 'single kanji are not cut alone')
})

async function run(dataset: WriteElement[], policy = BASIC_POLICY): Promise<{ source: ParsedDicom; out: ParsedDicom }> {
  const buf = writeDicom({ meta: { MediaStorageSOPClassUID: SOP, MediaStorageSOPInstanceUID: '1.2.3.4.1' }, dataset: [...dataset].sort((a, b) => a.tag - b.tag) })
  const source = readDicomBuffer(buf)
  const { output } = await deidentify(source, new BufferSource(buf), { policy, secret: new Uint8Array(32).fill(4), collection: 'scrub' })
  const parts: Uint8Array[] = []
  for await (const p of output) parts.push(p)
  return { source, out: readDicomBuffer(new Uint8Array(Buffer.concat(parts))) }
}

const text = (p: ParsedDicom, tag: number) => {
  const el = p.dataset.elements.get(tag)
  return el ? elementText(el, p.dataset.charset)?.replace(/[ \0]+$/, '') : undefined
}

for (const charset of [['', 'ISO 2022 IR 87'], ['ISO 2022 IR 13', 'ISO 2022 IR 87'], ['ISO_IR 192']]) {
  test(`engine, Clean Descriptors (${charset.join('\\')}): Japanese descriptions are kept with the subject cut out, and verify clean`, async () => {
    const policy = parsePolicy({ id: 'clean', version: '1', profile: 'basic', options: ['cleanDescriptors'] }, 'test')
    const { source, out } = await run(subject(charset, [
      { tag: Tags.StudyDescription, vr: 'LO', value: '山田太郎様 胸部CT' },
      { tag: 0x0008103e, vr: 'LO', value: '縦隔条件 5mm' },
      { tag: 0x00204000, vr: 'LT', value: '患者ID 12345678、昭和55年3月1日生。所見なし。' },
      { tag: 0x001021b0, vr: 'LT', value: 'ﾔﾏﾀﾞ ﾀﾛｳ 既往歴なし'.normalize('NFKC') },
    ]), policy)
    assert.equal(text(out, Tags.StudyDescription), '*様 胸部CT')
    assert.equal(text(out, 0x00204000), '患者ID *、*生。所見なし。')
    assert.equal(text(out, 0x001021b0), '* 既往歴なし')
    // A description without identifiers is kept byte for byte.
    assert.deepEqual(out.dataset.elements.get(0x0008103e)?.bytes, source.dataset.elements.get(0x0008103e)?.bytes)
    const v = verifyDeidentified(out, collectIdentifiers(source), { source })
    assert.deepEqual(v.findings, [])
  })
}

test('engine, Clean Structured Content and the basic profile: SR text values in the Content Sequence are scrubbed at any depth', async () => {
  const content: WriteElement[][] = [[
    { tag: 0x0040a040, vr: 'CS', value: 'TEXT' },
    { tag: 0x0040a160, vr: 'UT', value: '山田 太郎 (ID 12345678) 右上葉に結節' },
    { tag: 0x0040a730, vr: 'SQ', value: [[{ tag: 0x0040a040, vr: 'CS', value: 'TEXT' }, { tag: 0x0040a160, vr: 'UT', value: 'Follow-up for YAMADA TAROU in 3 months' }]] },
  ]]
  for (const policy of [BASIC_POLICY, parsePolicy({ id: 'sr', version: '1', profile: 'basic', options: ['cleanStructuredContent'] }, 'test')]) {
    const { source, out } = await run(subject('ISO_IR 192', [{ tag: 0x0040a730, vr: 'SQ', value: content }]), policy)
    const item = getItems(out.dataset, 0x0040a730)[0]!
    const t1 = elementText(item.elements.get(0x0040a160)!, item.charset)!.trim()
    assert.equal(t1, '* (ID *) 右上葉に結節', policy.id)
    const nested = getItems(item, 0x0040a730)[0]!
    assert.equal(elementText(nested.elements.get(0x0040a160)!, nested.charset)!.trim(), 'Follow-up for * in 3 months', policy.id)
    assert.deepEqual(verifyDeidentified(out, collectIdentifiers(source), { source }).findings, [], policy.id)
  }
})

