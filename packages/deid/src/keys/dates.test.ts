import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isKuraError } from '@kura/core'
import { shiftDA, shiftDT, shiftTemporal } from './dates.ts'

const badDate = (e: unknown) => isKuraError(e) && e.code === 'DEID_KEY_BAD_DATE'
const dayNo = (da: string) => Date.UTC(+da.slice(0, 4), +da.slice(4, 6) - 1, +da.slice(6, 8)) / 86_400_000

test('DA: month, year and leap-day boundaries', () => {
  assert.equal(shiftDA('20200301', -1), '20200229')
  assert.equal(shiftDA('20210301', -1), '20210228')
  assert.equal(shiftDA('19000301', -1), '19000228', '1900 is not a leap year')
  assert.equal(shiftDA('20000301', -1), '20000229', '2000 is a leap year')
  assert.equal(shiftDA('20200101', -1), '20191231')
  assert.equal(shiftDA('20191231', 1), '20200101')
  assert.equal(shiftDA('20240229', -366), '20230228')
  assert.equal(shiftDA('19000101', -1), '18991231')
  assert.equal(shiftDA('99991231', 0), '99991231')
  assert.throws(() => shiftDA('99991231', 1), badDate)
  assert.throws(() => shiftDA('00010101', -1), badDate)
})

test('DA: one offset preserves every interval', () => {
  const dates = ['19000101', '19991231', '20000229', '20040101', '20231130', '20240229', '20240301', '99900615']
  for (const days of [-365, -200, -59, -1, 1, 400]) {
    for (let i = 0; i < dates.length - 1; i++) {
      const a = dates[i]!
      const b = dates[i + 1]!
      assert.equal(dayNo(shiftDA(b, days)) - dayNo(shiftDA(a, days)), dayNo(b) - dayNo(a))
      assert.equal(dayNo(shiftDA(a, days)) - dayNo(a), days)
    }
  }
})

test('DA: ranges, open ranges, multi-values, padding, empty', () => {
  assert.equal(shiftDA('20200101-20200131', -10), '20191222-20200121')
  assert.equal(shiftDA('-20200101', -1), '-20191231')
  assert.equal(shiftDA('20200101-', -1), '20191231-')
  assert.equal(shiftDA('20200101\\20200301 ', -1), '20191231\\20200229')
  assert.equal(shiftDA('', -5), '')
})

test('DA: invalid values throw DEID_KEY_BAD_DATE with a truncated value', () => {
  for (const v of ['2020011', '20201301', '20200230', '20210229', '2020.01.01', 'abcdefgh', '20200101-20200102-20200103', '-', '00000101'])
    assert.throws(() => shiftDA(v, -1), badDate, v)
  assert.throws(() => shiftDA('9'.repeat(200), -1), (e: unknown) => badDate(e) && (e as Error).message.length < 200 && (e as Error).message.includes('…'))
})

test('DT: every precision, fractions and offsets; the time of day is kept', () => {
  assert.equal(shiftDT('20200301083000.123456+0900', -1), '20200229083000.123456+0900')
  assert.equal(shiftDT('20200101120000-0500', -1), '20191231120000-0500')
  assert.equal(shiftDT('202003010830', -1), '202002290830')
  assert.equal(shiftDT('2020030108', -1), '2020022908')
  assert.equal(shiftDT('20200301', -1), '20200229')
  assert.equal(shiftDT('202003', -1), '202002', 'YYYYMM: shifted from day 01, cut back to the month')
  assert.equal(shiftDT('2020', -1), '2019')
  assert.equal(shiftDT('2020+0900', -1), '2019+0900')
  assert.equal(shiftDT('20201231235960', 1), '20210101235960', 'leap second')
})

test('DT: ranges and multi-values; "-" is an offset sign when it parses as one', () => {
  assert.equal(shiftDT('20200101-20200201', -1), '20191231-20200131')
  assert.equal(shiftDT('2020-2021', -1), '2019-2020')
  assert.equal(shiftDT('20200101120000-0500-20200102120000-0500', -1), '20191231120000-0500-20200101120000-0500')
  assert.equal(shiftDT('-20200101', -1), '-20191231')
  assert.equal(shiftDT('20200101\\20200102', 1), '20200102\\20200103')
})

test('DT: invalid values throw', () => {
  for (const v of ['20200101250000', '20200101126000', '20200101120061', '20200101120000.1234567', '20200101+1500', '20200101-13000', '20200132', 'x', '202'])
    assert.throws(() => shiftDT(v, -1), badDate, v)
})

test('shiftTemporal: TM unchanged, other VRs refused', () => {
  assert.equal(shiftTemporal('TM', '083000.25', -100), '083000.25')
  assert.equal(shiftTemporal('DA', '20200301', -1), '20200229')
  assert.equal(shiftTemporal('DT', '2020', -1), '2019')
  assert.throws(() => shiftTemporal('LO', '20200101', -1), badDate)
})
