import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compileDateFormat, eraToGregorian, gregorianToEra } from './dates.ts'

test('era dates in the forms Japanese systems write them', () => {
  const era = compileDateFormat('era')
  const cases: Array<[string, string | undefined]> = [
    ['令和5年4月1日', '2023-04-01'],
    ['令和元年5月1日', '2019-05-01'],
    ['R05.04.01', '2023-04-01'],
    ['R5/4/1', '2023-04-01'],
    ['H31-04-30', '2019-04-30'],
    ['h31.4.30', '2019-04-30'],
    ['昭和55年3月1日', '1980-03-01'],
    ['昭和 55年 3月 1日', '1980-03-01'],
    ['Ｓ５５．０３．０１', '1980-03-01'],
    ['S64.01.07', '1989-01-07'],
    ['令和5年4月1日 9:05', '2023-04-01T09:05'],
    ['平成31年5月1日', undefined], // Heisei ended on 30 April 2019
    ['H1.1.7', undefined], // Heisei began on 8 January 1989
    ['令和5年2月29日', undefined],
    ['2023/04/01', undefined],
  ]
  for (const [text, want] of cases) assert.equal(era(text), want, text)
})

test('pattern formats', () => {
  assert.equal(compileDateFormat('yyyy/MM/dd')('2023/04/01'), '2023-04-01')
  assert.equal(compileDateFormat('yyyy/MM/dd')('2023/4/1'), undefined)
  assert.equal(compileDateFormat('yyyy/M/d')('2023/4/1'), '2023-04-01')
  assert.equal(compileDateFormat('yyyyMMdd')('20230401'), '2023-04-01')
  assert.equal(compileDateFormat('yyyyMMdd')('20231345'), undefined)
  assert.equal(compileDateFormat('yyyy/M/d H:mm')('2023/4/1 9:05'), '2023-04-01T09:05')
  assert.equal(compileDateFormat('yyyyMMdd HHmm')('20230401 0905'), '2023-04-01T09:05')
  assert.equal(compileDateFormat('yyyy年M月d日')('２０２３年４月１日'), '2023-04-01')
  assert.throws(() => compileDateFormat('MM/dd'), /needs yyyy/)
})

test('era conversion both ways at era boundaries', () => {
  assert.deepEqual(eraToGregorian('令和', 1, 5, 1), [2019, 5, 1])
  assert.equal(eraToGregorian('R', 1, 4, 30), undefined)
  assert.deepEqual(gregorianToEra(2019, 4, 30), { kanji: '平成', letter: 'H', year: 31 })
  assert.deepEqual(gregorianToEra(1989, 1, 7), { kanji: '昭和', letter: 'S', year: 64 })
})
