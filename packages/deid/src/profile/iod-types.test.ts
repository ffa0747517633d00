import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BufferSource } from '@kura/core'
import { Tags, getItems, readDicomBuffer, writeDicom, type WriteElement } from '@kura/dicom'
import { BASIC_POLICY } from '../policy/policy.ts'
import { deidentify } from '../engine/deidentify.ts'
import { actionFor } from './action.ts'
import { IOD_TYPES, iodAttributeType } from './iod-types.ts'
import { ruleFor } from './table.ts'

const CT = '1.2.840.10008.5.1.4.1.1.2'
const ES = '1.2.840.10008.5.1.4.1.1.77.1.1'
const NONE = new Set<never>()

test('every attribute in the IOD table has a compound Table E.1-1 code (otherwise the type changes nothing)', () => {
  for (const [sop, types] of IOD_TYPES) {
    for (const tag of types.keys()) {
      const code = ruleFor(tag)?.basic ?? ''
      assert.ok(code.includes('/'), `${sop} ${tag.toString(16)}: basic code ${code} is not compound`)
    }
  }
})

test('compound codes resolve by the IOD type; unknown IODs and attributes keep the strictest component', () => {
  assert.equal(iodAttributeType(ES, 0x00080033), '1C')
  assert.equal(iodAttributeType(`${ES}\0`, 0x00080033), '1C')
  assert.equal(iodAttributeType(CT, 0x00080033), '2C')
  assert.equal(iodAttributeType(CT, 0x00400555), undefined) // not in the CT Image IOD
  assert.equal(iodAttributeType('1.2.3', 0x00080033), undefined)
  assert.equal(iodAttributeType(undefined, 0x00080033), undefined)
  // Content Time Z/D: 1C in VL Image → D, 2C in General Image → Z.
  assert.equal(actionFor(0x00080033, NONE, { attributeType: iodAttributeType(ES, 0x00080033) }), 'D')
  assert.equal(actionFor(0x00080033, NONE, { attributeType: iodAttributeType(CT, 0x00080033) }), 'Z')
  // Acquisition Context Sequence X/Z: type 2 in VL Endoscopic → Z; elsewhere X.
  assert.equal(actionFor(0x00400555, NONE, { attributeType: iodAttributeType(ES, 0x00400555) }), 'Z')
  assert.equal(actionFor(0x00400555, NONE), 'X')
  // Station Name X/Z/D: type 3 → X, the same as without a type.
  assert.equal(actionFor(0x00081010, NONE, { attributeType: iodAttributeType(CT, 0x00081010) }), 'X')
})

async function run(dataset: WriteElement[]): Promise<ReturnType<typeof readDicomBuffer>> {
  const buf = writeDicom({ meta: { MediaStorageSOPClassUID: ES, MediaStorageSOPInstanceUID: '1.2.3.9' }, dataset })
  const { output } = await deidentify(readDicomBuffer(buf), new BufferSource(buf), { policy: BASIC_POLICY, secret: new Uint8Array(32).fill(1), collection: 'c' })
  const parts: Uint8Array[] = []
  for await (const p of output) parts.push(p)
  return readDicomBuffer(new Uint8Array(Buffer.concat(parts)))
}

test('engine: a VL Endoscopic object keeps a dummy Content Time and an empty Acquisition Context Sequence; nested ones stay strict', async () => {
  const nested = (): WriteElement[][] => [[{ tag: 0x00080033, vr: 'TM', value: '101010' }, { tag: 0x00400555, vr: 'SQ', value: [] }]]
  const el: WriteElement[] = [
    { tag: 0x00080016, vr: 'UI', value: ES },
    { tag: 0x00080018, vr: 'UI', value: '1.2.3.9' },
    { tag: 0x00080033, vr: 'TM', value: '101010' },
    { tag: 0x00081115, vr: 'SQ', value: nested() },
    { tag: Tags.PatientID, vr: 'LO', value: 'P1' },
    { tag: 0x00400555, vr: 'SQ', value: [[{ tag: 0x00080100, vr: 'SH', value: 'X' }]] },
  ]
  const out = await run(el)
  const ct = out.dataset.elements.get(0x00080033)
  assert.ok(ct?.bytes && Buffer.from(ct.bytes).toString('latin1').trim() === '000000', 'Content Time is a dummy time')
  const acs = out.dataset.elements.get(0x00400555)
  assert.ok(acs, 'Acquisition Context Sequence is kept (type 2)')
  assert.equal(acs.items?.length ?? 0, 0, 'and emptied')
  const item = getItems(out.dataset, 0x00081115)[0]!
  assert.equal(item.elements.get(0x00080033)?.length, 0, 'nested Content Time: Z (no IOD type inside items)')
  assert.equal(item.elements.get(0x00400555), undefined, 'nested Acquisition Context Sequence: X')
})
