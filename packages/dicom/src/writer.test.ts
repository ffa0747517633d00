import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Tags } from './dictionary.ts'
import { toDicomJson } from './json.ts'
import { readDicomBuffer } from './reader.ts'
import { python } from './testkit.ts'
import { TransferSyntax } from './transfer-syntax.ts'
import { getNumber, getNumbers, getPersonName, getString, getStrings, getTags } from './values.ts'
import { KURA_IMPLEMENTATION_CLASS_UID, writeDicom, type WriteElement } from './writer.ts'

const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.7'
const SOP_INSTANCE = '2.25.123456789012345678'

function sample(): WriteElement[] {
  const pixels = new Uint8Array(4 * 4 * 2).map((_, i) => i)
  return [
    // Deliberately unsorted: the writer sorts by tag.
    { tag: Tags.PixelData, vr: 'OW', value: pixels },
    { tag: Tags.PatientName, vr: 'PN', value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }] },
    { tag: Tags.SpecificCharacterSet, vr: 'CS', value: ['', 'ISO 2022 IR 87'] },
    { tag: Tags.SOPClassUID, vr: 'UI', value: SOP_CLASS },
    { tag: Tags.SOPInstanceUID, vr: 'UI', value: SOP_INSTANCE },
    { tag: Tags.ImageType, vr: 'CS', value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    { tag: Tags.Modality, vr: 'CS', value: 'CT' },
    { tag: Tags.StudyDescription, vr: 'LO', value: '胸部 CT' },
    { tag: Tags.AccessionNumber, vr: 'SH', value: null },
    { tag: 0x00200032, vr: 'DS', value: [-158.135803, 0.30000001192092896, 1e-7] },
    { tag: Tags.InstanceNumber, vr: 'IS', value: 7 },
    { tag: Tags.Rows, vr: 'US', value: 4 },
    { tag: Tags.Columns, vr: 'US', value: 4 },
    { tag: Tags.BitsAllocated, vr: 'US', value: 16 },
    { tag: Tags.SamplesPerPixel, vr: 'US', value: 1 },
    // Signed pixels: in implicit VR, US-or-SS elements such as (0028,0106) then read as SS.
    { tag: Tags.PixelRepresentation, vr: 'US', value: 1 },
    { tag: 0x00281050, vr: 'DS', value: ['40', '400'] },
    { tag: 0x00180088, vr: 'DS', value: '2.5' },
    { tag: 0x00280106, vr: 'SS', value: -1024 },
    { tag: 0x00189327, vr: 'FD', value: 123.25 },
    { tag: 0x00189306, vr: 'FD', value: [0.5, 1.5] },
    { tag: 0x00181088, vr: 'IS', value: '72' },
    { tag: 0x00280009, vr: 'AT', value: [0x00181063] },
    { tag: 0x00091010, vr: 'LO', value: 'ACME 1.0' },
    { tag: 0x00090010, vr: 'LO', value: 'ACME' },
    { tag: 0x00091011, vr: 'OB', value: new Uint8Array([1, 2, 3]) },
    {
      tag: 0x00081140,
      vr: 'SQ',
      value: [
        [
          { tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
          { tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5' },
        ],
        [
          // This item has its own character set.
          { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
          { tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.4' },
          { tag: 0x0040a160, vr: 'UT', value: 'Ünïcödé ✓ 王小東' },
          { tag: 0x0040a730, vr: 'SQ', value: [[{ tag: 0x0040a040, vr: 'CS', value: 'TEXT' }]] },
        ],
      ],
    },
    { tag: 0x00400275, vr: 'SQ', value: [] },
  ]
}

function tmp(): { dir: string; file: (name: string, b: Uint8Array) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'kura-dicom-writer-'))
  return { dir, file: (name, b) => (writeFileSync(join(dir, name), b), join(dir, name)) }
}

for (const ts of [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.DeflatedExplicitVRLittleEndian]) {
  test(`written ${ts} reads back identically here, in pydicom and in DCMTK`, () => {
    const bytes = writeDicom({ dataset: sample() }, { transferSyntaxUID: ts })
    // Part 10 framing.
    assert.equal(Buffer.from(bytes.subarray(128, 132)).toString('latin1'), 'DICM')
    assert.ok(bytes.subarray(0, 128).every((b) => b === 0))
    const p = readDicomBuffer(bytes)
    assert.equal(p.transferSyntaxUID, ts)
    assert.equal(p.hasPreamble, true)
    const groupLength = getNumber(p.meta, Tags.FileMetaInformationGroupLength)!
    assert.equal(p.datasetOffset, 132 + 12 + groupLength, 'meta group length covers exactly the meta elements')
    assert.equal(getString(p.meta, Tags.MediaStorageSOPClassUID), SOP_CLASS)
    assert.equal(getString(p.meta, Tags.MediaStorageSOPInstanceUID), SOP_INSTANCE)
    assert.equal(getString(p.meta, Tags.ImplementationClassUID), KURA_IMPLEMENTATION_CLASS_UID)
    assert.equal(getString(p.meta, Tags.ImplementationVersionName), 'KURA_0.1')

    const ds = p.dataset
    const tags = [...ds.elements.keys()]
    assert.deepEqual(tags, [...tags].sort((a, b) => a - b), 'ascending tag order')
    assert.deepEqual(getPersonName(ds, Tags.PatientName), [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }])
    assert.equal(getString(ds, Tags.StudyDescription), '胸部 CT')
    assert.deepEqual(getStrings(ds, Tags.ImageType), ['ORIGINAL', 'PRIMARY', 'AXIAL'])
    assert.equal(getString(ds, Tags.AccessionNumber), '')
    assert.deepEqual(getNumbers(ds, 0x00200032), [-158.135803, 0.30000001192093, 1e-7])
    assert.equal(getNumber(ds, Tags.InstanceNumber), 7)
    assert.equal(getNumber(ds, 0x00280106), -1024)
    assert.deepEqual(getNumbers(ds, 0x00189306), [0.5, 1.5])
    assert.deepEqual(getTags(ds, 0x00280009), [0x00181063])
    assert.equal(getString(ds, Tags.SOPInstanceUID), SOP_INSTANCE)
    const item = ds.elements.get(0x00081140)!.items![1]
    assert.deepEqual(item.charset, ['ISO_IR 192'])
    assert.equal(getString(item, 0x0040a160), 'Ünïcödé ✓ 王小東')
    assert.equal(ds.elements.get(0x00400275)!.items!.length, 0)
    // Odd lengths were padded: UI with NUL, text with space, OB with NUL.
    const uid = ds.elements.get(Tags.SOPInstanceUID)!.bytes!
    assert.equal(uid.length % 2, 0)
    assert.equal(uid[uid.length - 1], 0)
    const ob = ds.elements.get(0x00091011)!.bytes!
    assert.deepEqual([...ob], [1, 2, 3, 0])

    const t = tmp()
    try {
      const path = t.file('out.dcm', bytes)
      const py = JSON.parse(python(`ds = pydicom.dcmread(sys.argv[1])
print(json.dumps({'json': ds.to_json_dict(), 'ts': str(ds.file_meta.TransferSyntaxUID), 'gl': ds.file_meta.FileMetaInformationGroupLength, 'pn': list(ds.PatientName.components)}))`, [path]))
      assert.equal(py.ts, ts)
      assert.equal(py.gl, groupLength)
      assert.deepEqual(py.pn, ['Yamada^Tarou', '山田^太郎', 'やまだ^たろう'])
      const ours = toDicomJson(ds)
      for (const key of ['00080008', '00081030', '00200032', '00200013', '00280106', '00189306', '00280009', '00100010']) {
        assert.deepEqual(ours[key].Value, py.json[key].Value, key)
      }
      assert.equal(py.json['00081140'].Value[1]['0040A160'].Value[0], 'Ünïcödé ✓ 王小東')
      const dump = spawnSync('dcmdump', ['+L', path], { encoding: 'utf8' })
      assert.equal(dump.status, 0, dump.stderr)
      assert.doesNotMatch(dump.stderr + dump.stdout, /^(E|W):/m)
      assert.match(dump.stdout, /\(0020,0013\) IS \[7\]/)
    } finally {
      rmSync(t.dir, { recursive: true, force: true })
    }
  })
}

test('encapsulated pixel data is written as an empty offset table and one item per fragment', () => {
  const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9])
  const ds = sample().filter((e) => e.tag !== Tags.PixelData)
  ds.push({ tag: Tags.PixelData, vr: 'OB', value: [jpeg, jpeg.subarray(0, 4)] })
  const bytes = writeDicom({ dataset: ds }, { transferSyntaxUID: TransferSyntax.JPEGBaseline8Bit })
  const p = readDicomBuffer(bytes)
  const px = p.dataset.elements.get(Tags.PixelData)!
  assert.deepEqual(px.fragments!.map((f) => f.length), [0, 8, 4])
  assert.deepEqual([...bytes.subarray(px.fragments![1].offset, px.fragments![1].offset + 8)], [...jpeg, 0])
  const t = tmp()
  try {
    const frags = JSON.parse(python(`from pydicom.encaps import generate_pixel_data_fragment
from pydicom.filebase import DicomBytesIO
ds = pydicom.dcmread(sys.argv[1]); fp = DicomBytesIO(ds.PixelData); fp.is_little_endian = True
fp.read(8)
print(json.dumps([len(f) for f in generate_pixel_data_fragment(fp)]))`, [t.file('jpeg.dcm', bytes)]))
    assert.deepEqual(frags, [8, 4])
  } finally {
    rmSync(t.dir, { recursive: true, force: true })
  }
})

test('writer refusals: missing SOP UIDs, big endian, values too long for their VR, wrong value types', () => {
  const noUid = sample().filter((e) => e.tag !== Tags.SOPInstanceUID)
  assert.throws(() => writeDicom({ dataset: noUid }), (e: any) => e.code === 'DICOM_BAD_VALUE')
  assert.throws(() => writeDicom({ dataset: sample() }, { transferSyntaxUID: TransferSyntax.ExplicitVRBigEndian }), (e: any) => e.code === 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX')
  const long = [...sample(), { tag: 0x00081030, vr: 'LO' as const, value: 'x'.repeat(70000) }]
  assert.throws(() => writeDicom({ dataset: long.filter((e, i, a) => a.findLastIndex((x) => x.tag === e.tag) === i) }), (e: any) => e.code === 'DICOM_BAD_VALUE')
  assert.throws(() => writeDicom({ dataset: [...sample(), { tag: 0x00280008, vr: 'IS', value: 1.5 }] }), (e: any) => e.code === 'DICOM_BAD_VALUE')
  // With the default repertoire, kanji cannot be written.
  const ascii = sample().filter((e) => e.tag !== Tags.SpecificCharacterSet && e.tag !== 0x00081140)
  assert.throws(() => writeDicom({ dataset: ascii }), (e: any) => e.code === 'DICOM_UNENCODABLE_TEXT')
})

test('meta overrides and DS formatting within 16 characters', () => {
  const bytes = writeDicom({ meta: { SourceApplicationEntityTitle: 'KURA', MediaStorageSOPClassUID: '1.2.3' }, dataset: [...sample(), { tag: 0x00181050, vr: 'DS', value: [Math.PI, 123456789.123456789, -0.000012345678912345] }] })
  const p = readDicomBuffer(bytes)
  assert.equal(getString(p.meta, Tags.SourceApplicationEntityTitle), 'KURA')
  assert.equal(getString(p.meta, Tags.MediaStorageSOPClassUID), '1.2.3')
  const ds = getStrings(p.dataset, 0x00181050)
  assert.ok(ds.every((s) => s.length <= 16), ds.join(','))
  const nums = getNumbers(p.dataset, 0x00181050)
  assert.ok(Math.abs(nums[0] - Math.PI) < 1e-12 && Math.abs(nums[1] - 123456789.123456789) < 1e-5 && Math.abs(nums[2] + 0.000012345678912345) < 1e-15)
})
