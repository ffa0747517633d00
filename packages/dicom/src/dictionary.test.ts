import { test } from 'node:test'
import assert from 'node:assert/strict'
import { entryOf, isPrivateCreator, keywordOf, tagHex, tagOf, Tags, vmOf, vrOf } from './dictionary.ts'
import { python } from './testkit.ts'

test('keyword, hex and (gggg,eeee) spellings resolve to the same tag', () => {
  assert.equal(tagOf('PatientName'), 0x00100010)
  assert.equal(tagOf('00100010'), 0x00100010)
  assert.equal(tagOf('7fe00010'), 0x7fe00010)
  assert.equal(tagOf('(0020,000D)'), 0x0020000d)
  assert.equal(tagOf('StudyInstanceUID'), 0x0020000d)
  assert.equal(tagOf('NoSuchKeyword'), undefined)
  assert.equal(tagOf('0010001'), undefined)
})

test('tagHex is 8 uppercase hex digits, also for tags above 0x7FFFFFFF', () => {
  assert.equal(tagHex(0x0008103e), '0008103E')
  assert.equal(tagHex(0xfffee000), 'FFFEE000')
  assert.equal(tagHex(0), '00000000')
})

test('VR and keyword of standard, repeating-group, group-length and private tags', () => {
  assert.equal(vrOf(0x00100010), 'PN')
  assert.equal(keywordOf(0x00280010), 'Rows')
  assert.equal(vmOf(0x00080008), '2-n')
  // Repeating groups 60xx / 50xx (PS3.5 7.6).
  assert.equal(keywordOf(0x60020010), 'OverlayRows')
  assert.equal(vrOf(0x601e0010), 'US')
  assert.equal(keywordOf(0x50040005), 'CurveDimensions')
  // Odd group in the overlay range is private, not an overlay.
  assert.equal(keywordOf(0x60010010), undefined)
  // Group length.
  assert.equal(vrOf(0x00180000), 'UL')
  // Private creators are LO; other private elements UN.
  assert.ok(isPrivateCreator(0x00290010))
  assert.equal(vrOf(0x00290010), 'LO')
  assert.equal(vrOf(0x00291010), 'UN')
  assert.equal(vrOf(0x00990000 + 0x10ff), 'UN')
  // Ambiguous VRs resolve to their usual choice and say so.
  assert.equal(entryOf(0x7fe00010)?.ambiguous, 'OB/OW')
  assert.equal(entryOf(0x00280106)?.ambiguous, 'US/SS')
  // Retired attributes keep their keyword without dcmjs's RETIRED_ prefix.
  assert.equal(keywordOf(0x00080040), 'DataSetType')
})

test('every Tags constant is named by its PS3.6 keyword', () => {
  for (const [name, tag] of Object.entries(Tags)) assert.equal(keywordOf(tag), name, `Tags.${name}`)
})

test('agrees with pydicom’s PS3.6 dictionary on keyword and VR for ≥ 99.5% of its attributes', () => {
  const py = JSON.parse(
    python(`from pydicom.datadict import DicomDictionary
print(json.dumps({('%08X' % k): [v[0], v[4]] for k, v in DicomDictionary.items()}))`),
  ) as Record<string, [string, string]>
  let n = 0
  let agree = 0
  const disagreements: string[] = []
  for (const [hex, [vr, keyword]] of Object.entries(py)) {
    if (hex.startsWith('FFFE')) continue
    n++
    const e = entryOf(parseInt(hex, 16))
    const ourVr = e?.ambiguous ? e.ambiguous.replace('/', ' or ') : e?.vr
    if (e && e.keyword === keyword && (ourVr === vr || vr.includes(e.vr))) agree++
    else disagreements.push(`${hex} ours=${e?.keyword}/${ourVr} pydicom=${keyword}/${vr}`)
  }
  assert.ok(n > 4500, `pydicom dictionary has ${n} entries`)
  assert.ok(agree / n >= 0.995, `only ${agree}/${n} agree:\n${disagreements.join('\n')}`)
  // The attributes Kura indexes must agree exactly.
  for (const k of ['PatientName', 'PatientID', 'StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'Modality', 'StudyDate', 'AccessionNumber', 'PixelData', 'NumberOfFrames']) {
    const hex = Object.entries(py).find(([, v]) => v[1] === k)![0]
    assert.equal(tagHex(tagOf(k)!), hex, k)
  }
})
