import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Tags } from './dictionary.ts'
import { readDicomBuffer } from './reader.ts'
import { python, TEST_FILES } from './testkit.ts'
import { getNumber, getNumbers, getPersonName, getString, getStrings, getTags, parsePersonName } from './values.ts'

const FILES = ['CT_small.dcm', 'MR_small.dcm', 'MR_small_bigendian.dcm', 'MR_small_implicit.dcm', 'rtdose.dcm', 'rtdose_expb.dcm', 'ExplVR_BigEnd.dcm'].map((f) => `${TEST_FILES}/${f}`)
const KEYS = ['Rows', 'Columns', 'BitsAllocated', 'PixelRepresentation', 'SliceThickness', 'ImagePositionPatient', 'PixelSpacing', 'NumberOfFrames', 'ImageType', 'Modality', 'StudyInstanceUID', 'WindowCenter', 'GridFrameOffsetVector', 'DoseGridScaling', 'SmallestImagePixelValue', 'LargestImagePixelValue']
const TAGS: Record<string, number> = {
  Rows: 0x00280010, Columns: 0x00280011, BitsAllocated: 0x00280100, PixelRepresentation: 0x00280103, SliceThickness: 0x00180050,
  ImagePositionPatient: 0x00200032, PixelSpacing: 0x00280030, NumberOfFrames: 0x00280008, ImageType: 0x00080008, Modality: 0x00080060,
  StudyInstanceUID: 0x0020000d, WindowCenter: 0x00281050, GridFrameOffsetVector: 0x3004000c, DoseGridScaling: 0x3004000e,
  SmallestImagePixelValue: 0x00280106, LargestImagePixelValue: 0x00280107,
}

const reference = JSON.parse(
  python(
    `res = {}
for p in sys.argv[2:]:
    ds = pydicom.dcmread(p)
    out = {}
    for k in json.loads(sys.argv[1]):
        if k in ds and ds[k].value not in (None, ''):
            v = ds[k].value
            v = list(v) if isinstance(v, (list, pydicom.multival.MultiValue)) else [v]
            out[k] = [x if isinstance(x, (int, float)) else str(x) for x in v]
    res[p] = out
print(json.dumps(res))`,
    [JSON.stringify(KEYS), ...FILES],
  ),
) as Record<string, Record<string, (string | number)[]>>

test('numbers and strings agree with pydicom in little-endian, big-endian and implicit files', () => {
  let compared = 0
  for (const f of FILES) {
    const ds = readDicomBuffer(readFileSync(f)).dataset
    for (const [k, expected] of Object.entries(reference[f])) {
      const tag = TAGS[k]
      if (typeof expected[0] === 'number') {
        const got = getNumbers(ds, tag)
        assert.equal(got.length, expected.length, `${f} ${k}`)
        got.forEach((g, i) => assert.ok(Math.abs(g - (expected[i] as number)) < 1e-9 * Math.max(1, Math.abs(g)), `${f} ${k}[${i}]: ${g} vs ${expected[i]}`))
        assert.equal(getNumber(ds, tag), got[0])
      } else {
        assert.deepEqual(getStrings(ds, tag), expected.map((s) => String(s).trim()), `${f} ${k}`)
        assert.equal(getString(ds, tag), String(expected[0]).trim())
      }
      compared++
    }
  }
  assert.ok(compared > 40, `${compared} values compared`)
})

test('absent, empty and non-numeric values', () => {
  const ds = readDicomBuffer(readFileSync(`${TEST_FILES}/rtdose.dcm`)).dataset
  assert.equal(getString(ds, 0x00100021), undefined)
  assert.deepEqual(getStrings(ds, 0x00100021), [])
  assert.equal(getNumber(ds, 0x00280010 + 0x9999), undefined)
  // (0008,0050) AccessionNumber is present and empty.
  assert.equal(getString(ds, Tags.AccessionNumber), '')
  assert.deepEqual(getPersonName(ds, Tags.ReferringPhysicianName), [])
  assert.deepEqual(getTags(ds, 0x00280009), [0x3004000c])
  // IS '1A' in badVR.dcm is not a number: undefined, not 1.
  const bad = readDicomBuffer(readFileSync(`${TEST_FILES}/badVR.dcm`)).dataset
  assert.equal(getString(bad, Tags.NumberOfFrames), '1A')
  assert.equal(getNumber(bad, Tags.NumberOfFrames), undefined)
  assert.ok(Number.isNaN(getNumbers(bad, Tags.NumberOfFrames)[0]))
})

test('person name groups and trimming', () => {
  assert.deepEqual(parsePersonName('Wang^XiaoDong=王^小東='), { Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小東' })
  assert.deepEqual(parsePersonName('=山田^太郎'), { Ideographic: '山田^太郎' })
  assert.deepEqual(parsePersonName(''), {})
  const ds = readDicomBuffer(readFileSync(`${TEST_FILES}/CT_small.dcm`)).dataset
  assert.deepEqual(getPersonName(ds, Tags.PatientName), [{ Alphabetic: 'CompressedSamples^CT1' }])
})
