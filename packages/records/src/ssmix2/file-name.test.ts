/** SS-MIX2 file names: the seven parts, "-" for absent ones, and a reason naming the wrong part (never the ID). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatSsmix2FileName, parseSsmix2FileName, ssmix2Directory, timestampKey } from './file-name.ts'

test('parses the seven parts, with "-" for absent date, order number and department', () => {
  const r = parseSsmix2FileName('1234567890_-_ADT-00_999999999999999_20240105101010123_-_1')
  assert.deepEqual(r, { ok: true, name: { patientId: '1234567890', date: undefined, dataType: 'ADT-00', orderNumber: '999999999999999', timestamp: '20240105101010123', department: undefined, flag: '1' } })
  const o = parseSsmix2FileName('1234567890_20240105_OMG-12_000000000001234_20240105113000000_13_0')
  assert.ok(o.ok)
  assert.equal(o.name.date, '20240105')
  assert.equal(o.name.flag, '0')
  assert.equal(formatSsmix2FileName(o.name), '1234567890_20240105_OMG-12_000000000001234_20240105113000000_13_0')
  assert.equal(ssmix2Directory(o.name), '123/456/1234567890/20240105/OMG-12')
  assert.ok(parseSsmix2FileName('1234567890_20240105_OMD_-_20240105113000_01_1').ok, 'OMD has no suffix; 14-digit timestamps accepted')
  const underscore = parseSsmix2FileName('AB_123_20240105_ADT-12_-_20240105113000000_01_1')
  assert.ok(underscore.ok && underscore.name.patientId === 'AB_123')
  assert.ok(timestampKey('20240105113000') === '20240105113000000')
})

test('each wrong part is named, and the patient ID is never echoed', () => {
  const bad: Array<[string, RegExp]> = [
    ['1234567890_20240105_ADT-12_20240105113000000_01_1', /6 "_"-separated parts/],
    ['1234567890_20241305_ADT-12_-_20240105113000000_01_1', /date part/],
    ['1234567890_20240105_adt12_-_20240105113000000_01_1', /data type part/],
    ['1234567890_20240105_ADT-12_-_2024010511_01_1', /timestamp part/],
    ['1234567890_20240105_ADT-12_-_20240105113000000_01_2', /condition flag/],
    ['1234567890_20240105_ADT-12__20240105113000000_01_1', /order number part is empty/],
    ['_20240105_ADT-12_-_20240105113000000_01_1', /empty patient ID/],
  ]
  for (const [name, re] of bad) {
    const r = parseSsmix2FileName(name)
    assert.ok(!r.ok, name)
    assert.match(r.reason, re)
    assert.ok(!r.reason.includes('1234567890'))
  }
})
