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

/** The parser as it was written first (split into parts, regular expressions): what the char-code one must equal. */
function plainParse(fileName: string): ReturnType<typeof parseSsmix2FileName> {
  const validDate = (s: string) => /^\d{8}$/.test(s) && Number(s) >= 18000000 && realDay(+s.slice(0, 4), +s.slice(4, 6), +s.slice(6, 8))
  const parts = fileName.split('_')
  if (parts.length < 7) return { ok: false, reason: `file name has ${parts.length} "_"-separated parts; SS-MIX2 needs 7 (ID_date_type_order_timestamp_department_flag)` }
  const k = parts.length - 6
  const [date, dataType, orderNumber, timestamp, department, flag] = parts.slice(k) as [string, string, string, string, string, string]
  const patientId = parts.slice(0, k).join('_')
  if (!patientId) return { ok: false, reason: 'file name has an empty patient ID' }
  if (date !== '-' && !validDate(date)) return { ok: false, reason: 'date part is neither YYYYMMDD nor "-"' }
  if (!/^[A-Z]{3}(?:-[0-9A-Z]{2})?$/.test(dataType)) return { ok: false, reason: 'data type part is not like "ADT-00" or "OMD"' }
  if (!orderNumber) return { ok: false, reason: 'order number part is empty (use "-" when there is none)' }
  if (!/^\d{14}(?:\d{3})?$/.test(timestamp) || !validDate(timestamp.slice(0, 8))) return { ok: false, reason: 'timestamp part is not YYYYMMDDHHMMSSfff' }
  if (!department) return { ok: false, reason: 'department part is empty (use "-" when there is none)' }
  if (flag !== '0' && flag !== '1') return { ok: false, reason: 'condition flag is neither 1 (valid) nor 0 (invalid)' }
  const name = { patientId, date: date === '-' ? undefined : date, dataType, orderNumber: orderNumber === '-' ? undefined : orderNumber, timestamp, department: department === '-' ? undefined : department, flag: flag as '0' | '1' }
  return { ok: true, name }
}

function realDay(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d))
  return y >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d
}

test('the char-code parser reads every name as splitting it and matching regular expressions does', () => {
  const good = ['1234567890_20240105_OMG-12_000000000001234_20240105113000000_13_1', 'AB_1_2_-_ADT-00_999999999999999_20240229000000_-_0', '_20240105_OMD_-_20240105113000_01_1']
  const alphabet = ['_', '-', '0', '1', '2', '9', 'A', 'Z', 'a', '１', '_', '__', '2024', '0229', '1231', '1800', '1799', 'OMG-1', '12345678901234567']
  let seed = 11
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n)
  const names = [...good, '', '_', '______', '_______', 'a_b_c_d_e_f', 'a__ADT-00_x_20240105000000_-_1']
  for (let i = 0; i < 20000; i++) {
    let s = good[rnd(good.length)]!
    for (let j = rnd(4); j >= 0; j--) {
      const at = rnd(s.length + 1)
      s = s.slice(0, at) + (rnd(3) === 0 ? '' : alphabet[rnd(alphabet.length)]) + s.slice(at + rnd(3))
    }
    names.push(s)
  }
  for (const n of names) assert.deepEqual(parseSsmix2FileName(n), plainParse(n), n)
})
